import { Migrator } from "kysely";
import { SqlHandle } from "./connection.js";
import { wrapError } from "./errors.js";
import { migrationProvider } from "./migrations.js";
import type { SqlCommonOptions, SqlDialectName } from "./options.js";

/** What {@link migrate} did. */
export interface MigrateResult {
  readonly dialect: SqlDialectName;
  readonly tablePrefix: string;
  /** Names of the migrations applied by this call, in order; empty when the schema was up to date. */
  readonly applied: readonly string[];
}

/**
 * Creates or upgrades the adapter's tables to the latest schema version. Safe to run on every
 * deploy and from several processes at once: Kysely's migration lock serialises runs, and a
 * second run applies nothing. On PostgreSQL the pending migrations apply in one transaction;
 * MySQL cannot roll DDL back, so a failed run there may leave some tables to drop by hand.
 *
 * @example
 * await migrate({ url: process.env.DATABASE_URL!, tablePrefix: "gamifykit_" });
 * @throws GamifyError `STORAGE_UNAVAILABLE` when the database cannot be reached or a migration fails.
 */
export async function migrate(options: SqlCommonOptions): Promise<MigrateResult> {
  const handle = new SqlHandle(options);
  handle.retain();
  try {
    const db = await handle.db();
    const migrator = new Migrator({
      db,
      provider: migrationProvider(handle.dialect, handle.tables),
      migrationTableName: handle.tables.migrations,
      migrationLockTableName: handle.tables.migrationsLock,
    });
    let outcome: Awaited<ReturnType<Migrator["migrateToLatest"]>>;
    try {
      outcome = await migrator.migrateToLatest();
    } catch (error) {
      throw wrapError(error, "migration");
    }
    if (outcome.error !== undefined) throw wrapError(outcome.error, "migration");
    const applied = (outcome.results ?? []).filter((r) => r.status === "Success" && r.direction === "Up").map((r) => r.migrationName);
    return { dialect: handle.dialect, tablePrefix: handle.prefix, applied };
  } finally {
    await handle.release();
  }
}
