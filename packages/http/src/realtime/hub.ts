import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { GamifyError, checkCount, isGamifyError, type EventBus, type Gamify, type GamifyEvent } from "@gamifykit/core";
import type { WebSocketServer } from "ws";
import type { Principal } from "../middleware/index.js";
import { STATUS_BY_CODE, problem } from "../problem.js";
import { checkFilter, checkMayWatch, matches, type RealtimeFilter } from "./filter.js";
import { Outgoing } from "./outgoing.js";
import { IdWindow, ReplayBuffer } from "./recent.js";
import { SseClient } from "./sse.js";
import { WsClient } from "./ws.js";

/** Options for {@link createRealtime}. */
export interface RealtimeOptions {
  /**
   * Carries events between server instances (`redisEventBus`, `postgresEventBus`): every event
   * this engine emits is published on it, and events other instances publish reach this
   * instance's clients. Without a bus, clients see only this instance's events. The hub never
   * closes the bus: close it after the hub.
   */
  readonly bus?: EventBus | undefined;
  /** Interval of SSE comment heartbeats and WebSocket pings, in ms. Default 15000. */
  readonly heartbeatMs?: number | undefined;
  /** SSE: events a client may fall behind before it is dropped. Default 1000. */
  readonly maxQueuedEvents?: number | undefined;
  /** WebSocket: unsent bytes a client may hold before it is dropped. Default 1 MiB. */
  readonly maxBufferedBytes?: number | undefined;
  /**
   * Recent events kept in memory to resume SSE streams (user streams also read the user's event
   * log). Default 1000; 0 disables it.
   */
  readonly replayBufferSize?: number | undefined;
  /** Reconnection delay hinted to EventSource clients (`retry:`), in ms. Default 3000. */
  readonly retryMs?: number | undefined;
  /** Told about failures that have no caller to throw to: bus publishes, history reads. Default `console.warn`. */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Open realtime connections by kind. */
export interface RealtimeConnections {
  readonly sse: number;
  readonly ws: number;
}

/** Serves the realtime feed; create it with {@link createRealtime}. */
export interface RealtimeHub {
  /**
   * Answers `GET /v1/events`: a `text/event-stream` response of the events passing `filter`.
   * Resumes after the `Last-Event-ID` header (or `lastEventId` query parameter): from the replay
   * buffer and, when the filter names a user, the user's event log; when neither holds that id, a
   * `resync` event tells the client it may have missed events. Throws `CLOSED` after
   * `close()`, `INVALID_ARGUMENT` for a bad filter, `PERMISSION_DENIED` when a user token asks
   * for another user.
   */
  handleSse(request: Request, filter: RealtimeFilter, principal?: Principal): Response;
  /**
   * Completes a WebSocket upgrade (`GET /v1/ws`) on a Node socket the caller has already
   * authenticated: call it from the server's `upgrade` event. Each message is one JSON event.
   * Answers a bad filter or a closed hub with a problem+json HTTP response on the socket.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, filter: RealtimeFilter, principal?: Principal): void;
  /** Resolves once the bus subscription is active (at once without a bus). */
  ready(): Promise<void>;
  /** Open connections right now. */
  readonly connections: RealtimeConnections;
  /** Ends every stream and socket, stops listening to the engine and the bus. Idempotent. */
  close(): Promise<void>;
}

const LOG_PAGE = 1000;
/** Event ids remembered to deliver each event once even if it arrives twice. */
const SEEN_IDS = 10_000;
/** Heartbeats an SSE client may leave data unread before it is dropped. */
const MAX_STALLED_TICKS = 2;
const WS_CLOSE_GRACE_MS = 1000;
const MAX_LAST_EVENT_ID = 256;

/**
 * Creates the realtime hub of an engine: it listens to every event the engine emits, publishes
 * them on the bus when one is given, and delivers each event (this instance's and the bus's) once
 * to every SSE and WebSocket client whose filter it passes.
 *
 * @example
 * const bus = redisEventBus({ client: redis });
 * const realtime = createRealtime(gk, { bus });
 * const handler = createGamifyHandler(gk, { realtime });
 */
export function createRealtime(gk: Gamify, options: RealtimeOptions = {}): RealtimeHub {
  const heartbeatMs = checkCount(options.heartbeatMs ?? 15_000, "heartbeatMs", { min: 10, max: 3_600_000 });
  const maxQueuedEvents = checkCount(options.maxQueuedEvents ?? 1000, "maxQueuedEvents", { min: 1, max: 1_000_000 });
  const maxBufferedBytes = checkCount(options.maxBufferedBytes ?? 1024 * 1024, "maxBufferedBytes", { min: 1, max: 2 ** 31 });
  const replayBufferSize = checkCount(options.replayBufferSize ?? 1000, "replayBufferSize", { min: 0, max: 1_000_000 });
  const retryMs = checkCount(options.retryMs ?? 3000, "retryMs", { min: 0, max: 3_600_000 });
  const onError = options.onError ?? ((error: unknown) => console.warn("[gamifykit realtime]", error));
  const bus = options.bus;

  const sse = new Set<SseClient>();
  const ws = new Set<WsClient>();
  const seen = new IdWindow(SEEN_IDS);
  const replay = new ReplayBuffer(replayBufferSize);
  // Created on the first upgrade, so a hub on an edge runtime (SSE only, where `ws` resolves to a
  // stub) never touches it.
  let wss: WebSocketServer | undefined;
  let wssLoading: Promise<WebSocketServer> | undefined;
  let closed = false;

  const deliver = (event: GamifyEvent): void => {
    if (closed || !seen.add(event.id)) return;
    replay.push(event);
    const out = new Outgoing(event);
    for (const client of sse) if (matches(event, client.filter)) client.push(out);
    for (const client of ws) if (matches(event, client.filter)) client.push(out);
  };

  const offEngine = gk.on("*", (event) => {
    deliver(event);
    bus?.publish(event).catch(onError);
  });
  const offBus = bus?.subscribe(deliver);

  const timer = setInterval(() => {
    for (const client of sse) client.heartbeat();
    for (const client of ws) client.heartbeat();
  }, heartbeatMs);
  // Node: the heartbeat alone must not keep a process alive.
  (timer as { unref?: () => void }).unref?.();

  /**
   * Replays the user's log after `lastId` (the events `wanted` accepts); false when the log does not
   * hold that id.
   */
  const replayFromLog = async (client: SseClient, filter: RealtimeFilter & { userId: string }, lastId: string, wanted: (event: GamifyEvent) => boolean): Promise<boolean> => {
    let found = false;
    let cursor: string | undefined;
    do {
      const page = await gk.events(filter.userId, { limit: LOG_PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const event of page.events) {
        if (!found) found = event.id === lastId;
        else if (matches(event, filter) && wanted(event) && !client.hasReplayed(event.id) && !(await client.replay(event))) return true;
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && !client.ended);
    return found;
  };

  /**
   * Sends what a reconnecting client missed. When this instance's buffer still holds `lastId`, it
   * replays the buffer (the order this instance delivered events in, every type included), and for
   * a user stream then adds the user's log events after that id that never reached this instance
   * (lost on the bus). Otherwise a user stream replays the user's log after `lastId`. When neither
   * holds the id, a `resync` event says so.
   */
  const resume = async (client: SseClient, filter: RealtimeFilter, lastId: string): Promise<void> => {
    const userFilter = filter.userId === undefined ? undefined : { ...filter, userId: filter.userId };
    const missed = replay.after(lastId);
    if (missed !== undefined) {
      for (const event of missed) if (matches(event, filter) && !(await client.replay(event))) return;
      if (userFilter === undefined) return;
    }
    if (userFilter !== undefined) {
      try {
        const inBuffer = missed !== undefined;
        const found = await replayFromLog(client, userFilter, lastId, (event) => !inBuffer || !replay.has(event.id));
        if (found || inBuffer) return;
      } catch (error) {
        onError(error);
        if (missed !== undefined) return;
      }
    }
    client.control("resync", { lastEventId: lastId, reason: "The event with this id is no longer held; reload the state you show, then follow the stream." });
  };

  return {
    handleSse(request, filter, principal) {
      if (closed) throw closedError();
      const checked = checkFilter(filter);
      checkMayWatch(principal, checked);
      const lastId = lastEventId(request);
      const client: SseClient = new SseClient({
        filter: checked,
        maxQueuedEvents,
        retryMs,
        maxStalledTicks: MAX_STALLED_TICKS,
        onEnd: () => sse.delete(client),
      });
      sse.add(client);
      request.signal.addEventListener("abort", () => client.close(), { once: true });
      if (lastId !== undefined) {
        client.beginReplay();
        void resume(client, checked, lastId)
          .catch(onError)
          .finally(() => client.endReplay());
      }
      return new Response(client.stream, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          // nginx buffers responses unless told otherwise, which would hold events back.
          "x-accel-buffering": "no",
        },
      });
    },

    handleUpgrade(req, socket, head, filter, principal) {
      let checked: RealtimeFilter;
      try {
        if (closed) throw closedError();
        checked = checkFilter(filter);
        checkMayWatch(principal, checked);
      } catch (error) {
        rejectUpgrade(socket, error);
        return;
      }
      // `ws` loads on the first upgrade, so the package entry also loads where it is absent (edge runtimes).
      wssLoading ??= import("ws").then(({ WebSocketServer }) => {
        // Clients send nothing; a small payload limit keeps a hostile peer from making us buffer.
        wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: 4096, perMessageDeflate: false });
        return wss;
      });
      wssLoading.then(
        (server) =>
          server.handleUpgrade(req, socket, head, (socketWs) => {
            if (closed) {
              socketWs.terminate();
              return;
            }
            const client: WsClient = new WsClient(socketWs, { filter: checked, maxBufferedBytes, onEnd: () => ws.delete(client) });
            ws.add(client);
          }),
        (error: unknown) => rejectUpgrade(socket, error),
      );
    },

