import { ClientError, errorFromResponse } from "./errors.js";
import { parseSse, textChunks } from "./sse.js";
import type { Transport } from "./transport.js";
import type { GamifyEvent } from "./types.js";

/** Options of `client.events()`. */
export interface EventsOptions {
  /** Only this user's events (a user token must set its own id). */
  readonly userId?: string;
  /** Only events that move this metric's leaderboards. */
  readonly leaderboard?: string;
  /** Ends the iteration (the loop finishes without an error). */
  readonly signal?: AbortSignal;
  /** Resume after this event id (sent as `Last-Event-ID`). */
  readonly lastEventId?: string;
  /** Called when the server no longer holds the events after the last id: reload the state you show. */
  readonly onResync?: (info: { readonly lastEventId?: string; readonly reason?: string }) => void;
  /** Called on each reconnect, with the error that ended the previous connection when there was one. */
  readonly onReconnect?: (info: { readonly attempt: number; readonly delayMs: number; readonly error?: unknown }) => void;
  /** Give up after this many reconnects in a row that fail before a stream opens. Default: never give up. */
  readonly maxReconnects?: number;
  /**
   * Reconnect when the stream sends nothing (not even a heartbeat) for this long, in ms: a
   * connection a proxy or a sleeping laptop silently dropped. Default 45 000 (three of the
   * server's 15 s heartbeats).
   */
  readonly idleTimeoutMs?: number;
}

const DEFAULT_RETRY_MS = 1_000;
const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const MAX_RETRY_MS = 30_000;

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function isEvent(value: unknown): value is GamifyEvent {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string" && typeof (value as { type?: unknown }).type === "string";
}

/**
 * The realtime feed (`GET /v1/events`) as an async iterator of events. Reconnects after a dropped
 * connection with `Last-Event-ID`, so no event is skipped while the server still holds it; waits
 * the server's `retry:` hint (or `Retry-After` on 429/503) with jitter and growing backoff for
 * repeated failures (5xx answers and network errors included). Client errors (400, 401, 403,
 * 404) end the iteration with a {@link ClientError}. Breaking out of the loop or aborting `signal` closes the connection.
 */
export async function* eventStream(transport: Transport, options: EventsOptions = {}): AsyncGenerator<GamifyEvent, void, undefined> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) return;
  const url = transport.url("/v1/events", { userId: options.userId, leaderboard: options.leaderboard });
  let lastEventId = options.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;
  let attempt = 0;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  try {
    for (;;) {
      let error: unknown;
      let delay = retryMs;
      // One controller per connection: a stalled connection is dropped without ending the iteration.
      const connection = new AbortController();
      const endConnection = () => connection.abort();
      controller.signal.addEventListener("abort", endConnection, { once: true });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const watch = (ms: number, what: string) => {
        clearTimeout(timer);
        timer = setTimeout(() => connection.abort(new ClientError("TIMEOUT", 0, `The event stream ${what} for ${ms} ms; reconnecting.`)), ms);
      };
      try {
        const headers = await transport.headers(lastEventId === undefined ? { accept: "text/event-stream" } : { accept: "text/event-stream", "last-event-id": lastEventId });
        watch(transport.timeoutMs, "did not answer");
        const response = await transport.fetch(url, { method: "GET", headers, signal: connection.signal });
        clearTimeout(timer);
        if (!response.ok) {
          const problem = await errorFromResponse(response);
          if (response.status !== 429 && response.status < 500) throw problem; // 4xx: retrying cannot help
          error = problem;
          if (problem.retryAfterSeconds !== undefined) delay = problem.retryAfterSeconds * 1000;
        } else if (!response.body) {
          throw new ClientError("INTERNAL", response.status, "The event stream answered without a body.");
        } else {
          failures = 0;
          const hooks = { onRetry: (ms: number) => void (retryMs = ms), onId: (id: string) => void (lastEventId = id) };
          const readWatch = { waiting: () => watch(idleTimeoutMs, "sent nothing"), received: () => clearTimeout(timer) };
          for await (const message of parseSse(textChunks(response.body, readWatch), hooks, lastEventId)) {
            let data: unknown;
            try {
              data = JSON.parse(message.data);
            } catch {
              continue; // Not ours to understand; the stream goes on.
            }
            if (message.event === "resync") {
              const info = data as { lastEventId?: string; reason?: string };
              options.onResync?.({ ...(info.lastEventId === undefined ? {} : { lastEventId: info.lastEventId }), ...(info.reason === undefined ? {} : { reason: info.reason }) });
            } else if (isEvent(data)) {
              yield data;
            }
          }
          delay = retryMs;
        }
      } catch (caught) {
        if (controller.signal.aborted) return;
        if (caught instanceof ClientError && caught.status >= 400 && caught.status < 500 && caught.status !== 429) throw caught;
        error = connection.signal.aborted ? connection.signal.reason : caught;
      } finally {
        clearTimeout(timer);
        controller.signal.removeEventListener("abort", endConnection);
        connection.abort();
      }
      if (controller.signal.aborted) return;
      if (error !== undefined) {
        failures++;
        if (options.maxReconnects !== undefined && failures > options.maxReconnects) {
          throw error instanceof ClientError ? error : new ClientError("NETWORK_ERROR", 0, `The event stream failed ${failures} times in a row.`, { cause: error });
        }
        delay = Math.max(delay, Math.min(MAX_RETRY_MS, DEFAULT_RETRY_MS * 2 ** (failures - 1)));
      }
      delay = Math.min(MAX_RETRY_MS, delay) + Math.round(Math.random() * Math.min(1000, delay / 4));
      attempt++;
      options.onReconnect?.({ attempt, delayMs: delay, ...(error === undefined ? {} : { error }) });
      await abortable(delay, controller.signal);
      if (controller.signal.aborted) return;
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    controller.abort();
  }
}
