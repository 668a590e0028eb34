/**
 * GamifyKit as a runnable service: configuration from the environment (validated with zod),
 * storage picked by configuration, the HTTP API of @gamifykit/http, graceful shutdown.
 */
export { loadConfig, ConfigError } from "./config/load.js";
export type { LoadConfigOptions, Profile, ServerConfig, StoreConfig, TierConfig, JwtSettings } from "./config/load.js";
export type { EngineConfig } from "./config/engine.js";
export type { ApiKeyEntry } from "./config/values.js";
export { startServer } from "./server.js";
export type { RunningServer, StartServerOptions } from "./server.js";
export { createLogger, formatPretty } from "./logger.js";
