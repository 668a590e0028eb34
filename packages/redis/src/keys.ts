/**
 * The key layout. Keys of one user (or one board, or one analytics user) carry that id in a
 * `{hash tag}`, so they would share a Redis Cluster slot. User ids, metric and badge names are
 * validated by the engine (no braces), so the tag is always the id itself.
 */
export const userKeys = (prefix: string, userId: string) => {
  const base = `${prefix}u:{${userId}}:`;
  return {
    /** hash: `p:<metric>` totals, `l:<metric>` levels, `b:<badge>` awardedAt, `c` createdAt, `u` updatedAt */
    state: `${base}state`,
    /** hash: idempotency key → `expiresAt|outcome` */
    idem: `${base}idem`,
    /** sorted set: idempotency key scored by expiresAt, for cleanup */
    idemExpiry: `${base}idemx`,
    /** set: claimOnce keys */
    claims: `${base}claims`,
    /** stream: the event log (fields t type, at, a action, j JSON) */
    events: `${base}events`,
  };
};

/** sorted set: user id scored by its listing sequence */
export const usersKey = (prefix: string) => `${prefix}users`;
/** string counter: the last listing sequence handed out */
export const usersSeqKey = (prefix: string) => `${prefix}users:seq`;
/** sorted set: level (zero-padded) scored by the fewest points for it */
export const levelsKey = (prefix: string, digest: string) => `${prefix}levels:${digest}`;

/** The five keys of a board; the Lua side builds the same names in `boardKeys`. */
export const boardKeys = (prefix: string, board: string) => {
  const base = `${prefix}lb:{${board}}:`;
  return {
    /** sorted set: user → score */
    scores: `${base}s`,
    /** sorted set, all scores 0: ordinal member (score, stamp, user) in lexicographic order */
    order: `${base}o`,
    /** hash: user → tie-break stamp */
    stamps: `${base}m`,
    /** sorted set: distinct scores, for dense ranks */
    distinct: `${base}d`,
    /** hash: score → number of users holding it */
    counts: `${base}c`,
  };
};

/** string counter: the store-wide tie-break stamp */
export const boardSeqKey = (prefix: string) => `${prefix}lb:seq`;
/** sorted set: boards a user is on, scored by the board's expiry (+inf for none) */
export const userBoardsKey = (prefix: string, userId: string) => `${prefix}lbu:{${userId}}`;

/** An analytics bucket's keys: `users` (set of user ids) and `counters` (hash). */
export const bucketKeys = (prefix: string, granularity: string, period: string) => ({
  users: `${prefix}an:${granularity}:${period}:u`,
  counters: `${prefix}an:${granularity}:${period}:h`,
});
/** set: `<granularity>:<period>` of every bucket the user is counted in, for forgetUser */
export const analyticsUserKey = (prefix: string, userId: string) => `${prefix}anu:{${userId}}`;
