import { randomBytes } from "node:crypto";
import { Kysely, Migrator, MysqlDialect, PostgresDialect, sql } from "kysely";
import { createPool, type Pool as MysqlPool } from "mysql2";
import pg from "pg";
import { tableNames, type SqlDialectName } from "../src/index.js";
import { migrationProvider } from "../src/migrations.js";

/** A fresh table prefix: isolates one store from every other test and helper sharing the database. */
export function randomPrefix(): string {
  return `gkt_${randomBytes(6).toString("hex")}_`;
}

/** A driver pool and Kysely instance the tests own (the "host" of the pool and db options). */
export interface Host {
  readonly dialect: SqlDialectName;
  readonly pool: pg.Pool | MysqlPool;
  readonly db: Kysely<never>;
  /** Migrates the tables of `tablePrefix` up to migration `name` only (to set up an older schema); resolves to the migrator's error, if any. */
  migrateTo(tablePrefix: string, name: string): Promise<unknown>;
  /** Drops every table whose name starts with one of the prefixes, and their award routines. */
  dropPrefixes(prefixes: readonly string[]): Promise<void>;
  end(): Promise<void>;
}

export function openHost(dialect: SqlDialectName, url: string): Host {
  const pool = dialect === "postgres" ? new pg.Pool({ connectionString: url, max: 10 }) : createPool({ uri: url, connectionLimit: 10 });
  const db = new Kysely<never>({
    dialect: dialect === "postgres" ? new PostgresDialect({ pool: pool as pg.Pool }) : new MysqlDialect({ pool: pool as MysqlPool }),
  });
  return {
    dialect,
    pool,
    db,
    async migrateTo(tablePrefix, name) {
      const t = tableNames(tablePrefix);
      const migrator = new Migrator({
        db: db as unknown as Kysely<unknown>,
        provider: migrationProvider(dialect, t),
        migrationTableName: t.migrations,
        migrationLockTableName: t.migrationsLock,
      });
      return (await migrator.migrateTo(name)).error;
    },
    async dropPrefixes(prefixes) {
      if (prefixes.length === 0) return;
      const listed =
        dialect === "postgres"
          ? await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`.execute(db)
          : await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`.execute(db);
      const mine = listed.rows.map((r) => r.name).filter((name) => prefixes.some((p) => name.startsWith(p)));
      for (const name of mine) await sql`DROP TABLE IF EXISTS ${sql.table(name)}`.execute(db);
      // Migration 0003's award routine, one per prefix.
      for (const prefix of prefixes) {
        const routine = sql.id(`${prefix}apply_award`);
        await (dialect === "postgres" ? sql`DROP FUNCTION IF EXISTS ${routine}(jsonb)` : sql`DROP PROCEDURE IF EXISTS ${routine}`).execute(db);
      }
    },
    async end() {
      await db.destroy();
    },
  };
}

/** A driver pool that counts the statements its connections send (one per round trip). */
export interface CountingPool {
  readonly pool: pg.Pool | MysqlPool;
  /** Statements sent since the pool opened or since the last {@link reset}. */
  readonly count: number;
  /** The statements' texts, in order (for messages). */
  readonly texts: readonly string[];
  reset(): void;
  /** Runs `hook` before each statement whose text contains `marker` is sent. */
  before(marker: string, hook: (() => Promise<void>) | undefined): void;
  end(): Promise<void>;
}

/**
 * Wraps every pooled connection's `query` (and mysql2's `execute`): every call is one round trip
 * (pg sends a named statement's parse, bind and execute together; mysql2 caches prepared statements).
 */
export function countingPool(dialect: SqlDialectName, url: string): CountingPool {
  const texts: string[] = [];
  const hooks = new Map<string, () => Promise<void>>();
  const textOf = (args: unknown[]): string => {
    const first = args[0];
    return typeof first === "string" ? first : String((first as { text?: unknown; sql?: unknown }).text ?? (first as { sql?: unknown }).sql ?? "");
  };
  const wrap = (target: Record<string, unknown>, method: string) => {
    const original = target[method] as (...args: unknown[]) => unknown;
    target[method] = function (this: unknown, ...args: unknown[]) {
      const text = textOf(args);
      const hook = [...hooks].find(([marker]) => text.includes(marker))?.[1];
      if (hook === undefined) {
        texts.push(text);
        return original.apply(this, args);
      }
      // Delay the statement until the hook has run (the driver call is made afterwards).
      if (dialect === "postgres") {
        return hook().then(() => {
          texts.push(text);
          return original.apply(this, args);
        });
      }
      void hook().then(() => {
        texts.push(text);
        original.apply(this, args);
      });
      return undefined;
    };
  };
  let pool: pg.Pool | MysqlPool;
  if (dialect === "postgres") {
    const pgPool = new pg.Pool({ connectionString: url, max: 10 });
    pgPool.on("connect", (client) => wrap(client as unknown as Record<string, unknown>, "query"));
    pool = pgPool;
  } else {
    const mysqlPool = createPool({ uri: url, connectionLimit: 10 });
    mysqlPool.on("connection", (connection) => {
      wrap(connection as unknown as Record<string, unknown>, "query");
      wrap(connection as unknown as Record<string, unknown>, "execute");
    });
    pool = mysqlPool;
  }
  return {
    pool,
    get count() {
      return texts.length;
    },
    texts,
    reset() {
      texts.length = 0;
    },
    before(marker, hook) {
      if (hook === undefined) hooks.delete(marker);
      else hooks.set(marker, hook);
    },
    end: () => (dialect === "postgres" ? (pool as pg.Pool).end() : new Promise<void>((resolve) => (pool as MysqlPool).end(() => resolve()))),
  };
}
