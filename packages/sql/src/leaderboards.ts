import { checkCount, checkRankMode as checkMode, checkScore, GamifyError, type LeaderboardStore, type RankMode, type RankedEntry } from "@gamifykit/core";
import { sql, type Expression, type SqlBool } from "kysely";
import { Lifecycle, SqlHandle, num, type Db, type Trx } from "./connection.js";
import { upsert } from "./dialect.js";
import type { SqlLeaderboardsOptions } from "./options.js";
import { KeyedQueue } from "./queue.js";

/** Expired boards are swept on writes at most this often; reads ignore them anyway. */
const SWEEP_INTERVAL_MS = 60_000;
/** Boards dropped per sweep, so one sweep stays short. */
const SWEEP_BATCH = 100;
/** Board expiries remembered per store; the map is cleared past this size. */
const MAX_CACHED_EXPIRIES = 10_000;

type Update = { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined };

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A {@link LeaderboardStore} on PostgreSQL or MySQL/MariaDB.
 *
 * Entries live in `board_entries (board, user_id, score, seq)` with an index on
 * `(board, score DESC, seq)`, so top-N pages are index range scans. A `board_scores (board, score, n)`
 * table counts the entries at each score and is updated in the same transaction as every score
 * change; a standard rank is then 1 + the sum of `n` over the distinct scores above the user, a
 * dense rank 1 + their count, and an ordinal rank adds the tied entries with a smaller `seq`.
 * Cost grows with the number of distinct scores above the user, not with rows.
 *
 * Writes lock a per-user row first, then boards, entries and score counters in sorted order, so
 * concurrent writers cannot deadlock on each other; deadlocks with the expiry sweep are retried.
 *
 * @example
 * const gk = createGamify({ leaderboardStore: sqlLeaderboards({ url: process.env.DATABASE_URL! }) });
 */
export function sqlLeaderboards(options: SqlLeaderboardsOptions): LeaderboardStore {
  return createSqlLeaderboards(new SqlHandle(options), options.clock ?? Date.now);
}

