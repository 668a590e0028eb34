import { checkCount, checkRankMode as checkMode, checkScore, GamifyError, type LeaderboardStore, type RankMode, type RankedEntry } from "@gamifykit/core";
import { sql, type Expression, type RawBuilder, type SqlBool } from "kysely";
import { Lifecycle, SqlHandle, num, statementName, type Db, type Row, type Trx } from "./connection.js";
import { byString, executeAll, upsert, withStatements, type Compilable } from "./dialect.js";
import { BUCKET_BITS, BUCKET_LEVELS } from "./buckets.js";
import type { SqlLeaderboardsOptions } from "./options.js";
import { KeyedQueue } from "./queue.js";

/** Expired boards are swept on writes at most this often; reads ignore them anyway. */
const SWEEP_INTERVAL_MS = 60_000;
/** Boards dropped per sweep, so one sweep stays short. */
const SWEEP_BATCH = 100;
/** Board expiries remembered per store; the map is cleared past this size. */
const MAX_CACHED_EXPIRIES = 10_000;

type Update = { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined };

/** One score change: `next` maps the running score (undefined when absent) to the new one. */
type WriteUpdate = { readonly board: string; readonly next: (score: number | undefined) => number; readonly expiresAt?: number | undefined };

/** The scores after a write, and the board expiries it stored (to remember once committed). */
interface WriteResult {
  readonly out: number[];
  readonly expiring: readonly (readonly [string, number])[];
}

/**
 * What a storage on the same connection needs to move this store's boards inside its own
 * transaction (see `Storage.leaderboards`): the award's transaction and this store's writes then
 * lock the same per-user row, so they stay serialised.
 */
export interface FusedBoards {
  /** The connection the store writes on; a storage fuses only with a store on its own. */
  readonly handle: SqlHandle;
  /** Before the transaction: learns the boards' expiries (dropping expired boards). */
  prepare(boards: readonly string[]): Promise<void>;
  /** The upsert that creates and locks the user's board row; run it in the transaction first. */
  lockStatement(trx: Trx, userId: string): Compilable;
  /**
   * In the transaction, after `lockStatement`: adds each delta to its board, given the user's
   * entries on those boards as read under the lock (board → score) and statements to run with the
   * first write (one statement on PostgreSQL).
   */
  increment(
    trx: Trx,
    userId: string,
    updates: readonly { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }[],
    options: WriteOptions,
  ): Promise<WriteResult>;
  /** After commit. */
  settle(expiring: WriteResult["expiring"]): void;
  /**
   * Plans the same increments without a transaction, for a storage that writes them itself (the
   * award routine): given the user's entries as read (board → score), the new score of each
   * changed board, the score-counter changes in lock order, and the board expiries to store.
   * Throws OUT_OF_RANGE, writing nothing, when a score would leave the safe-integer range.
   */
  plan(updates: readonly { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }[], stored: ReadonlyMap<string, number>): BoardPlan;
}

/** What {@link FusedBoards.plan} returns. */
export interface BoardPlan {
  /** The changed boards and the user's new score on each. */
  readonly entries: readonly { readonly board: string; readonly score: number }[];
  /** Score-counter changes, merged per (board, score), in (board, score) order. */
  readonly counters: readonly CounterMove[];
  /** Board expiries to store; pass them to {@link FusedBoards.settle} once committed. */
  readonly expiring: WriteResult["expiring"];
}

/** How a fused write differs from the store's own: the lock is held and the entries read. */
interface WriteOptions {
  readonly stored: ReadonlyMap<string, number>;
  readonly alongside: readonly Compilable[];
}

const fusedStores = new WeakMap<LeaderboardStore, FusedBoards>();

/** The in-transaction hooks of a store made by this module, or undefined for any other store. */
export function fusedBoards(store: LeaderboardStore): FusedBoards | undefined {
  return fusedStores.get(store);
}


/** A change of `n` entries at one (board, score). */
export type CounterMove = { readonly board: string; readonly score: number; readonly n: number };

/**
 * Counter changes merged per (board, score), without the ones that cancel out, in (board, score)
 * order: every writer locks counter rows in that order, so two writers cannot deadlock on them.
 */
