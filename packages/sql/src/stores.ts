import { checkTimeZone, type AnalyticsStore, type LeaderboardStore, type Storage } from "@gamifykit/core";
import { createSqlAnalytics } from "./analytics.js";
import { SqlHandle } from "./connection.js";
import { createSqlLeaderboards } from "./leaderboards.js";
import type { SqlStoresOptions } from "./options.js";
import { DEFAULT_IDEMPOTENCY_TTL_MS, checkTtl, createSqlStorage } from "./storage.js";

/** The three stores of {@link sqlStores}, named like `createGamify`'s options. */
export interface SqlStores {
  /** Updates `leaderboardStore`'s boards inside each award (`storage.leaderboards === leaderboardStore`). */
  readonly storage: Storage & { readonly leaderboards: LeaderboardStore };
  readonly leaderboardStore: LeaderboardStore;
  readonly analytics: AnalyticsStore;
  /** Closes all three (each store's own `close()` also works; the pool closes with the last one). */
  close(): Promise<void>;
}

/**
 * Storage, leaderboards and analytics on one connection (one pool). The pool is created on first
 * use and, when the adapter created it from a URL, closed when the last of the three closes.
 * The storage declares the board store as `storage.leaderboards`, so an engine given both moves an
 * award's boards inside the award's transaction (one commit; award and boards apply together).
 *
 * @example
 * const { storage, leaderboardStore, analytics } = sqlStores({ url: process.env.DATABASE_URL! });
 * const gk = createGamify({ storage, leaderboardStore, analytics });
 */
export function sqlStores(options: SqlStoresOptions): SqlStores {
  const ttl = checkTtl(options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS);
  const timeZone = checkTimeZone(options.timeZone ?? "UTC");
  const handle = new SqlHandle(options);
  const leaderboardStore = createSqlLeaderboards(handle, options.clock ?? Date.now);
  // The storage moves the boards inside each award's transaction (one commit, fewer round trips).
  const storage = { ...createSqlStorage(handle, ttl, leaderboardStore), leaderboards: leaderboardStore };
  const analytics = createSqlAnalytics(handle, timeZone);
  return {
    storage,
    leaderboardStore,
    analytics,
    async close() {
      await Promise.all([storage.close(), leaderboardStore.close(), analytics.close()]);
    },
  };
}
