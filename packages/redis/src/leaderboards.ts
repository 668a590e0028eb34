import { checkCount, checkRankMode as checkMode, checkScore, GamifyError, type LeaderboardStore, type RankMode, type RankedEntry } from "@gamifykit/core";
import { closedError, createConnection, type Connection } from "./connection.js";
import { boardKeys, boardSeqKey, userBoardsKey } from "./keys.js";
import type { RedisLeaderboardsOptions } from "./options.js";
import { aroundScript, countAroundScript, incrementScript, rankScript, removeScript, removeUserScript, setScript, topScript } from "./scripts/leaderboards.js";

/** The connection of every store this module made, so a storage can check a `leaderboards` option. */
const connections = new WeakMap<LeaderboardStore, Connection>();

/** The connection of a store made by {@link redisLeaderboards} or `redisStores`; undefined for any other object. */
export function leaderboardConnection(store: unknown): Connection | undefined {
  return typeof store === "object" && store !== null ? connections.get(store as LeaderboardStore) : undefined;
}

/**
 * A {@link LeaderboardStore} on Redis sorted sets. Ranks in every mode, `top`, `around` and
 * `countAround` cost O(log n) plus the page, in one round trip each; `increment` updates all its
 * boards in one atomic script. A board given an `expiresAt` expires with Redis key expiry (by the
 * server's clock).
 *
 * @example
 * const gk = createGamify({ leaderboardStore: redisLeaderboards({ url: "redis://localhost:6379" }) });
 */
export function redisLeaderboards(options: RedisLeaderboardsOptions): LeaderboardStore {
  return createRedisLeaderboards(createConnection(options, "redisLeaderboards"));
}

/** The store on a given connection; {@link redisStores} shares one connection among stores. */
export function createRedisLeaderboards(connection: Connection): LeaderboardStore {
  const { prefix } = connection;
  const seq = boardSeqKey(prefix);
  let closed = false;
  connection.acquire();

  const open = (): void => {
    if (closed) throw closedError("leaderboard store");
  };
  const keysOf = (board: string): string[] => {
    const k = boardKeys(prefix, board);
    return [k.scores, k.order, k.stamps, k.distinct, k.counts];
  };
  const entries = (flat: unknown[]): RankedEntry[] => {
    const out: RankedEntry[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push({ userId: flat[i] as string, score: Number(flat[i + 1]), rank: Number(flat[i + 2]) });
    return out;
  };

  const store: LeaderboardStore = {
    name: "redis",

    async increment(updates, userId) {
      open();
      if (updates.length === 0) return [];
      const keys = [seq, userBoardsKey(prefix, userId)];
      const args: (string | number)[] = [userId, updates.length];
      for (const update of updates) {
        checkScore(update.delta, "delta");
        keys.push(...keysOf(update.board));
        args.push(update.board, update.delta, expiryArg(update.expiresAt));
      }
      const reply = (await connection.eval(incrementScript, keys, args)) as string[];
      if (reply[0] === "OUT_OF_RANGE") {
        throw new GamifyError("OUT_OF_RANGE", `score on board ${reply[1]} would leave the safe-integer range (got ${reply[2]}); nothing was changed.`, {
          details: { board: reply[1], value: reply[2] },
        });
      }
      return reply.slice(1).map(Number);
    },

    async set(board, userId, score) {
      open();
      checkScore(score, "score");
      await connection.eval(setScript, [seq, userBoardsKey(prefix, userId), ...keysOf(board)], [userId, board, score]);
    },

    async remove(board, userId) {
      open();
      return (await connection.eval(removeScript, [userBoardsKey(prefix, userId), ...keysOf(board)], [userId, board])) === 1;
    },

    async removeUser(userId) {
      open();
      await connection.eval(removeUserScript, [userBoardsKey(prefix, userId)], [userId, connection.scriptPrefix]);
    },

    async top(board, options) {
      open();
      const offset = checkCount(options.offset, "offset", { max: Number.MAX_SAFE_INTEGER });
      const limit = checkCount(options.limit, "limit", { max: Number.MAX_SAFE_INTEGER });
      const mode = checkMode(options.mode);
      return entries((await connection.eval(topScript, keysOf(board), [offset, limit, mode])) as unknown[]);
    },

    async rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null> {
      open();
      checkMode(mode);
      const reply = (await connection.eval(rankScript, keysOf(board), [userId, mode])) as [string, number] | null;
      return reply === null ? null : { userId, score: Number(reply[0]), rank: Number(reply[1]) };
    },

    async around(board, userId, options) {
      open();
      const radius = checkCount(options.radius, "radius", { max: Number.MAX_SAFE_INTEGER });
      const mode = checkMode(options.mode);
      return entries((await connection.eval(aroundScript, keysOf(board), [userId, radius, mode])) as unknown[]);
    },

    async count(board) {
      open();
      return connection.run("ZCARD", (c) => c.zcard(boardKeys(prefix, board).scores));
    },

    async countAround(board, score) {
      open();
      if (typeof score !== "number" || Number.isNaN(score)) {
        throw new GamifyError("INVALID_ARGUMENT", `score must be a number; got ${String(score)}.`, { details: { field: "score" } });
      }
      const bound = score === Infinity ? "+inf" : score === -Infinity ? "-inf" : String(score);
      const [above, equal] = (await connection.eval(countAroundScript, [boardKeys(prefix, board).scores], [bound])) as [number, number];
      return { above, equal };
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
  connections.set(store, connection);
  return store;
}

/** A board's `expiresAt` as the scripts take it: whole epoch milliseconds, or '' for none. */
export function expiryArg(expiresAt: unknown): number | "" {
  if (expiresAt === undefined) return "";
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
    throw new GamifyError("INVALID_ARGUMENT", `expiresAt must be epoch milliseconds; got ${String(expiresAt)}.`, { details: { field: "expiresAt" } });
  }
  return Math.ceil(expiresAt);
}
