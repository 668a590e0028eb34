export { createGamifyHandler } from "./handler.js";
export type { GamifyHandler, GamifyHandlerOptions, UpgradeDecision } from "./handler.js";
export { getClientIp, setClientIp } from "./client-ip.js";
export { createOpenApiDocument } from "./openapi.js";
export type { OpenApiDocument, OpenApiOptions } from "./openapi.js";
export { problemType, STATUS_BY_CODE } from "./problem.js";
export type { FieldError } from "./problem.js";
export type { ProblemBody } from "./schemas.js";
export * as schemas from "./schemas.js";
export type { RealtimeFilter, RealtimeHub } from "./realtime-types.js";
export { createPlatform, hashApiKey } from "./middleware/index.js";
export type {
  Access,
  ApiKeyConfig,
  AuthOptions,
  CorsOptions,
  JwtConfig,
  MetricsOptions,
  Platform,
  PlatformOptions,
  Principal,
  RateLimitOptions,
  RateLimitTier,
  RedisLike,
  RequestScope,
  Role,
} from "./middleware/index.js";