/** Builds the store on a shared handle (used by {@link sqlStores}). */
export function createSqlLeaderboards(handle: SqlHandle, clock: () => number): LeaderboardStore {
  const { dialect, tables: t } = handle;
  const life = new Lifecycle(handle, "leaderboard store");
  let lastSweep = 0;
  let sweeping: Promise<void> | undefined;
  /**
   * Expiry per board as last read or written here (null: none), so most writes skip reading it.
   * The engine gives a board id one expiry for its whole life, so a stale entry is harmless.
   */
  const expiries = new Map<string, number | null>();
  const queue = new KeyedQueue();

  /** SQL that is true unless `board` has expired (an expired board reads as empty). */
  const live = (board: string, now: number): Expression<SqlBool> =>
    sql<SqlBool>`NOT EXISTS (SELECT 1 FROM ${sql.table(t.boards)} WHERE ${sql.ref("board")} = ${board} AND ${sql.ref("expires_at")} <= ${now})`;

  /** Locks the user's row in board_users, creating it when `create` is set; false when absent. */
  const lockUser = async (trx: Trx, userId: string, create: boolean): Promise<boolean> => {
    if (create) {
      const insert = trx.insertInto(t.boardUsers).values({ user_id: userId });
      await upsert(dialect, t.boardUsers, insert, ["user_id"], (_incoming, stored) => ({ user_id: stored("user_id") })).execute();
      return true;
    }
    const row = await trx.selectFrom(t.boardUsers).select("user_id").where("user_id", "=", userId).forUpdate().executeTakeFirst();
    return row !== undefined;
  };

  /**
   * Adds `n` to the counter of each (board, score), in (board, score) order so two writers always
   * lock counter rows in the same order, then deletes counters that reached zero.
   */
  const moveCounts = async (trx: Trx, moves: readonly { board: string; score: number; n: number }[]): Promise<void> => {
    const merged = new Map<string, { board: string; score: number; n: number }>();
    for (const m of moves) {
      const key = `${m.score}\u0000${m.board}`;
      const entry = merged.get(key) ?? { board: m.board, score: m.score, n: 0 };
      entry.n += m.n;
      merged.set(key, entry);
    }
    const rows = [...merged.values()].filter((d) => d.n !== 0).sort((a, b) => byString(a.board, b.board) || a.score - b.score);
    if (rows.length === 0) return;
    const counted = upsert(dialect, t.boardScores, trx.insertInto(t.boardScores).values(rows), ["board", "score"], (incoming, stored) => ({
      n: sql`${stored("n")} + ${incoming("n")}`,
    }));
    let emptied = rows.filter((r) => r.n < 0);
    if (dialect === "postgres") {
      // RETURNING says which counters hit zero, saving a delete when none did.
      const after = await counted.returning(["board", "score", "n"]).execute();
      emptied = after.filter((r) => num(r.n) <= 0).map((r) => ({ board: String(r.board), score: num(r.score), n: 0 }));
    } else {
      await counted.execute();
    }
    if (emptied.length > 0) {
      // Only rows this transaction already locked, so the delete waits on nobody.
      await trx
        .deleteFrom(t.boardScores)
        .where((eb) => eb.or(emptied.map((r) => eb.and([eb("board", "=", r.board), eb("score", "=", r.score)]))))
        .where("n", "<=", 0)
        .execute();
    }
  };

  /** Deletes an expired board (entries, counters, expiry), if it is still expired. */
  const dropBoard = (board: string, now: number) =>
    handle.transaction("expired board cleanup", async (trx) => {
      expiries.delete(board);
      const row = await trx.selectFrom(t.boards).select("board").where("board", "=", board).where("expires_at", "<=", now).forUpdate().executeTakeFirst();
      if (row === undefined) return;
      await trx.deleteFrom(t.boardEntries).where("board", "=", board).execute();
      await trx.deleteFrom(t.boardScores).where("board", "=", board).execute();
      await trx.deleteFrom(t.boards).where("board", "=", board).execute();
    });

  const maybeSweep = (): void => {
    const now = clock();
    if (sweeping !== undefined || now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    // Best effort and off the caller's path; close() waits for it.
    sweeping = (async () => {
      const rows = await handle.run("expired board sweep", (db) =>
        db.selectFrom(t.boards).select("board").where("expires_at", "<=", now).orderBy("board").limit(SWEEP_BATCH).execute(),
      );
      for (const row of rows) await dropBoard(String(row.board), now);
    })()
      .catch(() => undefined)
      .finally(() => {
        sweeping = undefined;
      });
  };

  /**
   * Applies score updates for one user atomically and returns the score after each update.
   * `next` maps the running score (undefined when absent) to the new one.
   */
  const write = async (
    userId: string,
    updates: readonly { board: string; next: (score: number | undefined) => number; expiresAt?: number | undefined }[],
  ): Promise<number[]> => {
    const boards = [...new Set(updates.map((u) => u.board))].sort(byString);
    const now = clock();
    // An expired board starts over, as if it had never existed.
    const unknown = boards.filter((board) => {
      const at = expiries.get(board);
      return at === undefined || (at !== null && at <= now);
    });
    if (unknown.length > 0) {
      const known = await handle.run("leaderboard write", (db) => db.selectFrom(t.boards).select(["board", "expires_at"]).where("board", "in", unknown).execute());
      if (expiries.size + unknown.length > MAX_CACHED_EXPIRIES) expiries.clear();
      for (const board of unknown) expiries.set(board, null);
      for (const row of known) {
        const at = row.expires_at === null ? null : num(row.expires_at);
        if (at !== null && at <= now) await dropBoard(String(row.board), now);
        else expiries.set(String(row.board), at);
      }
    }

    const totals = await queue.run(userId, () => handle.transaction("leaderboard write", async (trx) => {
      await lockUser(trx, userId, true);
      const stored = await trx.selectFrom(t.boardEntries).select(["board", "score"]).where("user_id", "=", userId).where("board", "in", boards).execute();
      const before = new Map(stored.map((row) => [String(row.board), num(row.score)]));
      const running = new Map(before);
      const wantedExpiry = new Map<string, number>();
      const out: number[] = [];
      // Plan first: an OUT_OF_RANGE anywhere rolls back before anything is written.
      for (const u of updates) {
        const score = u.next(running.get(u.board));
        running.set(u.board, score);
        out.push(score);
        if (u.expiresAt !== undefined) wantedExpiry.set(u.board, u.expiresAt);
      }
      const expiring = [...wantedExpiry].filter(([board, at]) => expiries.get(board) !== at).sort(([a], [b]) => byString(a, b));
      if (expiring.length > 0) {
        const rows = expiring.map(([board, at]) => ({ board, expires_at: at }));
        await upsert(dialect, t.boards, trx.insertInto(t.boards).values(rows), ["board"], (incoming) => ({ expires_at: incoming("expires_at") })).execute();
      }
      const changed = boards.filter((board) => running.get(board) !== before.get(board));
      if (changed.length > 0) {
        const rows = changed.map((board) => ({ board, user_id: userId, score: running.get(board) as number }));
        // Only a changed score re-stamps the tie-break: the row gets a fresh seq (a new
        // auto-increment value; REPLACE deletes and re-inserts on MySQL).
        if (dialect === "postgres") {
          await upsert(dialect, t.boardEntries, trx.insertInto(t.boardEntries).values(rows), ["board", "user_id"], (incoming) => ({
            score: incoming("score"),
            seq: incoming("seq"),
          })).execute();
        } else {
          await trx.replaceInto(t.boardEntries).values(rows).execute();
        }
        await moveCounts(
          trx,
          changed.flatMap((board) => {
            const from = before.get(board);
            const to = { board, score: running.get(board) as number, n: 1 };
            return from === undefined ? [to] : [{ board, score: from, n: -1 }, to];
          }),
        );
      }
      return { out, expiring };
    }));
    for (const [board, at] of totals.expiring) expiries.set(board, at);
    maybeSweep();
    return totals.out;
  };

  /** Removes the user's entries on `boards` (all boards when undefined); the number removed. */
  const removeEntries = (userId: string, board: string | undefined): Promise<number> =>
    queue.run(userId, () => handle.transaction("leaderboard remove", async (trx) => {
      if (!(await lockUser(trx, userId, false))) return 0;
      let query = trx.selectFrom(t.boardEntries).select(["board", "score"]).where("user_id", "=", userId);
      if (board !== undefined) query = query.where("board", "=", board);
      const rows = await query.execute();
      if (rows.length === 0) return 0;
      let del = trx.deleteFrom(t.boardEntries).where("user_id", "=", userId);
      if (board !== undefined) del = del.where("board", "=", board);
      await del.execute();
      // A removal is a change to nowhere: only the old score's counter moves.
      await moveCounts(
        trx,
        rows.map((row) => ({ board: String(row.board), score: num(row.score), n: -1 })),
      );
      if (board === undefined) await trx.deleteFrom(t.boardUsers).where("user_id", "=", userId).execute();
      return rows.length;
    }));

  /** The user's entry with the counts its ranks derive from, or undefined. */
  const entryOf = async (db: Db | Trx, board: string, userId: string, now: number) => {
    const e = sql.table(t.boardEntries);
    const s = sql.table(t.boardScores);
    const result = await sql<{ score: unknown; above: unknown; distinct_above: unknown; tied_before: unknown }>`
      SELECT e.score AS score,
        (SELECT COALESCE(SUM(s.n), 0) FROM ${s} s WHERE s.board = e.board AND s.score > e.score) AS above,
        (SELECT COUNT(*) FROM ${s} s WHERE s.board = e.board AND s.score > e.score) AS distinct_above,
        (SELECT COUNT(*) FROM ${e} x WHERE x.board = e.board AND x.score = e.score AND x.seq < e.seq) AS tied_before
      FROM ${e} e
      WHERE e.board = ${board} AND e.user_id = ${userId} AND ${live(board, now)}`.execute(db);
    const row = result.rows[0];
    if (row === undefined) return undefined;
    const above = num(row.above);
    return { score: num(row.score), above, distinctAbove: num(row.distinct_above), position: above + num(row.tied_before) };
  };

  const countOf = async (db: Db | Trx, board: string, now: number): Promise<number> => {
    const row = await db
      .selectFrom(t.boardScores)
      .select(sql<unknown>`COALESCE(SUM(${sql.ref("n")}), 0)`.as("n"))
      .where("board", "=", board)
      .where(live(board, now))
      .executeTakeFirst();
    return num(row?.n);
  };

  /** Entries at ordinal positions [offset, offset + limit), ranked by `mode`. */
  const page = async (db: Db | Trx, board: string, offset: number, limit: number, mode: RankMode, now: number): Promise<RankedEntry[]> => {
    if (limit === 0) return [];
    const rows = await db
      .selectFrom(t.boardEntries)
      .select(["user_id", "score"])
      .where("board", "=", board)
      .where(live(board, now))
      .orderBy("score", "desc")
      .orderBy("seq", "asc")
      .limit(limit)
      .offset(offset)
      .execute();
    const first = rows[0];
    if (first === undefined) return [];
    let rank = offset + 1;
    if (mode !== "ordinal") {
      const counted = await db
        .selectFrom(t.boardScores)
        .select([sql<unknown>`COALESCE(SUM(${sql.ref("n")}), 0)`.as("above"), sql<unknown>`COUNT(*)`.as("distinct_above")])
        .where("board", "=", board)
        .where("score", ">", num(first.score))
        .executeTakeFirst();
      rank = 1 + num(mode === "standard" ? counted?.above : counted?.distinct_above);
    }
    const out: RankedEntry[] = [];
    let prev = Number.NaN;
    rows.forEach((row, i) => {
      const score = num(row.score);
      if (mode === "ordinal") rank = offset + i + 1;
      // Within a page every score between two neighbours is present, so ranks follow by counting.
      else if (i > 0 && score !== prev) rank = mode === "standard" ? offset + i + 1 : rank + 1;
      prev = score;
      out.push({ userId: String(row.user_id), score, rank });
    });
    return out;
  };

  /** Runs reads that must agree with each other in one REPEATABLE READ snapshot. */
  const snapshot = <T>(what: string, work: (trx: Trx) => Promise<T>): Promise<T> => handle.transaction(what, work, "repeatable read");

  return {
    name: `sql-${dialect}`,

    async increment(updates: readonly Update[], userId: string): Promise<number[]> {
      life.check();
      for (const u of updates) {
        checkScore(u.delta, "delta");
        if (u.expiresAt !== undefined && (typeof u.expiresAt !== "number" || !Number.isSafeInteger(u.expiresAt))) {
          throw new GamifyError("INVALID_ARGUMENT", `expiresAt must be epoch milliseconds; got ${String(u.expiresAt)}.`, { details: { field: "expiresAt" } });
        }
      }
      if (updates.length === 0) return [];
      return write(
        userId,
        updates.map((u) => ({
          board: u.board,
          expiresAt: u.expiresAt,
          next: (score) => {
            const total = (score ?? 0) + u.delta;
            checkScore(total, `score on board ${u.board}`);
            return total;
          },
        })),
      );
    },

    async set(board: string, userId: string, score: number): Promise<void> {
      life.check();
      const value = checkScore(score, "score");
      await write(userId, [{ board, next: () => value }]);
    },

    async remove(board: string, userId: string): Promise<boolean> {
      life.check();
      const now = clock();
      // An expired board reads as empty: there is nothing to remove from it.
      const expired = await handle.run("leaderboard remove", (db) =>
        db.selectFrom(t.boards).select("board").where("board", "=", board).where("expires_at", "<=", now).executeTakeFirst(),
      );
      if (expired !== undefined) return false;
      return (await removeEntries(userId, board)) > 0;
    },

    async removeUser(userId: string): Promise<void> {
      life.check();
      await removeEntries(userId, undefined);
    },

    async top(board: string, options: { offset: number; limit: number; mode: RankMode }): Promise<RankedEntry[]> {
      life.check();
      const offset = checkCount(options.offset, "offset", { max: Number.MAX_SAFE_INTEGER });
      const limit = checkCount(options.limit, "limit", { max: Number.MAX_SAFE_INTEGER });
      const mode = checkMode(options.mode);
      const now = clock();
      return snapshot("leaderboard top", (trx) => page(trx, board, offset, limit, mode, now));
    },

    async rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null> {
      life.check();
      checkMode(mode);
      const now = clock();
      const entry = await handle.run("leaderboard rank", (db) => entryOf(db, board, userId, now));
      if (entry === undefined) return null;
      const rank = mode === "ordinal" ? entry.position : mode === "standard" ? entry.above : entry.distinctAbove;
      return { userId, score: entry.score, rank: rank + 1 };
    },

    async around(board: string, userId: string, options: { radius: number; mode: RankMode }): Promise<RankedEntry[]> {
      life.check();
      const radius = checkCount(options.radius, "radius", { max: Number.MAX_SAFE_INTEGER });
      const mode = checkMode(options.mode);
      const now = clock();
      return snapshot("leaderboard around", async (trx) => {
        const entry = await entryOf(trx, board, userId, now);
        if (entry === undefined) return [];
        const size = await countOf(trx, board, now);
        const width = 2 * radius + 1;
        // Shift the window off the edges so it stays full when the board is big enough.
        const start = Math.max(0, Math.min(entry.position - radius, size - width));
        return page(trx, board, start, width, mode, now);
      });
    },

    async count(board: string): Promise<number> {
      life.check();
      const now = clock();
      return handle.run("leaderboard count", (db) => countOf(db, board, now));
    },

    async countAround(board: string, score: number): Promise<{ above: number; equal: number }> {
      life.check();
      if (typeof score !== "number" || Number.isNaN(score)) {
        throw new GamifyError("INVALID_ARGUMENT", `score must be a number; got ${String(score)}.`, { details: { field: "score" } });
      }
      const now = clock();
      // Stored scores are safe integers: "above x" is "above floor(x)", and only an integer can be equal.
      const floor = Math.max(Number.MIN_SAFE_INTEGER - 1, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(score)));
      const exact = Number.isInteger(score);
      return handle.run("leaderboard countAround", async (db) => {
        const row = await db
          .selectFrom(t.boardScores)
          .select([
            sql<unknown>`COALESCE(SUM(CASE WHEN ${sql.ref("score")} > ${floor} THEN ${sql.ref("n")} ELSE 0 END), 0)`.as("above"),
            sql<unknown>`COALESCE(SUM(CASE WHEN ${sql.ref("score")} = ${floor} THEN ${sql.ref("n")} ELSE 0 END), 0)`.as("equal"),
          ])
          .where("board", "=", board)
          .where("score", ">=", floor)
          .where(live(board, now))
          .executeTakeFirst();
        return { above: num(row?.above), equal: exact ? num(row?.equal) : 0 };
      });
    },

    async health(): Promise<void> {
      life.check();
      await handle.run("health check", (db) => sql`select 1`.execute(db));
    },

    async close(): Promise<void> {
      if (life.isClosed) return;
      await sweeping;
      await life.close();
    },
  };
}
