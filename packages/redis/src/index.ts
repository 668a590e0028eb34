/**
 * Redis adapter for GamifyKit: {@link redisStorage}, {@link redisLeaderboards},
 * {@link redisAnalytics}, or all three on one connection with {@link redisStores}.
 */
export { redisStorage } from "./storage.js";
export { redisLeaderboards } from "./leaderboards.js";
export { redisAnalytics } from "./analytics.js";
export { redisStores } from "./stores.js";
export type { RedisStores } from "./stores.js";
export type { RedisAnalyticsOptions, RedisConnectionOptions, RedisLeaderboardsOptions, RedisStorageOptions, RedisStoresOptions } from "./options.js";
export { redisEventBus } from "./event-bus.js";
export type { RedisEventBusOptions } from "./event-bus.js";
