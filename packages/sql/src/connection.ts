import { createHash } from "node:crypto";
import { GamifyError } from "@gamifykit/core";
import { Kysely, MysqlAdapter, MysqlDialect, PostgresAdapter, PostgresDialect, type Dialect, type MysqlPool, type PostgresPool, type Transaction } from "kysely";
import type { Client as PgClient, Pool as PgPool } from "pg";
import type { createPool as mysqlCreatePool } from "mysql2";
import { closedError, isRetryable, wrapError } from "./errors.js";
import type { KyselyInstance, SqlCommonOptions, SqlConnectionOptions, SqlDialectName } from "./options.js";
import { tableNames, type Tables } from "./tables.js";

/**
 * Names of prepared statements, by text: a hash of the text, so a name always stands for
 * one text, even on a pool shared with another copy of this module.
 */
const statementNames = new Map<string, string>();
/** Past this many texts, further ones run unprepared, so the cache per connection stays small. */
const MAX_STATEMENT_NAMES = 256;

/** The prepared-statement name for a statement's text, or undefined past the cap. */
export function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_STATEMENT_NAMES) {
    name = `gamifykit_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Rows as the adapter sees them: its tables are named at run time, so columns are untyped. */
export type Row = Record<string, unknown>;
/** The database type the adapter queries with (table names carry the prefix, chosen at run time). */
export type LooseDb = Record<string, Row>;
/** A connection or an open transaction. */
export type Db = Kysely<LooseDb>;
export type Trx = Transaction<LooseDb>;

const DEFAULT_PREFIX = "gamifykit_";
const PREFIX = /^[a-z_][a-z0-9_]{0,39}$/;
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 8;

/** Validates a table prefix and returns it. */
export function checkPrefix(prefix: unknown): string {
  const value = prefix ?? DEFAULT_PREFIX;
  if (typeof value !== "string" || !PREFIX.test(value)) {
    throw new GamifyError(
      "INVALID_ARGUMENT",
      `tablePrefix must be 1-40 characters of a-z 0-9 _ starting with a letter or _ (got ${JSON.stringify(value)}).`,
      { details: { field: "tablePrefix" } },
    );
  }
  return value;
}

/** The dialect a connection URL names, or INVALID_ARGUMENT. */
export function dialectOfUrl(url: unknown): SqlDialectName {
  let protocol = "";
  try {
    protocol = new URL(String(url)).protocol;
  } catch {
    protocol = "";
  }
  if (protocol === "postgres:" || protocol === "postgresql:") return "postgres";
  if (protocol === "mysql:" || protocol === "mariadb:") return "mysql";
  throw new GamifyError(
    "INVALID_ARGUMENT",
    `url must be a postgres://… or mysql://… connection URL (e.g. postgres://user:password@localhost:5432/app); got ${JSON.stringify(redact(String(url)))}.`,
    { details: { field: "url" } },
  );
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}

function dialectOfDb(db: KyselyInstance, given: SqlDialectName | undefined): SqlDialectName {
  if (db.isTransaction) {
    throw new GamifyError("INVALID_ARGUMENT", "db must be a Kysely instance, not a transaction: the adapter runs its own transactions.", {
      details: { field: "db" },
    });
  }
  if (given !== undefined) return given;
  const adapter = db.getExecutor().adapter;
  if (adapter instanceof PostgresAdapter) return "postgres";
  if (adapter instanceof MysqlAdapter) return "mysql";
  // Another copy of kysely: fall back to the class name.
  const name = adapter.constructor.name.toLowerCase();
  if (name.includes("postgres")) return "postgres";
  if (name.includes("mysql")) return "mysql";
  throw new GamifyError("INVALID_ARGUMENT", `Could not tell the dialect of the Kysely instance (adapter ${adapter.constructor.name}); pass dialect: "postgres" or "mysql".`, {
    details: { field: "dialect" },
  });
}

function checkDialect(dialect: unknown): SqlDialectName {
  if (dialect === "postgres" || dialect === "mysql") return dialect;
  throw new GamifyError("INVALID_ARGUMENT", `dialect must be "postgres" or "mysql"; got ${JSON.stringify(dialect)}.`, { details: { field: "dialect" } });
}

/**
 * Runs one read as a server-side prepared statement, prepared once per pooled connection and
 * reused (a `name` must always come with the same `text`): PostgreSQL then skips planning it.
 */
export type PreparedQuery = (name: string, text: string, values: readonly unknown[]) => Promise<Row[]>;

interface Opened {
  readonly db: Db;
  /** Releases what the adapter created; undefined when the host owns the connection. */
  readonly destroy: (() => Promise<void>) | undefined;
  /** Prepared statements on the pool; undefined when only a Kysely instance was given. */
  readonly prepared?: PreparedQuery | undefined;
}

