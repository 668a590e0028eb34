import { GamifyError, type AwardOutcome, type AwardRequest, type EventPage, type GamifyEvent, type LeaderboardStore, type Storage, type UserPage, type UserState } from "@gamifykit/core";
import { sql } from "kysely";
import { boardMoves, eventRow, planCall, planDocument, planFromState, scopeOf, stateFromRows, stateQuery, writesNothing, type AwardScope, type StoredState } from "./award-plan.js";
import { awardRoutineName } from "./award-routine.js";
import { Lifecycle, SqlHandle, num, type Db, type Row, type Trx } from "./connection.js";
import { isMissingRoutine, wrapError } from "./errors.js";
import { byString, executeAll, insertIgnore, upsert, type Compilable } from "./dialect.js";
import { fusedBoards } from "./leaderboards.js";
import type { SqlStorageOptions } from "./options.js";
import { KeyedQueue } from "./queue.js";

/** How long idempotency keys are remembered unless told otherwise: 24 hours. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 86_400_000;
/** Expired idempotency keys are deleted at most this often per storage instance. */
const SWEEP_INTERVAL_MS = 60_000;
/**
 * Plans sent to the award routine per call before the locking path takes over: the first, and one
 * planned from the state the routine returned. A user who changed under both is contended (other
 * processes award it at the same time): the routine would mostly lose again, while row locks queue
 * the writers fairly, so that user's awards take the locking path for a while.
 */
const ROUTINE_ATTEMPTS = 2;
/** How long a contended user's awards take the locking path. */
const CONTENDED_MS = 5_000;
/** Contended users remembered per storage; the map is cleared past this size. */
const MAX_CONTENDED = 10_000;
/** A missing award routine (tables not migrated to 0003) is looked for again after this long. */
const ROUTINE_RECHECK_MS = 60_000;
/** The award routine's first row when it applied the plan. */
const APPLIED = -1;
/** Nothing stored: the state a plan starts from when none was read. */
const EMPTY_STATE: StoredState = { totals: new Map(), levels: new Map(), scores: new Map(), replays: new Map() };

/** Parses a cursor this storage issued (a row id), or throws INVALID_ARGUMENT. */
function parseCursor(cursor: unknown): number {
  const n = typeof cursor === "string" && /^\d{1,16}$/.test(cursor) ? Number(cursor) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new GamifyError("INVALID_ARGUMENT", `cursor ${JSON.stringify(cursor)} is not one this storage returned; pass nextCursor from the previous page.`, {
      details: { field: "cursor" },
    });
  }
  return n;
}

/** Validates the idempotency retention. */
export function checkTtl(ttl: unknown): number {
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new GamifyError("INVALID_ARGUMENT", `idempotencyTtlMs must be a positive integer number of milliseconds; got ${String(ttl)}.`, {
      details: { field: "idempotencyTtlMs" },
    });
  }
  return ttl;
}

/**
 * A {@link Storage} on PostgreSQL or MySQL/MariaDB. Every write for a user first upserts and
 * thereby locks the user's row, so all writes for one user are serialised (no lost updates, no
 * lock-order deadlocks) while different users proceed in parallel. An award is two round trips: a
 * lock-free read, then the award routine (migration 0003), which applies the plan made from that
 * read only if the state is unchanged under the lock (a compare-and-set), else returns the current
 * state to plan from again; a user contended by other processes falls back to one locking
 * transaction. Deadlocks and serialization failures are retried. Run {@link migrate} first.
 *
 * @example
 * const storage = sqlStorage({ url: "postgres://app@localhost/app" });
 * const gk = createGamify({ storage });
 */
export function sqlStorage(options: SqlStorageOptions): Storage {
  const ttl = checkTtl(options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS);
  return createSqlStorage(new SqlHandle(options), ttl);
}

