/**
 * What the router needs from the realtime hub (built by `createRealtime` in ./realtime/). Kept
 * structural so the router depends only on these two calls.
 */
import type { Principal } from "./middleware/index.js";

/** Which events a realtime client receives. */
export interface RealtimeFilter {
  /** Only this user's events. */
  readonly userId?: string;
  /** Only events that move this metric's leaderboards. */
  readonly leaderboard?: string;
}

/** The realtime hub's surface the router and the Node upgrade hook call. */
export interface RealtimeHub {
  /** Answers GET /v1/events with a `text/event-stream` response (honours Last-Event-ID). */
  handleSse(request: Request, filter: RealtimeFilter, principal: Principal): Response | Promise<Response>;
  /** Completes a WebSocket upgrade on a Node socket already authorised by the router. */
  handleUpgrade(req: unknown, socket: unknown, head: unknown, filter: RealtimeFilter): void;
}
