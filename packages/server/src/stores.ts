import { memoryAnalytics, type AnalyticsStore, type GamifyOptions, type LeaderboardStore, type Storage } from "@gamifykit/core";
import { fileStores } from "@gamifykit/file";
import { redisStores } from "@gamifykit/redis";
import { migrate, sqlStores } from "@gamifykit/sql";
import type { Logger } from "pino";
import type { ServerConfig } from "./config/load.js";

/** The stores `createGamify` gets; absent fields take core's in-memory defaults. */
export type StoreOptions = Pick<GamifyOptions, "storage" | "leaderboardStore" | "analytics">;

/**
 * Builds the stores the configuration names, running SQL migrations first when asked. The engine
 * closes them in `gk.close()`. Connections open lazily, except the file store, which opens (takes
 * its lock, replays its log) here so a held lock fails the start rather than the first request.
 */
export async function openStores(config: ServerConfig, log: Logger): Promise<StoreOptions> {
  const store = config.store;
  switch (store.kind) {
    case "memory":
      log.warn("GAMIFYKIT_STORE=memory: state lives in this process only and is lost on restart");
      return { analytics: memoryAnalytics({ timeZone: config.timeZone }) };
    case "file": {
      const stores = fileStores({ directory: store.directory, durability: store.durability, timeZone: config.timeZone });
      await stores.open();
      log.info({ directory: store.directory }, "file store opened");
      return pick(stores);
    }
    case "redis":
      return pick(redisStores({ url: store.url, keyPrefix: store.keyPrefix, timeZone: config.timeZone }));
    case "postgres":
    case "mysql": {
      if (store.migrate) {
        const result = await migrate({ url: store.url, tablePrefix: store.tablePrefix });
        log.info({ dialect: result.dialect, applied: result.applied }, result.applied.length ? "migrations applied" : "schema up to date");
      }
      return pick(sqlStores({ url: store.url, tablePrefix: store.tablePrefix, poolSize: store.poolSize, timeZone: config.timeZone }));
    }
  }
}

function pick(stores: { storage: Storage; leaderboardStore: LeaderboardStore; analytics: AnalyticsStore }): StoreOptions {
  return { storage: stores.storage, leaderboardStore: stores.leaderboardStore, analytics: stores.analytics };
}
