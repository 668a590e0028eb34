/**
 * Typed client for the GamifyKit HTTP API: one method per route with types generated from the
 * API's OpenAPI document, retries with `Retry-After` and idempotency keys, and the realtime feed
 * as an async iterator. No `node:` imports: it runs in browsers and edge runtimes.
 */
export { createClient } from "./client.js";
export type { AwardOptions, BatchOptions, GamifyClient, LeaderboardClient } from "./client.js";
export { ClientError } from "./errors.js";
export type { ClientErrorCode, FieldError, ProblemBody, ProblemCode } from "./errors.js";
export type { EventsOptions } from "./events.js";
export type { CallOptions, ClientOptions } from "./transport.js";
export { parseSse } from "./sse.js";
export type { SseMessage, SseHooks } from "./sse.js";
export type * from "./types.js";