function mergeMoves(moves: readonly CounterMove[]): { board: string; score: number; n: number }[] {
  const merged = new Map<string, { board: string; score: number; n: number }>();
  for (const m of moves) {
    const key = `${m.score}\u0000${m.board}`;
    const entry = merged.get(key) ?? { board: m.board, score: m.score, n: 0 };
    entry.n += m.n;
    merged.set(key, entry);
  }
  return [...merged.values()].filter((d) => d.n !== 0).sort((a, b) => byString(a.board, b.board) || a.score - b.score);
}

/** The boards (of `boards`, in that order) whose score differs between `before` and `after`. */
function changedBoards(boards: readonly string[], before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
  return boards.filter((board) => after.get(board) !== before.get(board));
}

/** The counter changes of moving the user on `changed` boards: -1 at the old score (if any), +1 at the new. */
function countMoves(changed: readonly string[], before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): CounterMove[] {
  return changed.flatMap((board) => {
    const from = before.get(board);
    const to = { board, score: after.get(board) as number, n: 1 };
    return from === undefined ? [to] : [{ board, score: from, n: -1 }, to];
  });
}

const FANOUT = 2 ** BUCKET_BITS;

/** The level-`level` bucket of a score: floor(score / 64^level), exact for safe integers. */
const bucketOf = (score: number, level: number): number => Math.floor(score / 2 ** (BUCKET_BITS * level));

/** What one ranking statement counts; `tie` and `self` are optional. */
interface Counts {
  /** Entries with a higher score. */
  above: number;
  /** Distinct higher scores. */
  distinctAbove: number;
  /** Entries with the same score and a smaller seq (when asked for). */
  tiedBefore: number;
  /** Entries with exactly the score (when asked for). */
  equal: number;
  /** Entries on the board (when asked for). */
  size: number;
  /** The user's score and seq as the same statement saw them (when asked for). */
  self: { score: number; seq: number } | undefined;
}

