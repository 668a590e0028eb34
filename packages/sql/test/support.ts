import { randomBytes } from "node:crypto";
import { Kysely, MysqlDialect, PostgresDialect, sql } from "kysely";
import { createPool, type Pool as MysqlPool } from "mysql2";
import pg from "pg";
import type { SqlDialectName } from "../src/index.js";

/** A fresh table prefix: isolates one store from every other test and helper sharing the database. */
export function randomPrefix(): string {
  return `gkt_${randomBytes(6).toString("hex")}_`;
}

/** A driver pool and Kysely instance the tests own (the "host" of the pool and db options). */
export interface Host {
  readonly dialect: SqlDialectName;
  readonly pool: pg.Pool | MysqlPool;
  readonly db: Kysely<never>;
  /** Drops every table whose name starts with one of the prefixes. */
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
    async dropPrefixes(prefixes) {
      if (prefixes.length === 0) return;
      const listed =
        dialect === "postgres"
          ? await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`.execute(db)
          : await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`.execute(db);
      const mine = listed.rows.map((r) => r.name).filter((name) => prefixes.some((p) => name.startsWith(p)));
      for (const name of mine) await sql`DROP TABLE IF EXISTS ${sql.table(name)}`.execute(db);
    },
    async end() {
      await db.destroy();
    },
  };
}
