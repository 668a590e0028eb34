import { GamifyError, planAwards, type AwardOutcome, type AwardPlan, type AwardRequest, type GamifyEvent } from "@gamifykit/core";
import { sql, type RawBuilder } from "kysely";
import { BUCKET_BITS, BUCKET_LEVELS } from "./buckets.js";
import { byString } from "./dialect.js";
import { num, type Row } from "./connection.js";
import type { BoardPlan, CounterMove, FusedBoards } from "./leaderboards.js";
import type { SqlDialectName } from "./options.js";
import type { Tables } from "./tables.js";

/** What an award planned from: the user's stored totals, levels, board scores and live idempotency records. */
export interface StoredState {
  readonly totals: ReadonlyMap<string, number>;
  readonly levels: ReadonlyMap<string, number>;
  readonly scores: ReadonlyMap<string, number>;
  readonly replays: ReadonlyMap<string, AwardOutcome>;
}

/** What one `applyAwards` call names. */
export interface AwardScope {
  readonly userId: string;
  readonly metrics: readonly string[];
  /** The boards the call moves (empty unless the storage moves its sibling store's boards). */
  readonly boards: readonly string[];
  readonly keys: readonly string[];
}

/** The metrics, boards and idempotency keys a call names, each once. */
export function scopeOf(userId: string, requests: readonly AwardRequest[], withBoards: boolean): AwardScope {
  return {
    userId,
    metrics: [...new Set(requests.map((r) => r.metric))],
    boards: withBoards ? [...new Set(requests.flatMap((r) => (r.boards ?? []).map((b) => b.board)))] : [],
    keys: [...new Set(requests.flatMap((r) => (r.idempotencyKey === undefined ? [] : [r.idempotencyKey])))],
  };
}

/** `column IN (values)`: `= ANY($n)` on PostgreSQL, so the text (and its prepared statement) does not vary with the count. */
function within(dialect: SqlDialectName, column: string, values: readonly string[]): RawBuilder<unknown> {
  return dialect === "postgres" ? sql`${sql.ref(column)} = ANY(${[...values]})` : sql`${sql.ref(column)} IN (${sql.join(values)})`;
}

/**
 * One read of everything a plan needs, as rows (k, name, v, l, o): k 0 points (metric, total,
 * level), 1 board entries (board, score), 2 live idempotency records (key, outcome). The award
 * routine returns its state in the same shape.
 */
export function stateQuery(dialect: SqlDialectName, t: Tables, scope: AwardScope, now: number): RawBuilder<Row> {
  const { userId } = scope;
  const arms = [
    sql`SELECT 0 AS k, metric AS name, total AS v, level AS l, NULL AS o FROM ${sql.table(t.points)} WHERE user_id = ${userId} AND ${within(dialect, "metric", scope.metrics)}`,
  ];
  if (scope.boards.length > 0) {
    arms.push(sql`SELECT 1, board, score, NULL, NULL FROM ${sql.table(t.boardEntries)} WHERE user_id = ${userId} AND ${within(dialect, "board", scope.boards)}`);
  }
  if (scope.keys.length > 0) {
    arms.push(
      sql`SELECT 2, idem_key, NULL, NULL, outcome FROM ${sql.table(t.idempotency)} WHERE user_id = ${userId} AND ${within(dialect, "idem_key", scope.keys)} AND expires_at > ${now}`,
    );
  }
  return sql<Row>`${sql.join(arms, sql` UNION ALL `)}`;
}

/** The state in rows from {@link stateQuery} (rows with a negative k are markers and skipped). */
export function stateFromRows(rows: readonly Row[]): StoredState {
  const totals = new Map<string, number>();
  const levels = new Map<string, number>();
  const scores = new Map<string, number>();
  const replays = new Map<string, AwardOutcome>();
  for (const row of rows) {
    const kind = num(row["k"]);
    const name = String(row["name"]);
    if (kind === 0) {
      totals.set(name, num(row["v"]));
      if (row["l"] !== null && row["l"] !== undefined) levels.set(name, num(row["l"]));
    } else if (kind === 1) scores.set(name, num(row["v"]));
    else if (kind === 2) replays.set(name, JSON.parse(String(row["o"])) as AwardOutcome);
  }
  return { totals, levels, scores, replays };
}

/** The board increments of an award: each applied, non-replayed change, to each of its boards. */
export function boardMoves(requests: readonly AwardRequest[], outcomes: readonly AwardOutcome[]) {
  return requests.flatMap((request, i) => {
    const outcome = outcomes[i];
    if (outcome === undefined || outcome.replayed || outcome.delta === 0) return [];
    const delta = outcome.delta;
    return (request.boards ?? []).map(({ board, expiresAt }) => (expiresAt === undefined ? { board, delta } : { board, delta, expiresAt }));
  });
}

