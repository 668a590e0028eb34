import {
  GamifyError,
  type AwardOutcome,
  type AwardRequest,
  type EventPage,
  type GamifyEvent,
  type LeaderboardStore,
  type Storage,
  type UserPage,
  type UserState,
} from "@gamifykit/core";
import { closedError, createConnection, type Connection } from "./connection.js";
import { boardKeys, boardSeqKey, levelsKey, userBoardsKey, userKeys, usersKey, usersSeqKey } from "./keys.js";
import { expiryArg, leaderboardConnection } from "./leaderboards.js";
import { levelTable, levelTableCommands, type LevelTable } from "./levels.js";
import type { RedisStorageOptions } from "./options.js";
import {
  appendEventsScript,
  applyAwardsScript,
  awardBadgeScript,
  claimOnceScript,
  countEventsScript,
  deleteUserScript,
  revokeBadgeScript,
} from "./scripts/storage.js";

const DAY_MS = 86_400_000;
/** Reloads of a lost level table before giving up (another process may be reloading too). */
const LEVEL_RELOADS = 3;
/** Board key names kept per storage before the cache starts over. */
const BOARD_KEY_CACHE = 10_000;

/**
 * A {@link Storage} on Redis. Every award is one EVALSHA of a Lua script that checks idempotency
 * keys, updates totals and levels, appends the points and level events to the user's event
 * stream and, with `leaderboards`, moves the award's boards, atomically.
 *
 * @example
 * const gk = createGamify({ storage: redisStorage({ url: "redis://localhost:6379" }) });
 * // Boards in the same round trip (or use redisStores):
 * const leaderboardStore = redisLeaderboards({ client });
 * const gk2 = createGamify({ storage: redisStorage({ client, leaderboards: leaderboardStore }), leaderboardStore });
 */
export function redisStorage(options: RedisStorageOptions): Storage {
  return createRedisStorage(createConnection(options, "redisStorage"), options);
}

