/**
 * PostgreSQL and MySQL/MariaDB adapter for GamifyKit, on Kysely: versioned migrations,
 * transactional awards with row locks, and ranks that count distinct scores rather than rows.
 *
 * @example
 * import { migrate, sqlStores } from "@gamifykit/sql";
 * await migrate({ url: process.env.DATABASE_URL! });
 * const { storage, leaderboardStore, analytics } = sqlStores({ url: process.env.DATABASE_URL! });
 * const gk = createGamify({ storage, leaderboardStore, analytics });
 */
export { sqlStorage } from "./storage.js";
export { sqlLeaderboards } from "./leaderboards.js";
export { sqlAnalytics } from "./analytics.js";
export { sqlStores } from "./stores.js";
export type { SqlStores } from "./stores.js";
export { migrate } from "./migrate.js";
export type { MigrateResult } from "./migrate.js";
export { tableNames } from "./tables.js";
export type { Tables } from "./tables.js";
export type {
  KyselyInstance,
  SqlAnalyticsOptions,
  SqlCommonOptions,
  SqlConnectionOptions,
  SqlDbConnection,
  SqlDialectName,
  SqlLeaderboardsOptions,
  SqlPoolConnection,
  SqlStorageOptions,
  SqlStoresOptions,
  SqlUrlConnection,
} from "./options.js";
export { postgresEventBus } from "./event-bus.js";
export type { PgPoolLike, PostgresEventBusOptions } from "./event-bus.js";