/** An event as one row of the log: the JSON body plus the columns countEvents filters on. */
export function eventRow(event: GamifyEvent) {
  return {
    user_id: event.userId,
    type: event.type,
    action: event.type === "action" ? event.action : null,
    at: event.at,
    body: JSON.stringify(event),
  };
}

/** A call planned from a state: core's plan, and the board changes when the storage moves boards. */
export interface PlannedCall extends AwardPlan {
  readonly boards: BoardPlan | undefined;
}

/** Core's plan of `requests` from a stored state (throws OUT_OF_RANGE when a total would overflow). */
export function planFromState(userId: string, requests: readonly AwardRequest[], state: StoredState): AwardPlan {
  return planAwards(userId, requests, {
    total: (metric) => state.totals.get(metric),
    level: (metric) => state.levels.get(metric),
    replay: (key) => state.replays.get(key),
  });
}

/** Plans a call from `state` (throws OUT_OF_RANGE, having written nothing, when a total or score would overflow). */
export function planCall(scope: AwardScope, requests: readonly AwardRequest[], state: StoredState, boards: FusedBoards | undefined): PlannedCall {
  const plan = planFromState(scope.userId, requests, state);
  const moves = boards === undefined ? [] : boardMoves(requests, plan.outcomes);
  return { ...plan, boards: boards === undefined || moves.length === 0 ? undefined : boards.plan(moves, state.scores) };
}

/** True when the plan writes nothing (every request replayed): nothing changes, not even updatedAt. */
export function writesNothing(plan: PlannedCall): boolean {
  return plan.totals.size === 0 && plan.events.length === 0 && plan.keys.size === 0 && plan.boards === undefined;
}


/**
 * The buckets the counter changes move, in key order, each with its entry change `n` and the
 * counters feeding it (`c1`, `c2`: indexes into `counters`), so the MySQL routine only adds up the
 * distinct-score changes it learns from the counters instead of grouping in SQL. A board moves at
 * most two counters (the old and the new score), so a bucket is fed by one or two.
 */
export function bucketMoves(counters: readonly CounterMove[]) {
  const rows = new Map<string, { b: string; l: number; k: number; n: number; feeds: number[] }>();
  counters.forEach((counter, i) => {
    for (let level = 1; level <= BUCKET_LEVELS; level++) {
      const bucket = Math.floor(counter.score / 2 ** (BUCKET_BITS * level));
      const key = `${level}\u0000${bucket}\u0000${counter.board}`;
      const row = rows.get(key) ?? { b: counter.board, l: level, k: bucket, n: 0, feeds: [] };
      row.n += counter.n;
      row.feeds.push(i);
      rows.set(key, row);
    }
  });
  return [...rows.values()]
    .sort((x, y) => byString(x.b, y.b) || x.l - y.l || x.k - y.k)
    .map(({ b, l, k, n, feeds }) => {
      if (feeds.length > 2) throw new GamifyError("INTERNAL", `A bucket of board ${b} is fed by ${feeds.length} score counters in one award; please report this.`);
      return { b, l, k, n, c1: feeds[0], c2: feeds[1] };
    });
}

/**
 * The plan as the award routine reads it (see award-routine.ts): what to write, and the state it
 * was planned from. Absent values are left out (JSON null and a missing key both read as NULL).
 */
export function planDocument(dialect: SqlDialectName, scope: AwardScope, now: number, state: StoredState, plan: PlannedCall, ttl: number): string {
  const newScores = new Map((plan.boards?.entries ?? []).map((e) => [e.board, e.score]));
  return JSON.stringify({
    u: scope.userId,
    now,
    p: scope.metrics.map((m) => ({ m, st: state.totals.get(m), sl: state.levels.get(m), t: plan.totals.get(m), l: plan.levels.get(m) })),
    k: scope.keys,
    sk: scope.keys.filter((key) => state.replays.has(key)),
    r: [...plan.keys].sort(([a], [b]) => byString(a, b)).map(([k, outcome]) => ({ k, o: JSON.stringify(outcome) })),
    x: now + ttl,
    e: plan.events.map((event) => {
      const row = eventRow(event);
      return { t: row.type, a: row.action ?? undefined, at: row.at, b: row.body };
    }),
    b: scope.boards.map((b) => ({ b, ss: state.scores.get(b), s: newScores.get(b) })),
    bx: (plan.boards?.expiring ?? []).map(([b, x]) => ({ b, x })),
    c: (plan.boards?.counters ?? []).map((c) => ({ b: c.board, s: c.score, n: c.n })),
    // Only the MySQL routine reads these; PostgreSQL groups the counters itself.
    q: dialect === "mysql" ? bucketMoves(plan.boards?.counters ?? []) : undefined,
  });
}
