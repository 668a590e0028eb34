import { GamifyError, checkMetric, checkUserId, type GamifyEvent } from "@gamifykit/core";
import type { Principal } from "../middleware/index.js";

/** Which events a realtime client receives; both fields narrow, none means every event. */
export interface RealtimeFilter {
  /** Only this user's events. */
  readonly userId?: string | undefined;
  /** Only events that move this metric's leaderboards (a metric name). */
  readonly leaderboard?: string | undefined;
}

/**
 * Event types that move a metric's leaderboards. Matched by name, with the event's `metric`
 * field, so leaderboard events added to core later match without a change here.
 */
const LEADERBOARD_TYPES: ReadonlySet<string> = new Set([
  "points_added",
  "points_removed",
  "level_up",
  "level_down",
  "leaderboard_rank_changed",
  "leaderboard_finished",
]);

/** Validates a filter's fields (the engine's own user id and metric rules) and drops empty ones. */
export function checkFilter(filter: RealtimeFilter): RealtimeFilter {
  return {
    ...(filter.userId === undefined ? {} : { userId: checkUserId(filter.userId) }),
    ...(filter.leaderboard === undefined ? {} : { leaderboard: checkMetric(filter.leaderboard) }),
  };
}

/** True when the event passes the filter. */
export function matches(event: GamifyEvent, filter: RealtimeFilter): boolean {
  if (filter.userId !== undefined && event.userId !== filter.userId) return false;
  if (filter.leaderboard !== undefined) {
    if (!LEADERBOARD_TYPES.has(event.type)) return false;
    if ((event as { readonly metric?: unknown }).metric !== filter.leaderboard) return false;
  }
  return true;
}

/**
 * Defence in depth behind the router's authorisation: a user token may only watch its own user,
 * and must say so with a `userId` filter.
 */
export function checkMayWatch(principal: Principal | undefined, filter: RealtimeFilter): void {
  if (principal?.kind !== "jwt" || principal.role !== "user") return;
  const own = principal.userId ?? principal.subject;
  if (filter.userId !== own) {
    throw new GamifyError("PERMISSION_DENIED", "A user token may only watch its own events: add ?userId=<your user id> to the request.", {
      details: { field: "userId" },
    });
  }
}
