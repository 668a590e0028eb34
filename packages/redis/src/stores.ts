import type { AnalyticsStore, LeaderboardStore, Storage } from "@gamifykit/core";
import { createRedisAnalytics } from "./analytics.js";
import { createConnection } from "./connection.js";
import { createRedisLeaderboards } from "./leaderboards.js";
import type { RedisStoresOptions } from "./options.js";
import { createRedisStorage } from "./storage.js";

/** The three Redis stores, sharing one connection. */
export interface RedisStores {
  readonly storage: Storage;
  readonly leaderboardStore: LeaderboardStore;
  readonly analytics: AnalyticsStore;
}

/**
 * Storage, leaderboards and analytics on one Redis connection. With `url`, the connection closes
 * when the last of the three is closed (`gk.close()` closes all three).
 *
 * @example
 * const stores = redisStores({ url: process.env.REDIS_URL });
 * const gk = createGamify({ ...stores });
 */
export function redisStores(options: RedisStoresOptions): RedisStores {
  const connection = createConnection(options, "redisStores");
  return {
    storage: createRedisStorage(connection, options),
    leaderboardStore: createRedisLeaderboards(connection),
    analytics: createRedisAnalytics(connection, options),
  };
}