/** Named statements through pg's own per-client cache ({ name, text, values }). */
function pgPrepared(pool: object): PreparedQuery | undefined {
  const query = (pool as { query?: unknown }).query;
  if (typeof query !== "function") return undefined;
  const run = query as (this: object, config: { name: string; text: string; values: unknown[] }) => Promise<{ rows: Row[] }>;
  return async (name, text, values) => (await run.call(pool, { name, text, values: [...values] })).rows;
}

/** mysql2's execute, which prepares and caches the statement per connection. */
function mysqlPrepared(pool: object): PreparedQuery | undefined {
  const execute = (pool as { execute?: unknown }).execute;
  if (typeof execute !== "function") return undefined;
  const run = execute as (this: object, text: string, values: unknown[], done: (error: unknown, rows: unknown) => void) => void;
  return (_name, text, values) =>
    new Promise((resolve, reject) => {
      run.call(pool, text, [...values], (error, rows) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(rows as Row[])));
    });
}

/** Creates the pool and Kysely instance for a URL (the adapter owns both). */
async function openUrl(dialect: SqlDialectName, url: string, poolSize: number, connectTimeoutMs: number): Promise<Opened> {
  let kyselyDialect: Dialect;
  let prepared: PreparedQuery | undefined;
  if (dialect === "postgres") {
    type PgModule = { Pool: typeof PgPool; Client: typeof PgClient };
    // pg is CommonJS: its exports arrive as `default` under ESM, and directly under CJS.
    const mod = (await import("pg")) as unknown as PgModule & { default?: PgModule };
    const { Pool, Client } = mod.default ?? mod;
    // pg-pool applies connectionTimeoutMillis to waiting for a free client too, which fails bursts
    // that merely queue; so the pool waits, and only each new connection is bounded.
    class BoundedClient extends Client {
      constructor(config?: ConstructorParameters<typeof Client>[0]) {
        super({ ...(typeof config === "object" ? config : {}), connectionTimeoutMillis: connectTimeoutMs });
      }
    }
    const pool = new Pool({
      connectionString: url,
      max: poolSize,
      Client: BoundedClient,
      // Bounds every statement, lock waits included, so nothing hangs on a stuck lock.
      statement_timeout: STATEMENT_TIMEOUT_MS,
    });
    // An idle client that loses its connection must not crash the process; the next query reports it.
    pool.on("error", () => undefined);
    kyselyDialect = new PostgresDialect({ pool: pool as unknown as PostgresPool });
    prepared = pgPrepared(pool);
  } else {
    type MysqlModule = { createPool: typeof mysqlCreatePool };
    const mod = (await import("mysql2")) as unknown as MysqlModule & { default?: MysqlModule };
    const createPool = mod.default?.createPool ?? mod.createPool;
    const pool = createPool({
      uri: url.replace(/^mariadb:/, "mysql:"),
      connectionLimit: poolSize,
      connectTimeout: connectTimeoutMs,
      // BIGINT columns come back as numbers (they stay within the safe-integer range).
      supportBigNumbers: true,
      bigNumberStrings: false,
    });
    kyselyDialect = new MysqlDialect({ pool: pool as unknown as MysqlPool });
    prepared = mysqlPrepared(pool);
  }
  const db = new Kysely<LooseDb>({ dialect: kyselyDialect });
  return { db, destroy: () => db.destroy(), prepared };
}

function openPool(dialect: SqlDialectName, pool: object): Opened {
  const kyselyDialect =
    dialect === "postgres" ? new PostgresDialect({ pool: pool as PostgresPool }) : new MysqlDialect({ pool: pool as MysqlPool });
  // Destroying this Kysely would end the host's pool, so it is simply dropped on close.
  return { db: new Kysely<LooseDb>({ dialect: kyselyDialect }), destroy: undefined, prepared: dialect === "postgres" ? pgPrepared(pool) : mysqlPrepared(pool) };
}

/**
 * One database connection shared by the stores built on it: created on first use, reference
 * counted, and (when the adapter created it from a URL) destroyed when the last store closes.
 */
export class SqlHandle {
  readonly dialect: SqlDialectName;
  readonly tables: Tables;
  readonly prefix: string;
  private readonly open: () => Promise<Opened> | Opened;
  private opened: Promise<Opened> | undefined;
  private refs = 0;