/** The storage on a given connection; {@link redisStores} shares one connection among stores. */
export function createRedisStorage(connection: Connection, options: RedisStorageOptions): Storage {
  const ttl = options.idempotencyTtlMs ?? DAY_MS;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new GamifyError("INVALID_ARGUMENT", `idempotencyTtlMs must be a positive integer; got ${String(ttl)}.`, { details: { field: "idempotencyTtlMs" } });
  }
  const { prefix } = connection;
  const leaderboards = checkLeaderboards(options.leaderboards, connection);
  const users = usersKey(prefix);
  const seq = usersSeqKey(prefix);
  const boardSeq = boardSeqKey(prefix);
  let closed = false;
  connection.acquire();

  const open = (): void => {
    if (closed) throw closedError("storage");
  };

  // Concurrent awards that all find a curve missing share one load instead of each sending it.
  const loading = new Map<string, Promise<void>>();
  const loadLevels = (key: string, table: LevelTable): Promise<void> => {
    let pending = loading.get(key);
    if (pending === undefined) {
      pending = connection
        .run("loading a level table", async (c) => {
          const replies = await c.multi(levelTableCommands(table, key)).exec();
          const failed = replies?.find(([error]) => error !== null);
          if (replies === null || failed !== undefined) throw failed?.[0] ?? new Error("the transaction was discarded");
        })
        .finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    return pending;
  };

  // Key names every award would otherwise rebuild: per level curve, and per board (bounded: period
  // boards come and go).
  const levelKeyNames = new WeakMap<LevelTable, string>();
  const levelKeyOf = (table: LevelTable): string => {
    let key = levelKeyNames.get(table);
    if (key === undefined) levelKeyNames.set(table, (key = levelsKey(prefix, table.digest)));
    return key;
  };
  const boardKeyNames = new Map<string, readonly string[]>();
  const boardKeysOf = (board: string): readonly string[] => {
    let keys = boardKeyNames.get(board);
    if (keys === undefined) {
      if (boardKeyNames.size >= BOARD_KEY_CACHE) boardKeyNames.clear();
      const bk = boardKeys(prefix, board);
      boardKeyNames.set(board, (keys = [bk.scores, bk.order, bk.stamps, bk.distinct, bk.counts]));
    }
    return keys;
  };

  return {
    name: "redis",
    ...(leaderboards === undefined ? {} : { leaderboards }),

    async applyAwards(userId: string, requests: readonly AwardRequest[], now: number): Promise<AwardOutcome[]> {
      open();
      if (requests.length === 0) return [];
      // Level tables and boards are numbered in order of first use; each board has five keys (see
      // the script). A call names a few curves at most (one per metric), so indexOf finds them.
      const levelKeys: string[] = [];
      const tables: LevelTable[] = [];
      const boardIndex = new Map<string, number>();
      const boardKeyList: string[] = [];
      const perRequest: (string | number)[] = [];
      for (const r of requests) {
        let levelIndex = 0;
        if (r.level) {
          const table = levelTable(r.level);
          const key = levelKeyOf(table);
          levelIndex = levelKeys.indexOf(key) + 1;
          if (levelIndex === 0) {
            tables.push(table);
            levelIndex = levelKeys.push(key);
          }
        }
        const boards = r.boards ?? [];
        perRequest.push(r.metric, r.delta, r.floor ?? "", levelIndex, r.level?.followDown ? "1" : "0", r.idempotencyKey ?? "");
        perRequest.push(r.event.type, r.event.at, r.event.id, eventHead(r.event), boards.length);
        for (const { board, expiresAt } of boards) {
          let index = boardIndex.get(board);
          if (index === undefined) {
            boardIndex.set(board, (index = boardIndex.size + 1));
            for (const key of boardKeysOf(board)) boardKeyList.push(key);
          }
          perRequest.push(index, expiryArg(expiresAt));
        }
      }
      const args: (string | number)[] = [userId, now, now + ttl, ttl, requests.length, levelKeys.length, boardIndex.size];
      for (const name of boardIndex.keys()) args.push(name);
      for (const arg of perRequest) args.push(arg);
      const k = userKeys(prefix, userId);
      const keys = [k.state, k.idem, k.idemExpiry, k.events, users, seq, boardSeq, userBoardsKey(prefix, userId)];
      for (const key of levelKeys) keys.push(key);
      for (const key of boardKeyList) keys.push(key);
      for (let attempt = 0; ; attempt++) {
        const reply = (await connection.eval(applyAwardsScript, keys, args)) as (string | number)[];
        if (reply[0] === "OK") return parseOutcomes(reply, requests);
        if (reply[0] === "OUT_OF_RANGE") {
          const [, metric, total, delta] = reply;
          throw new GamifyError(
            "OUT_OF_RANGE",
            `Awarding ${delta} ${metric} to ${userId} would leave the safe-integer range (total ${total}); nothing was changed.`,
            { details: { userId, metric, total: Number(total), delta: Number(delta) } },
          );
        }
        if (reply[0] === "BOARD_OUT_OF_RANGE") {
          const [, board, value] = reply;
          throw new GamifyError(
            "OUT_OF_RANGE",
            `Awarding to ${userId} would take their score on board ${board} out of the safe-integer range (got ${value}); nothing was changed.`,
            { details: { userId, board, value } },
          );
        }
        const key = levelKeys[Number(reply[1]) - 1];
        const table = tables[Number(reply[1]) - 1];
        if (reply[0] !== "NOLEVELS" || key === undefined || table === undefined || attempt >= LEVEL_RELOADS) {
          throw new GamifyError("STORAGE_UNAVAILABLE", `Redis applyAwards returned an unexpected reply (${String(reply[0])}); check that nothing else writes under the key prefix ${JSON.stringify(prefix)}.`);
        }
        await loadLevels(key, table);
      }
    },

    async getUser(userId: string): Promise<UserState | null> {
      open();
      const hash = await connection.run("getUser", (c) => c.hgetall(userKeys(prefix, userId).state));
      if (hash["c"] === undefined) return null;
      const points: Record<string, number> = {};
      const badges: Record<string, { awardedAt: number }> = {};
      const levels: Record<string, number> = {};
      for (const [field, value] of Object.entries(hash)) {
        const name = field.slice(2);
        if (field.startsWith("p:")) points[name] = Number(value);
        else if (field.startsWith("l:")) levels[name] = Number(value);
        else if (field.startsWith("b:")) badges[name] = { awardedAt: Number(value) };
      }
      return { userId, points, badges, levels, createdAt: Number(hash["c"]), updatedAt: Number(hash["u"]) };
    },

    async awardBadge(userId: string, badge: string, event: GamifyEvent) {
      open();
      const k = userKeys(prefix, userId);
      const [awarded, at] = (await connection.eval(awardBadgeScript, [k.state, k.events, users, seq], [userId, badge, event.at, event.type, JSON.stringify(event)])) as [number, string];
      return { awarded: awarded === 1, awardedAt: Number(at) };
    },

    async revokeBadge(userId: string, badge: string, event: GamifyEvent) {
      open();
      const k = userKeys(prefix, userId);
      return (await connection.eval(revokeBadgeScript, [k.state, k.events], [badge, event.at, event.type, JSON.stringify(event)])) === 1;
    },

    async claimOnce(userId: string, key: string, at: number) {
      open();
      const k = userKeys(prefix, userId);
      return (await connection.eval(claimOnceScript, [k.state, k.claims, users, seq], [userId, key, at])) === 1;
    },

    async appendEvents(events: readonly GamifyEvent[]) {
      open();
      // One script per user, each appending that user's events in order.
      const byUser = new Map<string, (string | number)[]>();
      for (const e of events) {
        let args = byUser.get(e.userId);
        if (args === undefined) byUser.set(e.userId, (args = [e.userId]));
        const action = e.type === "action" ? e.action : undefined;
        args.push(e.type, e.at, action === undefined ? "0" : "1", action ?? "", JSON.stringify(e));
      }
      await Promise.all(
        [...byUser].map(([userId, args]) => {
          const k = userKeys(prefix, userId);
          return connection.eval(appendEventsScript, [k.state, k.events, users, seq], args);
        }),
      );
    },

    async readEvents(userId: string, { cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<EventPage> {
      open();
      const start = cursor === undefined ? "-" : `(${checkStreamCursor(cursor)}`;
      const entries = await connection.run("readEvents", (c) => c.xrange(userKeys(prefix, userId).events, start, "+", "COUNT", limit + 1));
      const page = entries.slice(0, limit);
      const events = page.map(([, fields]) => JSON.parse(fieldOf(fields, "j")) as GamifyEvent);
      const more = entries.length > limit;
      return { events, nextCursor: more ? (page.at(-1)?.[0] ?? cursor ?? "0-0") : null };
    },

    async countEvents(userId, { type, action, since }) {
      open();
      const reply = await connection.eval(countEventsScript, [userKeys(prefix, userId).events], [type, action === undefined ? "0" : "1", action ?? "", since ?? ""]);
      return Number(reply);
    },

    async deleteUser(userId: string) {
      open();
      const k = userKeys(prefix, userId);
      return (await connection.eval(deleteUserScript, [k.state, k.idem, k.idemExpiry, k.claims, k.events, users], [userId])) === 1;
    },

    async listUsers({ cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<UserPage> {
      open();
      const after = cursor === undefined ? "-inf" : `(${checkSeqCursor(cursor)}`;
      const flat = await connection.run("listUsers", (c) => c.zrangebyscore(users, after, "+inf", "WITHSCORES", "LIMIT", 0, limit + 1));
      const userIds: string[] = [];
      let last: string | undefined;
      for (let i = 0; i < flat.length && userIds.length < limit; i += 2) {
        userIds.push(flat[i] as string);
        last = flat[i + 1];
      }
      const more = flat.length / 2 > limit;
      return { userIds, nextCursor: more ? (last ?? cursor ?? "0") : null };
    },

    async health() {
      open();
      await connection.run("PING", (c) => c.ping());
    },

    async close() {
      if (closed) return;
      closed = true;
      await connection.release();
    },
  };
}

/** Checks that a `leaderboards` option is a Redis store writing where this storage's script will. */
function checkLeaderboards(store: LeaderboardStore | undefined, connection: Connection): LeaderboardStore | undefined {
  if (store === undefined) return undefined;
  const other = leaderboardConnection(store);
  if (other === undefined) {
    throw new GamifyError("INVALID_ARGUMENT", "leaderboards must be a store created by redisLeaderboards (from @gamifykit/redis), on the same Redis database as the storage.", {
      details: { field: "leaderboards" },
    });
  }
  // Compare the keys as Redis sees them: the adapter's keyPrefix plus any keyPrefix of a host's client.
  if (other.prefix !== connection.prefix || other.scriptPrefix !== connection.scriptPrefix) {
    throw new GamifyError(
      "INVALID_ARGUMENT",
      `leaderboards uses key prefix ${JSON.stringify(other.scriptPrefix)} but the storage uses ${JSON.stringify(connection.scriptPrefix)}; the storage writes board keys itself, so both must use the same keyPrefix (and client keyPrefix).`,
      { details: { field: "leaderboards" } },
    );
  }
  return store;
}

/**
 * A points event's JSON without `delta`, `total` and the closing brace: the script appends the
 * applied values. A copy loop, not `{ delta, total, ...rest }` (V8 runs object rest in its runtime).
 */
function eventHead(event: AwardRequest["event"]): string {
  const rest: Record<string, unknown> = {};
  for (const key in event) if (key !== "delta" && key !== "total") rest[key] = event[key as keyof typeof event];
  return JSON.stringify(rest).slice(0, -1);
}

/**
 * Reads the script's reply: per request either `0, delta, previousTotal, total, previousLevel,
 * level` (an applied award: its event is the request's, with the applied delta and new total, as
 * the script logged it) or `1, "delta|previousTotal|total|previousLevel|level|eventJSON"` (a replay).
 */
function parseOutcomes(reply: readonly (string | number)[], requests: readonly AwardRequest[]): AwardOutcome[] {
  const outcomes: AwardOutcome[] = [];
  let at = 1;
  for (const request of requests) {
    if (reply[at] === 1) {
      outcomes.push(parseStored(reply[at + 1] as string));
      at += 2;
      continue;
    }
    const delta = reply[at + 1] as number;
    const total = reply[at + 3] as number;
    outcomes.push({
      replayed: false,
      delta,
      previousTotal: reply[at + 2] as number,
      total,
      previousLevel: reply[at + 4] as number,
      level: reply[at + 5] as number,
      event: { ...request.event, delta: Math.abs(delta), total },
    });
    at += 6;
  }
  return outcomes;
}

/** Parses a stored outcome, `delta|previousTotal|total|previousLevel|level|eventJSON`, as a replay. */
function parseStored(line: string): AwardOutcome {
  const numbers: number[] = [];
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const end = line.indexOf("|", at);
    // `+ 0` turns the "-0" Lua may print into 0.
    numbers.push(Number(line.slice(at, end)) + 0);
    at = end + 1;
  }
  const [delta, previousTotal, total, previousLevel, level] = numbers as [number, number, number, number, number];
  return { replayed: true, delta, previousTotal, total, previousLevel, level, event: JSON.parse(line.slice(at)) as AwardOutcome["event"] };
}

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  throw new GamifyError("STORAGE_UNAVAILABLE", `A stored event has no ${name} field; check that nothing else writes under this key prefix.`);
}

function badCursor(cursor: string): GamifyError {
  return new GamifyError("INVALID_ARGUMENT", `cursor ${JSON.stringify(cursor)} is not one this storage returned; pass nextCursor from the previous page.`, {
    details: { field: "cursor" },
  });
}

/** Event cursors are stream ids (`<ms>-<seq>`). */
function checkStreamCursor(cursor: string): string {
  if (typeof cursor !== "string" || !/^\d{1,20}-\d{1,20}$/.test(cursor)) throw badCursor(cursor);
  return cursor;
}

/** User cursors are listing sequences. */
function checkSeqCursor(cursor: string): string {
  if (typeof cursor !== "string" || !/^\d{1,16}$/.test(cursor) || !Number.isSafeInteger(Number(cursor))) throw badCursor(cursor);
  return cursor;
}