    async ready() {
      await bus?.ready?.();
    },

    get connections() {
      return { sse: sse.size, ws: ws.size };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      offEngine();
      offBus?.();
      for (const client of [...sse]) client.close();
      await Promise.all([...ws].map((client) => client.close(WS_CLOSE_GRACE_MS)));
      wss?.close();
    },
  };
}

function closedError(): GamifyError {
  return new GamifyError("CLOSED", "The realtime hub was closed (the server is shutting down); reconnect to another instance or retry later.");
}

/** The id to resume after: the Last-Event-ID header, or a `lastEventId` query parameter (for polyfills). */
function lastEventId(request: Request): string | undefined {
  const value = request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId");
  if (value === null || value === "") return undefined;
  if (value.length > MAX_LAST_EVENT_ID) {
    throw new GamifyError("INVALID_ARGUMENT", `Last-Event-ID must be at most ${MAX_LAST_EVENT_ID} characters; send the id of the last event received.`, {
      details: { field: "Last-Event-ID" },
    });
  }
  return value;
}

/** Answers a refused upgrade with a problem+json response and closes the socket. */
function rejectUpgrade(socket: Duplex, error: unknown): void {
  const code = isGamifyError(error) ? error.code : "INTERNAL";
  const status = STATUS_BY_CODE[code];
  const detail = isGamifyError(error) && status < 500 ? error.message : "The realtime feed is unavailable; retry later.";
  const answer = problem(status, code, detail);
  const body = JSON.stringify(answer);
  socket.end(
    `HTTP/1.1 ${status} ${answer.title}\r\n` +
      "Content-Type: application/problem+json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}
