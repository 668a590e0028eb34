/**
 * @gamifykit/http: the GamifyKit HTTP API as a web-standard fetch handler (createGamifyHandler),
 * its Node adapter (toNodeHandler, attachWebSocket), the OpenAPI document and zod schemas, the
 * platform middleware (auth, rate limits, CORS, headers, logs, metrics, tracing) and the realtime hub.
 */
export { createGamifyHandler } from "./handler.js";
export type { GamifyHandler, GamifyHandlerOptions, UpgradeDecision } from "./handler.js";
export { getClientIp, setClientIp } from "./client-ip.js";
export { createOpenApiDocument } from "./openapi.js";
export type { OpenApiDocument, OpenApiOptions } from "./openapi.js";
export { problemType, STATUS_BY_CODE } from "./problem.js";
export type { FieldError } from "./problem.js";
export type { ProblemBody } from "./schemas.js";
export * as schemas from "./schemas.js";
export { createRealtime } from "./realtime/index.js";
export type { RealtimeConnections, RealtimeFilter, RealtimeHub, RealtimeOptions } from "./realtime/index.js";
export { createPlatform, hashApiKey, hashApiKeyAsync } from "./middleware/index.js";
export type {
  Access,
  ApiKeyConfig,
  AuthOptions,
  CorsOptions,
  HstsOptions,
  JwtConfig,
  MetricsOptions,
  Platform,
  PlatformOptions,
  Principal,
  RateLimitOptions,
  RateLimitTier,
  RedisLike,
  RequestLifecycle,
  RequestScope,
  Role,
  RouteInfo,
  SecurityHeadersOptions,
} from "./middleware/index.js";
export { attachWebSocket, toNodeHandler } from "./node.js";
export type { NodeHandlerOptions, NodeListener, UpgradeEmitter } from "./node.js";