/**
 * A {@link LeaderboardStore} on PostgreSQL or MySQL/MariaDB.
 *
 * Entries live in `board_entries (board, user_id, score, seq)` with an index on
 * `(board, score DESC, seq)`, so top-N pages and the neighbours of a user are index range scans.
 * Counts are kept in two tables updated in the same transaction as every score change:
 * `board_scores (board, score, n)` holds the entries at each score, and `board_buckets (board,
 * level, bucket, n, d)` the entries (`n`) and distinct scores (`d`) in each bucket of 64^level
 * consecutive scores, for levels 1 to 8 (a tree with fan-out 64 over the whole safe-integer range).
 * The entries above a score `s` are, at each level, the buckets after `s`'s own bucket inside the
 * same parent: at most 63 rows per level and 9 levels, whatever the board's size. A standard rank is
 * 1 + the sum of `n` over those rows, a dense rank 1 + the sum of `d`, and an ordinal rank adds the
 * tied entries with a smaller `seq` (an index range over the ties).
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

  /** The upsert that creates (if needed) and locks the user's row in board_users. */
  const lockStatement = (trx: Trx, userId: string) =>
    upsert(dialect, t.boardUsers, trx.insertInto(t.boardUsers).values({ user_id: userId }), ["user_id"], (_incoming, stored) => ({ user_id: stored("user_id") }));

  /** Locks the user's row in board_users, creating it when `create` is set; false when absent. */
  const lockUser = async (trx: Trx, userId: string, create: boolean): Promise<boolean> => {
    if (create) {
      await lockStatement(trx, userId).execute();
      return true;
    }
    const row = await trx.selectFrom(t.boardUsers).select("user_id").where("user_id", "=", userId).forUpdate().executeTakeFirst();
    return row !== undefined;
  };

  /**
   * Adds `n` to the counter of each (board, score), in (board, score) order so two writers always
   * lock counter rows in the same order, deletes counters that reached zero, then moves the bucket
   * counts of every level the same way (a score whose counter appeared or vanished also changes
   * its buckets' distinct counts). Buckets shared by the old and the new score cancel out, so a
   * small increment usually touches no bucket at all.
   */
  const moveCounts = async (trx: Trx, moves: readonly { board: string; score: number; n: number }[], alongside: readonly Compilable[] = []): Promise<void> => {
    const rows = mergeMoves(moves);
    if (rows.length === 0) {
      await executeAll(dialect, trx, alongside);
      return;
    }
    const counted = upsert(dialect, t.boardScores, trx.insertInto(t.boardScores).values(rows), ["board", "score"], (incoming, stored) => ({
      n: sql`${stored("n")} + ${incoming("n")}`,
    }));
    let after: { board: string; score: number; n: number }[];
    if (dialect === "postgres") {
      // RETURNING gives the counters after the change in the same round trip.
      const returned = counted.returning(["board", "score", "n"]);
      const result = alongside.length === 0 ? await returned.execute() : (await withStatements<{ board: unknown; score: unknown; n: unknown }>(alongside, returned).execute(trx)).rows;
      after = result.map((r) => ({ board: String(r.board), score: num(r.score), n: num(r.n) }));
    } else {
      await executeAll(dialect, trx, alongside);
      await counted.execute();
      // The rows are locked by this transaction now, so this read sees their current values.
      const read = await trx
        .selectFrom(t.boardScores)
        .select(["board", "score", "n"])
        .where((eb) => eb.or(rows.map((r) => eb.and([eb("board", "=", r.board), eb("score", "=", r.score)]))))
        .execute();
      after = read.map((r) => ({ board: String(r.board), score: num(r.score), n: num(r.n) }));
    }
    const now = new Map(after.map((r) => [`${r.score}\u0000${r.board}`, r.n]));
    const emptied: { board: string; score: number }[] = [];
    const buckets = new Map<string, { board: string; level: number; bucket: number; n: number; d: number }>();
    for (const r of rows) {
      const n = now.get(`${r.score}\u0000${r.board}`) ?? 0;
      // A counter equal to its own change did not exist before (counters never sit at zero).
      const d = n <= 0 ? -1 : n === r.n ? 1 : 0;
      if (n <= 0) emptied.push(r);
      for (let level = 1; level <= BUCKET_LEVELS; level++) {
        const bucket = bucketOf(r.score, level);
        const key = `${level}\u0000${bucket}\u0000${r.board}`;
        const entry = buckets.get(key) ?? { board: r.board, level, bucket, n: 0, d: 0 };
        entry.n += r.n;
        entry.d += d;
        buckets.set(key, entry);
      }
    }
    const statements: Compilable[] = [];
    if (emptied.length > 0) {
      // Only rows this transaction already locked, so the delete waits on nobody.
      statements.push(
        trx
          .deleteFrom(t.boardScores)
          .where((eb) => eb.or(emptied.map((r) => eb.and([eb("board", "=", r.board), eb("score", "=", r.score)]))))
          .where("n", "<=", 0),
      );
    }
    const moved = [...buckets.values()]
      .filter((b) => b.n !== 0 || b.d !== 0)
      .sort((a, b) => byString(a.board, b.board) || a.level - b.level || a.bucket - b.bucket);
    if (moved.length > 0) {
      statements.push(
        upsert(dialect, t.boardBuckets, trx.insertInto(t.boardBuckets).values(moved), ["board", "level", "bucket"], (incoming, stored) => ({
          n: sql`${stored("n")} + ${incoming("n")}`,
          d: sql`${stored("d")} + ${incoming("d")}`,
        })),
      );
    }
    // The delete and the upsert touch different tables: one statement on PostgreSQL.
    await executeAll(dialect, trx, statements);
    if (moved.length === 0) return;
    const shrunk = moved.filter((b) => b.n < 0);
    if (shrunk.length > 0) {
      await trx
        .deleteFrom(t.boardBuckets)
        .where((eb) => eb.or(shrunk.map((b) => eb.and([eb("board", "=", b.board), eb("level", "=", b.level), eb("bucket", "=", b.bucket)]))))
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
      await trx.deleteFrom(t.boardBuckets).where("board", "=", board).execute();
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
   * Learns the expiry of boards not seen yet, so a write inside a transaction knows them; an
   * expired board is dropped first (it starts over, as if it had never existed).
   */
  const prepare = async (boards: readonly string[]): Promise<void> => {
    const now = clock();
    const unknown = boards.filter((board) => {
      const at = expiries.get(board);
      return at === undefined || (at !== null && at <= now);
    });
    if (unknown.length === 0) return;
    const known = await handle.run("leaderboard write", (db) => db.selectFrom(t.boards).select(["board", "expires_at"]).where("board", "in", unknown).execute());
    if (expiries.size + unknown.length > MAX_CACHED_EXPIRIES) expiries.clear();
    for (const board of unknown) expiries.set(board, null);
    for (const row of known) {
      const at = row.expires_at === null ? null : num(row.expires_at);
      if (at !== null && at <= now) await dropBoard(String(row.board), now);
      else expiries.set(String(row.board), at);
    }
  };

  /**
   * The scores after `updates` (throwing OUT_OF_RANGE before anything is written), the running
   * score per board, and the board expiries to store (those not already known to be stored).
   */
  const planScores = (updates: readonly WriteUpdate[], before: ReadonlyMap<string, number>) => {
    const running = new Map(before);
    const wantedExpiry = new Map<string, number>();
    const out: number[] = [];
    for (const u of updates) {
      const score = u.next(running.get(u.board));
      running.set(u.board, score);
      out.push(score);
      if (u.expiresAt !== undefined) wantedExpiry.set(u.board, u.expiresAt);
    }
    const expiring = [...wantedExpiry].filter(([board, at]) => expiries.get(board) !== at).sort(([a], [b]) => byString(a, b));
    return { out, running, expiring };
  };

  /**
   * Applies score updates for one user inside `trx` (after {@link prepare} for their boards) and
   * returns the score after each update, plus the expiries written, for {@link settle} after commit.
   * `next` maps the running score (undefined when absent) to the new one.
   */
  const writeIn = async (trx: Trx, userId: string, updates: readonly WriteUpdate[], fused?: WriteOptions): Promise<WriteResult> => {
    const boards = [...new Set(updates.map((u) => u.board))].sort(byString);
    let before: ReadonlyMap<string, number>;
    if (fused === undefined) {
      await lockUser(trx, userId, true);
      const stored = await trx.selectFrom(t.boardEntries).select(["board", "score"]).where("user_id", "=", userId).where("board", "in", boards).execute();
      before = new Map(stored.map((row) => [String(row.board), num(row.score)]));
    } else before = fused.stored;
    // Plan first: an OUT_OF_RANGE anywhere rolls back before anything is written.
    const { out, running, expiring } = planScores(updates, before);
    // The caller's statements, run with the first write below.
    let pending = fused?.alongside ?? [];
    if (expiring.length > 0) {
      // Rare (a board's first write here): on its own, so board rows lock before counter rows.
      await executeAll(dialect, trx, pending);
      pending = [];
      const rows = expiring.map(([board, at]) => ({ board, expires_at: at }));
      await upsert(dialect, t.boards, trx.insertInto(t.boards).values(rows), ["board"], (incoming) => ({ expires_at: incoming("expires_at") })).execute();
    }
    const changed = changedBoards(boards, before, running);
    if (changed.length > 0) {
      const rows = changed.map((board) => ({ board, user_id: userId, score: running.get(board) as number }));
      const moves = countMoves(changed, before, running);
      // Only a changed score re-stamps the tie-break: the row gets a fresh seq (a new
      // auto-increment value; REPLACE deletes and re-inserts on MySQL).
      if (dialect === "postgres") {
        const entries = upsert(dialect, t.boardEntries, trx.insertInto(t.boardEntries).values(rows), ["board", "user_id"], (incoming) => ({
          score: incoming("score"),
          seq: incoming("seq"),
        }));
        // The entries' upsert rides along with the counters' (one round trip).
        await moveCounts(trx, moves, [...pending, entries]);
      } else {
        await executeAll(dialect, trx, pending);
        await trx.replaceInto(t.boardEntries).values(rows).execute();
        await moveCounts(trx, moves, []);
      }
    } else await executeAll(dialect, trx, pending);
    return { out, expiring };
  };

  /** Remembers the expiries a committed write stored, and sweeps expired boards now and then. */
  const settle = (expiring: readonly (readonly [string, number])[]): void => {
    for (const [board, at] of expiring) expiries.set(board, at);
    maybeSweep();
  };

  /** Applies score updates for one user atomically and returns the score after each update. */
  const write = async (userId: string, updates: readonly WriteUpdate[]): Promise<number[]> => {
    await prepare(updates.map((u) => u.board));
    const result = await queue.run(userId, () => handle.transaction("leaderboard write", (trx) => writeIn(trx, userId, updates)));
    settle(result.expiring);
    return result.out;
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

  /**
   * Runs a frequent read as a prepared statement when outside a transaction and the pool allows
   * it (undefined otherwise, for the caller to run it as usual): planning the rank's statements
   * costs PostgreSQL as much as running them, and their text depends only on the table names
   * and the options, so a handful of prepared statements serve every call.
   */
  const runPrepared = async (db: Db | Trx, query: { compile(db: Db | Trx): { sql: string; parameters: readonly unknown[] } }): Promise<readonly Row[] | undefined> => {
    if (db.isTransaction) return undefined;
    const prepared = await handle.prepared();
    if (prepared === undefined) return undefined;
    const compiled = query.compile(db);
    const name = statementName(compiled.sql);
    return name === undefined ? undefined : prepared(name, compiled.sql, compiled.parameters);
  };

  /**
   * One statement that counts, for a score `s`: the entries and distinct scores above it (at each
   * level, the sibling buckets after `s`'s own), optionally the ties before `seq`, the board's
   * size (its top-level buckets) and a user's current score and seq. Every arm is an index range
   * scan of at most 63 rows, except the ties, which are as many as there are.
   */
  const countsFor = async (
    db: Db | Trx,
    board: string,
    score: number,
    options: { tiesBefore?: number; equal?: boolean; size?: boolean; self?: string } = {},
  ): Promise<Counts> => {
    const scores = sql.table(t.boardScores);
    const buckets = sql.table(t.boardBuckets);
    const entries = sql.table(t.boardEntries);
    const arms: RawBuilder<unknown>[] = [];
    for (let level = 0; level <= BUCKET_LEVELS; level++) {
      const own = bucketOf(score, level);
      // Siblings end where the parent ends; the top level has no parent.
      // Every arm is kept, even an empty range, so the text is the same for every score and one
      // prepared statement serves them all.
      const end = level === BUCKET_LEVELS ? undefined : (bucketOf(score, level + 1) + 1) * FANOUT;
      const upper = end === undefined ? sql`` : level === 0 ? sql` AND score < ${end}` : sql` AND bucket < ${end}`;
      arms.push(
        level === 0
          ? sql`SELECT 0 AS k, COALESCE(SUM(n), 0) AS a, COUNT(*) AS b FROM ${scores} WHERE board = ${board} AND score > ${own}${upper}`
          : sql`SELECT 0 AS k, COALESCE(SUM(n), 0) AS a, COALESCE(SUM(d), 0) AS b FROM ${buckets} WHERE board = ${board} AND level = ${level} AND bucket > ${own}${upper}`,
      );
    }
    if (options.tiesBefore !== undefined) {
      arms.push(sql`SELECT 1 AS k, COUNT(*) AS a, 0 AS b FROM ${entries} WHERE board = ${board} AND score = ${score} AND seq < ${options.tiesBefore}`);
    }
    if (options.equal === true) {
      arms.push(sql`SELECT 4 AS k, n AS a, 0 AS b FROM ${scores} WHERE board = ${board} AND score = ${score}`);
    }
    if (options.size === true) {
      arms.push(sql`SELECT 2 AS k, COALESCE(SUM(n), 0) AS a, 0 AS b FROM ${buckets} WHERE board = ${board} AND level = ${BUCKET_LEVELS}`);
    }
    if (options.self !== undefined) {
      arms.push(sql`SELECT 3 AS k, score AS a, seq AS b FROM ${entries} WHERE board = ${board} AND user_id = ${options.self}`);
    }
    const statement = sql<{ k: unknown; a: unknown; b: unknown }>`${sql.join(arms, sql` UNION ALL `)}`;
    const rows = (await runPrepared(db, statement)) ?? (await statement.execute(db)).rows;
    const result = { rows: rows as readonly { k: unknown; a: unknown; b: unknown }[] };
    const counts: Counts = { above: 0, distinctAbove: 0, tiedBefore: 0, equal: 0, size: 0, self: undefined };
    for (const row of result.rows) {
      const k = num(row.k);
      if (k === 0) {
        counts.above += num(row.a);
        counts.distinctAbove += num(row.b);
      } else if (k === 1) counts.tiedBefore = num(row.a);
      else if (k === 2) counts.size = num(row.a);
      else if (k === 4) counts.equal = num(row.a);
      else counts.self = { score: num(row.a), seq: num(row.b) };
    }
    return counts;
  };

  /** The user's score and seq on a live board, or undefined. */
  const entryOf = async (db: Db | Trx, board: string, userId: string, now: number) => {
    const query = db
      .selectFrom(t.boardEntries)
      .select(["score", "seq"])
      .where("board", "=", board)
      .where("user_id", "=", userId)
      .where(live(board, now));
    const rows = (await runPrepared(db, query)) ?? (await query.execute());
    const row = rows[0];
    return row === undefined ? undefined : { score: num(row.score), seq: num(row.seq) };
  };

  const countOf = async (db: Db | Trx, board: string, now: number): Promise<number> => {
    const row = await db
      .selectFrom(t.boardBuckets)
      .select(sql<unknown>`COALESCE(SUM(${sql.ref("n")}), 0)`.as("n"))
      .where("board", "=", board)
      .where("level", "=", BUCKET_LEVELS)
      .where(live(board, now))
      .executeTakeFirst();
    return num(row?.n);
  };

  /** Ranks rows that follow each other on the board, given the first row's rank. */
  const ranked = (rows: readonly { user_id: unknown; score: unknown }[], firstPosition: number, firstRank: number, mode: RankMode): RankedEntry[] => {
    const out: RankedEntry[] = [];
    let rank = firstRank;
    let prev = Number.NaN;
    rows.forEach((row, i) => {
      const score = num(row.score);
      if (mode === "ordinal") rank = firstPosition + i + 1;
      // Within a page every score between two neighbours is present, so ranks follow by counting.
      else if (i > 0 && score !== prev) rank = mode === "standard" ? firstPosition + i + 1 : rank + 1;
      prev = score;
      out.push({ userId: String(row.user_id), score, rank });
    });
    return out;
  };

  /** The standard or dense rank of the best entry with `score` (the ordinal rank needs no query). */
  const rankOfScore = async (db: Db | Trx, board: string, score: number, position: number, mode: RankMode): Promise<number> => {
    // The top of the board ranks first in every mode.
    if (mode === "ordinal" || position === 0) return position + 1;
    const counts = await countsFor(db, board, score);
    return 1 + (mode === "standard" ? counts.above : counts.distinctAbove);
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
    return ranked(rows, offset, await rankOfScore(db, board, num(first.score), offset, mode), mode);
  };

  /**
   * Up to `before` entries ranked just above `(score, seq)`, the entry itself and up to `after`
   * below it, in board order: four index range scans from the user outwards, not an OFFSET.
   */
  const neighbours = async (db: Db | Trx, board: string, score: number, seq: number, before: number, after: number) => {
    // MariaDB otherwise reads these through the board prefix of the index and filters half a
    // million rows instead of a range scan on the score (its DESC key part defeats the choice).
    const e = dialect === "mysql" ? sql`${sql.table(t.boardEntries)} FORCE INDEX (${sql.id(`${t.boardEntries}_rank`)})` : sql.table(t.boardEntries);
    const cols = sql`user_id, score, seq`;
    const arms: RawBuilder<unknown>[] = [];
    if (before > 0) {
      arms.push(sql`(SELECT ${cols} FROM ${e} WHERE board = ${board} AND score = ${score} AND seq < ${seq} ORDER BY seq DESC LIMIT ${before})`);
      arms.push(sql`(SELECT ${cols} FROM ${e} WHERE board = ${board} AND score > ${score} ORDER BY score ASC, seq DESC LIMIT ${before})`);
    }
    arms.push(sql`(SELECT ${cols} FROM ${e} WHERE board = ${board} AND score = ${score} AND seq >= ${seq} ORDER BY seq ASC LIMIT ${after + 1})`);
    if (after > 0) arms.push(sql`(SELECT ${cols} FROM ${e} WHERE board = ${board} AND score < ${score} ORDER BY score DESC, seq ASC LIMIT ${after})`);
    const result = await sql<{ user_id: unknown; score: unknown; seq: unknown }>`${sql.join(arms, sql` UNION ALL `)}`.execute(db);
    const rows = result.rows
      .map((r) => ({ user_id: r.user_id, score: num(r.score), seq: num(r.seq) }))
      .sort((a, b) => b.score - a.score || a.seq - b.seq);
    const self = rows.findIndex((r) => r.score === score && r.seq === seq);
    if (self < 0) return [];
    return rows.slice(Math.max(0, self - before), self + after + 1);
  };

  /** Increments as score changes. */
  const adding = (updates: readonly Update[]): WriteUpdate[] =>
    updates.map((u) => ({
      board: u.board,
      expiresAt: u.expiresAt,
      next: (score) => {
        const total = (score ?? 0) + u.delta;
        checkScore(total, `score on board ${u.board}`);
        return total;
      },
    }));

  /** Runs reads that must agree with each other in one REPEATABLE READ snapshot. */
  const snapshot = <T>(what: string, work: (trx: Trx) => Promise<T>): Promise<T> => handle.transaction(what, work, "repeatable read");

  const store: LeaderboardStore = {
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
      return write(userId, adding(updates));
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
      // One statement needs no snapshot: ordinal ranks, or a page from the top, need no counts.
      if (mode === "ordinal" || offset === 0) return handle.run("leaderboard top", (db) => page(db, board, offset, limit, mode, now));
      return snapshot("leaderboard top", (trx) => page(trx, board, offset, limit, mode, now));
    },

    async rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null> {
      life.check();
      checkMode(mode);
      const now = clock();
      return handle.run("leaderboard rank", async (db) => {
        const rankFrom = (score: number, counts: Counts): RankedEntry => {
          const rank = mode === "ordinal" ? counts.above + counts.tiedBefore : mode === "standard" ? counts.above : counts.distinctAbove;
          return { userId, score, rank: rank + 1 };
        };
        // Two statements, no transaction: the counts re-read the user's entry, and when a write
        // moved it in between, count again for the new score; after a few tries, use a snapshot.
        let entry = await entryOf(db, board, userId, now);
        for (let attempt = 0; attempt < 3 && entry !== undefined; attempt++) {
          const counts = await countsFor(db, board, entry.score, { self: userId, ...(mode === "ordinal" ? { tiesBefore: entry.seq } : {}) });
          if (counts.self?.score === entry.score && counts.self.seq === entry.seq) return rankFrom(entry.score, counts);
          entry = counts.self;
        }
        if (entry === undefined) return null;
        return snapshot("leaderboard rank", async (trx) => {
          const settled = await entryOf(trx, board, userId, now);
          if (settled === undefined) return null;
          return rankFrom(settled.score, await countsFor(trx, board, settled.score, { tiesBefore: settled.seq }));
        });
      });
    },

    async around(board: string, userId: string, options: { radius: number; mode: RankMode }): Promise<RankedEntry[]> {
      life.check();
      const radius = checkCount(options.radius, "radius", { max: Number.MAX_SAFE_INTEGER });
      const mode = checkMode(options.mode);
      const now = clock();
      return snapshot("leaderboard around", async (trx) => {
        const entry = await entryOf(trx, board, userId, now);
        if (entry === undefined) return [];
        const counts = await countsFor(trx, board, entry.score, { tiesBefore: entry.seq, size: true });
        const position = counts.above + counts.tiedBefore;
        const width = 2 * radius + 1;
        // Shift the window off the edges so it stays full when the board is big enough.
        const start = Math.max(0, Math.min(position - radius, counts.size - width));
        const rows = await neighbours(trx, board, entry.score, entry.seq, position - start, start + width - 1 - position);
        const first = rows[0];
        if (first === undefined) return [];
        // The user's own counts give the first row's rank when it shares the user's score.
        const firstRank =
          mode === "ordinal" || first.score !== entry.score
            ? await rankOfScore(trx, board, first.score, start, mode)
            : 1 + (mode === "standard" ? counts.above : counts.distinctAbove);
        return ranked(rows, start, firstRank, mode);
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
      const exact = Number.isSafeInteger(score);
      return handle.run("leaderboard countAround", async (db) => {
        const expired = await db.selectFrom(t.boards).select("board").where("board", "=", board).where("expires_at", "<=", now).executeTakeFirst();
        if (expired !== undefined) return { above: 0, equal: 0 };
        const counts = await countsFor(db, board, floor, { equal: exact });
        return { above: counts.above, equal: counts.equal };
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
  fusedStores.set(store, {
    handle,
    prepare,
    lockStatement,
    increment: (trx, userId, updates, options) => writeIn(trx, userId, adding(updates), options),
    settle,
    plan: (updates, stored) => {
      const { running, expiring } = planScores(adding(updates), stored);
      const changed = changedBoards([...new Set(updates.map((u) => u.board))].sort(byString), stored, running);
      return {
        entries: changed.map((board) => ({ board, score: running.get(board) as number })),
        counters: mergeMoves(countMoves(changed, stored, running)),
        expiring,
      };
    },
  });
  return store;
}
