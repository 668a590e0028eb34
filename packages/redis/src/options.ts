import type { LeaderboardStore } from "@gamifykit/core";
import type { Redis } from "ioredis";

/** How an adapter reaches Redis. Pass exactly one of `client` and `url`. */
export interface RedisConnectionOptions {
  /**
   * A client the host owns. The adapter never closes it (`close()` only stops using it), never
   * changes its options and never defines commands on it. Standalone or Sentinel (`new Redis({
   * sentinels, name })`); Redis Cluster is not supported (see the README).
   */
  readonly client?: Redis | undefined;
  /**
   * A `redis://` or `rediss://` URL. The adapter then owns the connection: it opens it lazily on
   * the first command and closes it in `close()`.
   */
  readonly url?: string | undefined;
  /** Prepended to every key, so several apps or tests can share one database. Default `gamifykit:`. */
  readonly keyPrefix?: string | undefined;
  /**
   * Milliseconds a command may take, queued time included, before it fails with
   * `STORAGE_UNAVAILABLE`. Default 2000.
   */
  readonly commandTimeoutMs?: number | undefined;
  /** Milliseconds to establish a connection before trying again (owned connections only). Default 2000. */
  readonly connectTimeoutMs?: number | undefined;
}

/** Options for {@link redisStorage}. */
export interface RedisStorageOptions extends RedisConnectionOptions {
  /** How long an idempotency key is remembered, in milliseconds of the engine's clock. Default 24 hours. */
  readonly idempotencyTtlMs?: number | undefined;
  /**
   * A store from {@link redisLeaderboards} on the same Redis database and key prefix. The storage
   * then declares it as `storage.leaderboards`, and an engine given both (`createGamify({ storage,
   * leaderboardStore })`) moves an award's boards inside the award script: one round trip for
   * the award, its level events and every board. {@link redisStores} does this for you.
   */
  readonly leaderboards?: LeaderboardStore | undefined;
}

/** Options for {@link redisLeaderboards}. */
export type RedisLeaderboardsOptions = RedisConnectionOptions;

/** Options for {@link redisAnalytics}. */
export interface RedisAnalyticsOptions extends RedisConnectionOptions {
  /** IANA time zone for day, week and month boundaries. Default `UTC`. Use one time zone per key prefix. */
  readonly timeZone?: string | undefined;
  /**
   * Drops a bucket this many milliseconds after its period ends (by the Redis server's clock).
   * Default: buckets are kept until deleted.
   */
  readonly bucketTtlMs?: number | undefined;
}

/**
 * Options for {@link redisStores}: everything the three stores take, for one shared connection.
 * (The storage gets the sibling leaderboard store as `leaderboards` without being asked.)
 */
export interface RedisStoresOptions extends Omit<RedisStorageOptions, "leaderboards"> {
  readonly timeZone?: string | undefined;
  readonly bucketTtlMs?: number | undefined;
}
