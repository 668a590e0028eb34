import { GamifyError } from "./errors.js";
import type { GamifyEvent, LevelDownEvent, LevelUpEvent } from "./events.js";
import type { AwardOutcome, AwardRequest } from "./types.js";

/** The new total and level of one award, before anything is stored. */
export interface AwardStep {
  readonly previousTotal: number;
  readonly total: number;
  /** The applied change: the requested delta, unless a floor clamped it. */
  readonly delta: number;
  readonly previousLevel: number;
  readonly level: number;
}

/**
 * The arithmetic every storage applies inside its atomic step: floor clamping, the safe-integer
 * check and the level update. Exported so adapters that compute in JavaScript (inside a
 * transaction or a lock) agree exactly with the memory reference.
 *
 * @param storedLevel The level stored for the metric, or undefined when none is stored yet.
 * @throws GamifyError `OUT_OF_RANGE` when the total would leave the safe-integer range.
 */
export function computeAward(userId: string, request: AwardRequest, previousTotal: number, storedLevel: number | undefined): AwardStep {
  let total = previousTotal + request.delta;
  if (request.floor !== undefined && request.delta < 0) {
    // Clamp at the floor; a total already below it (floor added later) loses nothing.
    total = Math.max(total, Math.min(previousTotal, request.floor));
  }
  if (!Number.isSafeInteger(total)) {
    throw new GamifyError(
      "OUT_OF_RANGE",
      `Awarding ${request.delta} ${request.metric} to ${userId} would leave the safe-integer range (total ${previousTotal}); nothing was changed.`,
      { details: { userId, metric: request.metric, total: previousTotal, delta: request.delta } },
    );
  }
  let previousLevel = 0;
  let level = 0;
  if (request.level) {
    // A metric that gains levels later starts from the level of its current total: no retroactive level_ups.
    previousLevel = storedLevel ?? request.level.levelFor(previousTotal);
    const target = request.level.levelFor(total);
    level = request.level.followDown ? target : Math.max(previousLevel, target);
  }
  return { previousTotal, total, delta: total - previousTotal, previousLevel, level };
}

/**
 * The `level_up` (or, with `followDown`, `level_down`) events of one award: one per level crossed,
 * in order. Ids derive from the points event, so a replay reconstructs the very same events.
 * Storages append them to the log in the same atomic step as the points event.
 */
export function levelEvents(
  event: { readonly id: string; readonly userId: string; readonly at: number },
  metric: string,
  previousLevel: number,
  level: number,
): (LevelUpEvent | LevelDownEvent)[] {
  const events: (LevelUpEvent | LevelDownEvent)[] = [];
  const { id, userId, at } = event;
  for (let next = previousLevel + 1; next <= level; next++) {
    events.push({ id: `${id}:level:${next}`, type: "level_up", userId, at, metric, level: next, previousLevel: next - 1 });
  }
  for (let next = previousLevel - 1; next >= level; next--) {
    events.push({ id: `${id}:level:${next}`, type: "level_down", userId, at, metric, level: next, previousLevel: next + 1 });
  }
  return events;
}

/** What one user's `applyAwards` call must write, planned before anything is written. */
export interface AwardPlan {
  /** One per request, in order; replays carry `replayed: true`. */
  readonly outcomes: AwardOutcome[];
  /** New totals of the metrics the call changed. */
  readonly totals: Map<string, number>;
  /** New levels of the metrics that have a level policy. */
  readonly levels: Map<string, number>;
  /** Idempotency keys to record, with their outcomes. */
  readonly keys: Map<string, AwardOutcome>;
  /** Events to append, in order: each applied award's points event (unless its delta is 0), then its level events. */
  readonly events: GamifyEvent[];
}

/** What a storage has stored for the user, read inside its atomic step. */
export interface StoredAwardState {
  total(metric: string): number | undefined;
  level(metric: string): number | undefined;
  /** The outcome recorded under a live (unexpired) idempotency key. */
  replay(key: string): AwardOutcome | undefined;
}

/**
 * Plans an `applyAwards` call for storages that compute in JavaScript inside their atomic step
 * (a lock, a transaction): replays, floors, the safe-integer check, levels and the events to log,
 * all before anything is written, so `OUT_OF_RANGE` leaves nothing half-applied.
 *
 * @throws GamifyError `OUT_OF_RANGE` when a total would leave the safe-integer range.
 */
export function planAwards(userId: string, requests: readonly AwardRequest[], stored: StoredAwardState): AwardPlan {
  const plan: AwardPlan = { outcomes: [], totals: new Map(), levels: new Map(), keys: new Map(), events: [] };
  for (const request of requests) {
    const key = request.idempotencyKey;
    const replayed = key === undefined ? undefined : (plan.keys.get(key) ?? stored.replay(key));
    if (replayed) {
      plan.outcomes.push({ ...replayed, replayed: true });
      continue;
    }
    const { metric } = request;
    const step = computeAward(userId, request, plan.totals.get(metric) ?? stored.total(metric) ?? 0, plan.levels.get(metric) ?? stored.level(metric));
    plan.totals.set(metric, step.total);
    if (request.level) plan.levels.set(metric, step.level);
    const event = { ...request.event, delta: Math.abs(step.delta), total: step.total };
    const outcome: AwardOutcome = { replayed: false, ...step, event };
    if (key !== undefined) plan.keys.set(key, outcome);
    plan.outcomes.push(outcome);
    if (step.delta !== 0) plan.events.push(event);
    plan.events.push(...levelEvents(event, metric, step.previousLevel, step.level));
  }
  return plan;
}