  constructor(options: SqlCommonOptions) {
    this.prefix = checkPrefix(options.tablePrefix);
    this.tables = tableNames(this.prefix);
    const connection: SqlConnectionOptions = options;
    if ("db" in connection && connection.db !== undefined) {
      const db = connection.db;
      this.dialect = dialectOfDb(db, connection.dialect === undefined ? undefined : checkDialect(connection.dialect));
      this.open = () => ({ db: db as unknown as Db, destroy: undefined });
    } else if ("pool" in connection && connection.pool !== undefined) {
      const dialect = checkDialect(connection.dialect);
      const pool = connection.pool;
      this.dialect = dialect;
      this.open = () => openPool(dialect, pool);
    } else if ("url" in connection && connection.url !== undefined) {
      const url = connection.url;
      const dialect = dialectOfUrl(url);
      const size = connection.poolSize ?? DEFAULT_POOL_SIZE;
      const timeout = connection.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      this.dialect = dialect;
      this.open = () => openUrl(dialect, url, size, timeout);
    } else {
      throw new GamifyError("INVALID_ARGUMENT", "Pass one of db (a Kysely instance), pool (with dialect) or url to the SQL adapter.", {
        details: { field: "db" },
      });
    }
  }

  /** Registers a store that will call {@link release} once when it closes. */
  retain(): void {
    this.refs++;
  }

  /** The Kysely instance, created on first use. */
  async db(): Promise<Db> {
    this.opened ??= Promise.resolve(this.open());
    try {
      return (await this.opened).db;
    } catch (error) {
      this.opened = undefined;
      throw wrapError(error, "connection setup");
    }
  }

  /** Prepared statements on the connection's pool, or undefined (a host's Kysely instance). */
  async prepared(): Promise<PreparedQuery | undefined> {
    await this.db();
    return (await this.opened)?.prepared;
  }

  /** Runs one statement (or a few, without a transaction), wrapping driver errors. */
  async run<T>(what: string, work: (db: Db) => Promise<T>): Promise<T> {
    try {
      return await work(await this.db());
    } catch (error) {
      throw wrapError(error, what);
    }
  }

  /**
   * Runs one statement outside a transaction and returns its rows: as a prepared statement when
   * the pool allows it (PostgreSQL then skips planning it, so its text must not vary with the
   * values), else through Kysely. Driver errors are thrown as they are, for the caller to wrap.
   */
  async rows(query: { compile(db: Db): { sql: string; parameters: readonly unknown[] }; execute(db: Db): Promise<{ rows: unknown[] }> }): Promise<Row[]> {
    const db = await this.db();
    const prepared = (await this.opened)?.prepared;
    if (prepared !== undefined) {
      const compiled = query.compile(db);
      const name = statementName(compiled.sql);
      if (name !== undefined) return prepared(name, compiled.sql, compiled.parameters);
    }
    return (await query.execute(db)).rows as Row[];
  }

  /**
   * Runs `work` (one statement, or a routine that is its own transaction), retried with jitter
   * like {@link transaction} on deadlocks and serialization failures; other errors are thrown as they are.
   */
  async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && isRetryable(error, attempt)) {
          await sleep(Math.random() * Math.min(100, 4 * 2 ** attempt));
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * Runs `work` in a transaction (READ COMMITTED unless told otherwise: writers lock what they
   * read; REPEATABLE READ gives multi-query reads one snapshot), retried with jitter on deadlocks and
   * serialization failures. A GamifyError thrown by `work` (OUT_OF_RANGE) rolls back and propagates.
   */
  async transaction<T>(what: string, work: (trx: Trx) => Promise<T>, isolation: "read committed" | "repeatable read" = "read committed"): Promise<T> {
    const db = await this.db();
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().setIsolationLevel(isolation).execute(work);
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && isRetryable(error, attempt)) {
          await sleep(Math.random() * Math.min(100, 4 * 2 ** attempt));
          continue;
        }
        throw wrapError(error, what);
      }
    }
  }

  /** Drops one reference; the last one closes a connection the adapter created. */
  async release(): Promise<void> {
    this.refs = Math.max(0, this.refs - 1);
    if (this.refs > 0 || this.opened === undefined) return;
    const opened = this.opened;
    this.opened = undefined;
    try {
      const { destroy } = await opened;
      await destroy?.();
    } catch {
      // A pool that never opened has nothing to release.
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Tracks whether a store is closed; `check` throws CLOSED afterwards. */
export class Lifecycle {
  private closed = false;
  constructor(
    private readonly handle: SqlHandle,
    private readonly what: string,
  ) {
    handle.retain();
  }

  check(): void {
    if (this.closed) throw closedError(this.what);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Marks the store closed and releases its connection reference, once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.release();
  }
}

/** A number from a BIGINT/DECIMAL/COUNT column, which drivers may return as a string or bigint. */
export function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" || typeof value === "bigint") return Number(value);
  if (value === null || value === undefined) return 0;
  throw new GamifyError("INTERNAL", `Expected a number from the database, got ${typeof value}.`);
}
