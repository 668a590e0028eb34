/** Actions in, events out: tracking, the event history, and the realtime feed (SSE and WebSocket). */
import { GamifyError } from "@gamifykit/core";
import { z } from "zod";
import { RequestError } from "../problem.js";
import { defineRoute, json, type RawInput } from "../route.js";
import type { Access } from "../middleware/index.js";
import type { RealtimeFilter } from "../realtime-types.js";
import { ActionBody, ActionEvent, EventPage, EventsQuery, StreamQuery, UserParams, WebSocketQuery } from "../schemas.js";

export const trackAction = defineRoute({
  id: "trackAction",
  method: "POST",
  path: "/v1/users/{userId}/actions",
  summary: "Record something a user did (for count rules and analytics)",
  tag: "events",
  access: "admin",
  params: UserParams,
  body: { schema: ActionBody, required: true },
  responses: { 200: { description: "The recorded action event.", schema: ActionEvent } },
  async serve({ gk, params, body }) {
    const options = {
      ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
      ...(body.at === undefined ? {} : { at: body.at }),
    };
    return json(await gk.track(params.userId, body.action, options));
  },
});

export const userEvents = defineRoute({
  id: "listUserEvents",
  method: "GET",
  path: "/v1/users/{userId}/events",
  summary: "A user's event history, oldest first, by pages",
  description: "Follow `nextCursor` until it is null. An unknown user has an empty history.",
  tag: "events",
  access: ({ params }) => ({ self: params["userId"] ?? "" }),
  params: UserParams,
  query: EventsQuery,
  responses: { 200: { description: "A page of events.", schema: EventPage } },
  async serve({ gk, params, query }) {
    return json(await gk.events(params.userId, { limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) }));
  },
});

/** A user token may only follow its own user, so a stream filtered by user needs that user; otherwise a reader. */
export const streamAccess = ({ query }: RawInput): Access => {
  const userId = query.get("userId");
  return userId === null ? "reader" : { self: userId };
};

/** The filter of a validated stream query. */
export function toFilter(query: { userId?: string | undefined; leaderboard?: string | undefined }): RealtimeFilter {
  return {
    ...(query.userId === undefined ? {} : { userId: query.userId }),
    ...(query.leaderboard === undefined ? {} : { leaderboard: query.leaderboard }),
  };
}

export function realtimeOff(): GamifyError {
  return new GamifyError(
    "NOT_FOUND",
    "Realtime is not enabled on this server. Pass realtime: createRealtime(gk) to createGamifyHandler (and call attachWebSocket(server, handler) for WebSocket).",
  );
}

export const eventStream = defineRoute({
  id: "streamEvents",
  method: "GET",
  path: "/v1/events",
  summary: "Live events as server-sent events",
  description:
    "Each message is a JSON GamifyEvent with its id as the SSE id; reconnect with `Last-Event-ID` to resume. A user token must filter by its own `userId`. Answers 404 when realtime is not enabled.",
  tag: "realtime",
  access: streamAccess,
  query: StreamQuery,
  headers: z.object({ "Last-Event-ID": z.string().max(256).optional().meta({ description: "The last event id received, to resume after a reconnect." }) }),
  responses: { 200: { description: "An endless `text/event-stream`.", contentType: "text/event-stream", schema: z.string() } },
  errors: [404],
  async serve({ request, query, principal, services }) {
    if (!services.realtime) throw realtimeOff();
    return services.realtime.handleSse(request.toRequest(), toFilter(query), principal);
  },
});

export const webSocket = defineRoute({
  id: "connectWebSocket",
  method: "GET",
  path: "/v1/ws",
  summary: "Live events over a WebSocket",
  description:
    "Upgrade with a WebSocket client; each message is a JSON GamifyEvent. Browsers pass credentials as `?access_token=`. On Node, `attachWebSocket(server, handler)` performs the upgrade; a plain GET answers 426. Answers 404 when realtime is not enabled.",
  tag: "realtime",
  access: streamAccess,
  query: WebSocketQuery,
  responses: { 101: { description: "Switching Protocols: the connection is now a WebSocket." } },
  errors: [404, 426],
  serve({ services }) {
    if (!services.realtime) throw realtimeOff();
    throw new RequestError(
      426,
      "INVALID_ARGUMENT",
      "Connect with a WebSocket client (Upgrade: websocket). On Node the upgrade is served by attachWebSocket(server, handler); use GET /v1/events (SSE) where WebSockets are unavailable.",
      undefined,
      { upgrade: "websocket" },
    );
  },
});

export const eventRoutes = [trackAction, userEvents, eventStream, webSocket];
