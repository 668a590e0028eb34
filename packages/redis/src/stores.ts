import type { AnalyticsStore, LeaderboardStore, Storage } from "@gamifykit/core";
import { createRedisAnalytics } from "./analytics.js";
import { createConnection } from "./connection.js";
import { createRedisLeaderboards } from "./leaderboards.js";
import type { RedisStoresOptions } from "./options.js";
import { createRedisStorage } from "./storage.js";

/** The three Redis stores, sharing one connection. */
export interface RedisStores {
  /** Updates `leaderboardStore`'s boards inside each award (`storage.leaderboards === leaderboardStore`). */
  readonly storage: Storage & { readonly leaderboards: LeaderboardStore };
  readonly leaderboardStore: LeaderboardStore;
  readonly analytics: AnalyticsStore;
}

/**
 * Storage, leaderboards and analytics on one Redis connection. With `url`, the connection closes
 * when the last of the three is closed (`gk.close()` closes all three). The storage declares the
 * leaderboard store as its `leaderboards`, so an engine given both (`createGamify({ ...stores })`)
 * updates an award's boards in the award's own script: one round trip per award.
 *
 * @example
 * const stores = redisStores({ url: process.env.REDIS_URL });
 * const gk = createGamify({ ...stores });
 */
export function redisStores(options: RedisStoresOptions): RedisStores {
  const connection = createConnection(options, "redisStores");
  const leaderboardStore = createRedisLeaderboards(connection);
  // createRedisStorage declares `leaderboards` whenever it is given one.
  const storage = createRedisStorage(connection, { ...options, leaderboards: leaderboardStore }) as RedisStores["storage"];
  return {
    storage,
    leaderboardStore,
    analytics: createRedisAnalytics(connection, options),
  };
}
