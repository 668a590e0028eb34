/** The adapter's table names for one prefix. */
export interface Tables {
  readonly users: string;
  readonly points: string;
  readonly badges: string;
  readonly claims: string;
  readonly idempotency: string;
  readonly events: string;
  readonly boardUsers: string;
  readonly boards: string;
  readonly boardEntries: string;
  readonly boardScores: string;
  /** Entry and distinct-score counts per range of scores, in levels (see `leaderboards.ts`). */
  readonly boardBuckets: string;
  readonly analyticsBuckets: string;
  readonly analyticsPoints: string;
  readonly analyticsUsers: string;
  /** Kysely's migration bookkeeping, per prefix so installations migrate independently. */
  readonly migrations: string;
  readonly migrationsLock: string;
}

/** Table names under `prefix`. */
export function tableNames(prefix: string): Tables {
  return {
    users: `${prefix}users`,
    points: `${prefix}points`,
    badges: `${prefix}badges`,
    claims: `${prefix}claims`,
    idempotency: `${prefix}idempotency`,
    events: `${prefix}events`,
    boardUsers: `${prefix}board_users`,
    boards: `${prefix}boards`,
    boardEntries: `${prefix}board_entries`,
    boardScores: `${prefix}board_scores`,
    boardBuckets: `${prefix}board_buckets`,
    analyticsBuckets: `${prefix}analytics_buckets`,
    analyticsPoints: `${prefix}analytics_points`,
    analyticsUsers: `${prefix}analytics_users`,
    migrations: `${prefix}migrations`,
    migrationsLock: `${prefix}migrations_lock`,
  };
}
