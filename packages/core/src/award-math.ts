import { GamifyError } from "./errors.js";
import type { AwardRequest } from "./types.js";

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