/** Builds the storage on a shared handle (used by {@link sqlStores}). */
export function createSqlStorage(handle: SqlHandle, ttl: number, leaderboards?: LeaderboardStore): Storage {
  const { dialect, tables: t } = handle;
  const life = new Lifecycle(handle, "storage");
  let lastSweep = 0;
  let sweeping: Promise<void> | undefined;
  const queue = new KeyedQueue();
  const boards = leaderboards === undefined ? undefined : fusedBoards(leaderboards);
  const routineId = dialect === "postgres" ? `"${awardRoutineName(t)}"` : `\`${awardRoutineName(t)}\``;
  /** When the award routine was last found missing: the locking path runs for a while after. */
  let routineMissingAt = Number.NEGATIVE_INFINITY;
  /** Users whose awards take the locking path until the time stored (see {@link ROUTINE_ATTEMPTS}). */
  const contended = new Map<string, number>();
  if (leaderboards !== undefined && boards?.handle !== handle) {
    throw new GamifyError("INTERNAL", "A SQL storage moves only the boards of a leaderboard store on its own connection; build both with sqlStores.");
  }

  /**
   * Creates the user's row if needed and locks it for the rest of the transaction. One statement:
   * an upsert locks the existing row, or inserts (and so owns) a new one.
   */
  const lockUser = async (trx: Trx, userId: string, at: number, touch: boolean): Promise<void> => {
    await lockStatement(trx, userId, at, touch).execute();
  };

  /** The upsert of {@link lockUser}, to run on its own or with other statements. */
  const lockStatement = (trx: Trx, userId: string, at: number, touch: boolean) =>
    upsert(dialect, t.users, trx.insertInto(t.users).values({ user_id: userId, created_at: at, updated_at: at }), ["user_id"], (incoming, stored) => ({
      updated_at: touch ? incoming("updated_at") : stored("updated_at"),
    }));

  /** Locks an existing user's row; false when the user is unknown. */
  const lockExisting = async (trx: Trx, userId: string): Promise<boolean> => {
    const row = await trx.selectFrom(t.users).select("user_id").where("user_id", "=", userId).forUpdate().executeTakeFirst();
    return row !== undefined;
  };

  const bumpUpdatedAt = (trx: Trx, userId: string, at: number) =>
    trx
      .updateTable(t.users)
      .set({ updated_at: sql`GREATEST(${sql.ref("updated_at")}, ${at})` })
      .where("user_id", "=", userId)
      .execute();

  const sweepKeys = (now: number): void => {
    const wall = Date.now();
    if (sweeping !== undefined || wall - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = wall;
    // Best effort and off the award's path; close() waits for it.
    sweeping = handle
      .run("idempotency sweep", (db) => db.deleteFrom(t.idempotency).where("expires_at", "<=", now).execute())
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        sweeping = undefined;
      });
  };

  /**
   * The locking path: in a transaction, lock the user's rows, read, plan and write. Used when the
   * award routine is missing (tables not migrated to 0003) or keeps losing races for a hot user.
   */
  const lockedAward = async (trx: Trx, scope: AwardScope, requests: readonly AwardRequest[], now: number, expiring: (readonly [string, number])[]): Promise<AwardOutcome[]> => {
    const { userId } = scope;
    // Lock the user's row and, with boards, the board store's per-user row: one statement on
    // PostgreSQL. No other writer takes both rows, so their order cannot deadlock with anyone.
    await executeAll(dialect, trx, boards !== undefined && scope.boards.length > 0 ? [lockStatement(trx, userId, now, true), boards.lockStatement(trx, userId)] : [lockStatement(trx, userId, now, true)]);
    // Then everything the plan needs in one read, taken after the locks so no write can slip in.
    const state = stateFromRows((await stateQuery(dialect, t, scope, now).execute(trx)).rows);

    // Plan every request before writing, so OUT_OF_RANGE writes nothing.
    const { outcomes, totals, levels, keys: recorded, events } = planFromState(userId, requests, state);

    // The applied delta goes to the award's boards (a replay or a clamped-away change moves none).
    const moves = boards === undefined ? [] : boardMoves(requests, outcomes);
    const statements: Compilable[] = [];
    if (totals.size > 0) {
      const rows = [...totals].map(([metric, total]) => ({ user_id: userId, metric, total, level: levels.get(metric) ?? null }));
      statements.push(
        upsert(dialect, t.points, trx.insertInto(t.points).values(rows), ["user_id", "metric"], (incoming, stored) => ({
          total: incoming("total"),
          // A request without a level policy keeps the level stored earlier.
          level: sql`COALESCE(${incoming("level")}, ${stored("level")})`,
        })),
      );
    }
    // One multi-row insert keeps the log in plan order (points event, then its level events).
    if (events.length > 0) statements.push(trx.insertInto(t.events).values(events.map(eventRow)));
    if (recorded.size > 0) {
      const rows = [...recorded]
        .sort(([a], [b]) => byString(a, b))
        .map(([key, outcome]) => ({ user_id: userId, idem_key: key, outcome: JSON.stringify(outcome), expires_at: now + ttl }));
      // Upsert: an expired key's row may still be there, waiting for the sweep.
      statements.push(
        upsert(dialect, t.idempotency, trx.insertInto(t.idempotency).values(rows), ["user_id", "idem_key"], (incoming) => ({
          outcome: incoming("outcome"),
          expires_at: incoming("expires_at"),
        })),
      );
    }
    if (boards !== undefined && moves.length > 0) {
      // The board writes run with these (one statement on PostgreSQL).
      expiring.push(...(await boards.increment(trx, userId, moves, { stored: state.scores, alongside: statements })).expiring);
    } else {
      // Writes to different tables, none reading another's: one statement on PostgreSQL.
      await executeAll(dialect, trx, statements);
    }
    return outcomes;
  };

  /** Runs the award routine on a plan document (in `trx` when given); the rows it returns. */
  const callRoutine = async (doc: string, trx?: Trx): Promise<Row[]> => {
    if (dialect === "postgres") {
      const call = sql<Row>`SELECT k, name, v, l, o FROM ${sql.raw(routineId)}(${doc}::jsonb)`;
      return trx === undefined ? handle.rows(call) : (await call.execute(trx)).rows;
    }
    // A CALL answers with its result sets and a status packet; an applied plan has no result set.
    const { rows } = await sql<Row>`CALL ${sql.raw(routineId)}(${doc})`.execute(await handle.db());
    const first: unknown = rows[0];
    return Array.isArray(first) ? (first as Row[]) : [{ k: APPLIED }];
  };

  type Applied = { readonly outcomes: AwardOutcome[]; readonly expiring: readonly (readonly [string, number])[] };

  /**
   * Plans from `state` and sends the plan to the routine; the outcomes when it applied, else the
   * current state it returned.
   */
  const attempt = async (scope: AwardScope, requests: readonly AwardRequest[], now: number, state: StoredState, trx?: Trx): Promise<Applied | StoredState> => {
    // Plan every request before writing, so OUT_OF_RANGE writes nothing.
    const plan = planCall(scope, requests, state, boards);
    if (writesNothing(plan)) return { outcomes: plan.outcomes, expiring: [] };
    const rows = await callRoutine(planDocument(dialect, scope, now, state, plan, ttl), trx);
    if (rows.length > 0 && num(rows[0]?.["k"]) === APPLIED) return { outcomes: plan.outcomes, expiring: plan.boards?.expiring ?? [] };
    return stateFromRows(rows);
  };
  const applied = (result: Applied | StoredState): result is Applied => "outcomes" in result;

  /**
   * The optimistic path, two round trips: read the state without a lock, plan in JavaScript, and
   * have the award routine apply the plan if the state is unchanged under the user's lock (else it
   * returns the current state to plan from again). Undefined when the routine is missing; the
   * last state seen when the user kept changing (it is then marked contended).
   */
  const routineAward = async (scope: AwardScope, requests: readonly AwardRequest[], now: number): Promise<Applied | StoredState | undefined> => {
    try {
      let state = stateFromRows(await handle.rows(stateQuery(dialect, t, scope, now)));
      for (let n = 0; n < ROUTINE_ATTEMPTS; n++) {
        const result = await handle.retrying(() => attempt(scope, requests, now, state));
        if (applied(result)) return result;
        state = result;
      }
      if (contended.size >= MAX_CONTENDED) contended.clear();
      contended.set(scope.userId, Date.now() + CONTENDED_MS);
      return state;
    } catch (error) {
      if (isMissingRoutine(error, routineId)) {
        routineMissingAt = Date.now();
        return undefined;
      }
      throw wrapError(error, "award");
    }
  };

  /**
   * The locking path through the routine (PostgreSQL, where the routine runs inside the caller's
   * transaction): a mismatch leaves the user's rows locked by this transaction, so the plan made
   * from the state it returns applies on the next call. BEGIN, one or two calls, COMMIT; the lock is
   * held from the first call to the commit.
   */
  const lockedRoutineAward = (scope: AwardScope, requests: readonly AwardRequest[], now: number, known: StoredState): Promise<Applied> =>
    handle.transaction("award", async (trx) => {
      const first = await attempt(scope, requests, now, known, trx);
      if (applied(first)) return first;
      const second = await attempt(scope, requests, now, first, trx);
      if (applied(second)) return second;
      throw new GamifyError("INTERNAL", `The award routine found ${scope.userId}'s state changed while this transaction held the user's lock; please report this.`);
    });

  /** Whether the award routine is there (not found missing within the last minute). */
  const routineUsable = (): boolean => Date.now() - routineMissingAt >= ROUTINE_RECHECK_MS;

  /** Whether the user's awards take the locking path for now (see {@link ROUTINE_ATTEMPTS}). */
  const isContended = (userId: string): boolean => {
    const until = contended.get(userId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    contended.delete(userId);
    return false;
  };

  const pageOf = <T>(rows: readonly T[], limit: number, after: number, id: (row: T) => number) => {
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor = rows.length > limit ? String(last === undefined ? after : id(last)) : null;
    return { page, nextCursor };
  };

  return {
    name: `sql-${dialect}`,
    ...(leaderboards === undefined ? {} : { leaderboards }),

    async applyAwards(userId: string, requests: readonly AwardRequest[], now: number): Promise<AwardOutcome[]> {
      life.check();
      if (requests.length === 0) return [];
      const scope = scopeOf(userId, requests, boards !== undefined);
      if (boards !== undefined) await boards.prepare(scope.boards);
      const expiring: (readonly [string, number])[] = [];
      const outcomes = await queue.run(userId, async () => {
        const routine = routineUsable();
        const viaRoutine = routine && !isContended(userId) ? await routineAward(scope, requests, now) : undefined;
        if (viaRoutine !== undefined && applied(viaRoutine)) {
          expiring.push(...viaRoutine.expiring);
          return viaRoutine.outcomes;
        }
        if (dialect === "postgres" && routineUsable()) {
          const result = await lockedRoutineAward(scope, requests, now, viaRoutine ?? EMPTY_STATE);
          expiring.push(...result.expiring);
          return result.outcomes;
        }
        return handle.transaction("award", (trx) => {
          // A retried transaction starts over.
          expiring.length = 0;
          return lockedAward(trx, scope, requests, now, expiring);
        });
      });
      boards?.settle(expiring);
      sweepKeys(now);
      return outcomes;
    },

    async getUser(userId: string): Promise<UserState | null> {
      life.check();
      return handle.run("getUser", async (db: Db) => {
        const user = await db.selectFrom(t.users).select(["created_at", "updated_at"]).where("user_id", "=", userId).executeTakeFirst();
        if (user === undefined) return null;
        const points = await db.selectFrom(t.points).select(["metric", "total", "level"]).where("user_id", "=", userId).execute();
        const badges = await db.selectFrom(t.badges).select(["badge", "awarded_at"]).where("user_id", "=", userId).execute();
        return {
          userId,
          points: Object.fromEntries(points.map((row) => [String(row.metric), num(row.total)])),
          badges: Object.fromEntries(badges.map((row) => [String(row.badge), { awardedAt: num(row.awarded_at) }])),
          levels: Object.fromEntries(points.filter((row) => row.level !== null).map((row) => [String(row.metric), num(row.level)])),
          createdAt: num(user.created_at),
          updatedAt: num(user.updated_at),
        };
      });
    },

    async awardBadge(userId: string, badge: string, event: GamifyEvent) {
      life.check();
      return queue.run(userId, () => handle.transaction("awardBadge", async (trx) => {
        await lockUser(trx, userId, event.at, false);
        const inserted = await insertIgnore(dialect, trx.insertInto(t.badges).values({ user_id: userId, badge, awarded_at: event.at })).executeTakeFirst();
        if (num(inserted.numInsertedOrUpdatedRows) > 0) {
          await trx.insertInto(t.events).values(eventRow(event)).execute();
          await bumpUpdatedAt(trx, userId, event.at);
          return { awarded: true, awardedAt: event.at };
        }
        const held = await trx.selectFrom(t.badges).select("awarded_at").where("user_id", "=", userId).where("badge", "=", badge).executeTakeFirstOrThrow();
        return { awarded: false, awardedAt: num(held.awarded_at) };
      }));
    },

    async revokeBadge(userId: string, badge: string, event: GamifyEvent) {
      life.check();
      return queue.run(userId, () => handle.transaction("revokeBadge", async (trx) => {
        if (!(await lockExisting(trx, userId))) return false;
        const deleted = await trx.deleteFrom(t.badges).where("user_id", "=", userId).where("badge", "=", badge).executeTakeFirst();
        if (num(deleted.numDeletedRows) === 0) return false;
        await trx.insertInto(t.events).values(eventRow(event)).execute();
        await bumpUpdatedAt(trx, userId, event.at);
        return true;
      }));
    },

    async claimOnce(userId: string, key: string, at: number) {
      life.check();
      return queue.run(userId, () => handle.transaction("claimOnce", async (trx) => {
        await lockUser(trx, userId, at, false);
        const inserted = await insertIgnore(dialect, trx.insertInto(t.claims).values({ user_id: userId, claim_key: key, claimed_at: at })).executeTakeFirst();
        return num(inserted.numInsertedOrUpdatedRows) > 0;
      }));
    },

    async appendEvents(events: readonly GamifyEvent[]) {
      life.check();
      if (events.length === 0) return;
      const firstAt = new Map<string, number>();
      for (const event of events) if (!firstAt.has(event.userId)) firstAt.set(event.userId, event.at);
      await handle.transaction("appendEvents", async (trx) => {
        // Users in a fixed order, so two calls naming the same users cannot deadlock.
        for (const userId of [...firstAt.keys()].sort()) await lockUser(trx, userId, firstAt.get(userId) as number, false);
        await trx.insertInto(t.events).values(events.map(eventRow)).execute();
      });
    },

    async readEvents(userId: string, { cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<EventPage> {
      life.check();
      const after = cursor === undefined ? 0 : parseCursor(cursor);
      return handle.run("readEvents", async (db) => {
        const rows = await db
          .selectFrom(t.events)
          .select(["id", "body"])
          .where("user_id", "=", userId)
          .where("id", ">", after)
          .orderBy("id")
          .limit(limit + 1)
          .execute();
        const { page, nextCursor } = pageOf(rows, limit, after, (row) => num(row.id));
        return { events: page.map((row) => JSON.parse(String(row.body)) as GamifyEvent), nextCursor };
      });
    },

    async countEvents(userId, { type, action, since }) {
      life.check();
      return handle.run("countEvents", async (db) => {
        let query = db
          .selectFrom(t.events)
          .select((eb) => eb.fn.countAll().as("n"))
          .where("user_id", "=", userId)
          .where("type", "=", type);
        if (action !== undefined) query = query.where("action", "=", action);
        if (since !== undefined) query = query.where("at", ">=", since);
        const row = await query.executeTakeFirst();
        return num(row?.n);
      });
    },

    async deleteUser(userId: string) {
      life.check();
      return queue.run(userId, () =>
        handle.transaction("deleteUser", async (trx) => {
          if (!(await lockExisting(trx, userId))) return false;
          for (const table of [t.points, t.badges, t.claims, t.idempotency, t.events]) {
            await trx.deleteFrom(table).where("user_id", "=", userId).execute();
          }
          await trx.deleteFrom(t.users).where("user_id", "=", userId).execute();
          return true;
        }),
      );
    },

    async listUsers({ cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<UserPage> {
      life.check();
      const after = cursor === undefined ? 0 : parseCursor(cursor);
      return handle.run("listUsers", async (db) => {
        const rows = await db
          .selectFrom(t.users)
          .select(["seq", "user_id"])
          .where("seq", ">", after)
          .orderBy("seq")
          .limit(limit + 1)
          .execute();
        const { page, nextCursor } = pageOf(rows, limit, after, (row) => num(row.seq));
        return { userIds: page.map((row) => String(row.user_id)), nextCursor };
      });
    },

    async health() {
      life.check();
      await handle.run("health check", (db) => sql`select 1`.execute(db));
    },

    async close() {
      if (life.isClosed) return;
      await sweeping;
      await life.close();
    },
  };
}
