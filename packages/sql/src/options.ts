import type { QueryExecutor } from "kysely";

/** The SQL dialects the adapter speaks. MySQL means MySQL 8 or MariaDB 10.11+. */
export type SqlDialectName = "postgres" | "mysql";

/**
 * Any `Kysely<DB>` instance, whatever its `DB` type (the adapter queries only its own tables).
 * Spelled structurally because `Kysely<DB>` is invariant in `DB`.
 */
export interface KyselyInstance {
  getExecutor(): QueryExecutor;
  readonly isTransaction: boolean;
}

/**
 * A Kysely instance the host already owns (not a transaction). The adapter only touches its own
 * (prefixed) tables and never destroys it.
 */
export interface SqlDbConnection {
  readonly db: KyselyInstance;
  /** Needed only when the dialect cannot be read from the instance (a custom dialect class). */
  readonly dialect?: SqlDialectName;
}

/**
 * A driver pool the host already owns: a `pg.Pool`, or a pool from `mysql2`'s callback-style
 * `createPool` (not `mysql2/promise`). The adapter never ends it.
 */
export interface SqlPoolConnection {
  readonly dialect: SqlDialectName;
  readonly pool: object;
}

/**
 * A connection URL (`postgres://user@host:5432/db` or `mysql://user@host:3306/db`). The adapter
 * creates the pool on first use and closes it in `close()`.
 */
export interface SqlUrlConnection {
  readonly url: string;
  /** Largest number of pooled connections. Default 10. */
  readonly poolSize?: number;
  /** How long to wait for a new connection before failing with STORAGE_UNAVAILABLE, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
}

/** How the adapter reaches the database: exactly one of `db`, `pool` or `url`. */
export type SqlConnectionOptions = SqlDbConnection | SqlPoolConnection | SqlUrlConnection;

/** Options every factory accepts. */
export type SqlCommonOptions = SqlConnectionOptions & {
  /**
   * Prepended to every table name (lowercase letters, digits and `_`, at most 40 characters), so
   * several installations or test runs can share one database. Default `gamifykit_`.
   */
  readonly tablePrefix?: string;
};

/** Options for {@link sqlStorage}. */
export type SqlStorageOptions = SqlCommonOptions & {
  /** How long an idempotency key is remembered, in milliseconds. Default 24 hours. */
  readonly idempotencyTtlMs?: number;
};

/** Options for {@link sqlLeaderboards}. */
export type SqlLeaderboardsOptions = SqlCommonOptions & {
  /**
   * Milliseconds since the epoch, compared with boards' `expiresAt`. Default `Date.now`. Pass the
   * engine's clock when it is not the real time, or finished period boards vanish early or late.
   */
  readonly clock?: () => number;
};

/** Options for {@link sqlAnalytics}. */
export type SqlAnalyticsOptions = SqlCommonOptions & {
  /** IANA time zone for day, week and month boundaries. Default `UTC`. */
  readonly timeZone?: string;
};

/** Options for {@link sqlStores}: the union of the three. */
export type SqlStoresOptions = SqlCommonOptions & {
  readonly idempotencyTtlMs?: number;
  readonly clock?: () => number;
  readonly timeZone?: string;
};
