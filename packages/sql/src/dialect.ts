import { sql, type InsertQueryBuilder, type Kysely, type OperationNodeSource, type RawBuilder } from "kysely";
import type { LooseDb } from "./connection.js";
import type { SqlDialectName } from "./options.js";

type Insert<R> = InsertQueryBuilder<LooseDb, string, R>;

/** Builds the SET list of an upsert from the incoming row's value and the stored row's value. */
export type UpsertSet = (incoming: (column: string) => RawBuilder<unknown>, stored: (column: string) => RawBuilder<unknown>) => Record<string, RawBuilder<unknown>>;

/**
 * The two dialects' atomic upserts: `ON CONFLICT (…) DO UPDATE` on PostgreSQL and
 * `ON DUPLICATE KEY UPDATE` on MySQL. Either way the conflicting row is locked and updated in the
 * same statement, so concurrent upserts of one key never lose an update.
 */
export function upsert<R>(dialect: SqlDialectName, table: string, insert: Insert<R>, conflict: readonly string[], set: UpsertSet): Insert<R> {
  const stored = (column: string) => sql`${sql.ref(`${table}.${column}`)}`;
  if (dialect === "postgres") {
    const incoming = (column: string) => sql`${sql.ref(`excluded.${column}`)}`;
    return insert.onConflict((oc) => oc.columns([...conflict]).doUpdateSet(set(incoming, stored)));
  }
  // VALUES(col) rather than the row alias syntax: MariaDB has no alias form.
  const incoming = (column: string) => sql`VALUES(${sql.ref(column)})`;
  return insert.onDuplicateKeyUpdate(set(incoming, stored));
}

/** INSERT that silently skips rows whose key exists (`ON CONFLICT DO NOTHING` / `INSERT IGNORE`). */
export function insertIgnore<R>(dialect: SqlDialectName, insert: Insert<R>): Insert<R> {
  return dialect === "postgres" ? insert.onConflict((oc) => oc.doNothing()) : insert.ignore();
}

/** A statement that can be compiled and run on its own or as a data-modifying CTE. */
export type Compilable = OperationNodeSource & { execute(): Promise<unknown> };

/**
 * `WITH s1 AS (…), s2 AS (…) <last>`: PostgreSQL runs data-modifying statements in a WITH together,
 * in one round trip. Only for statements on different tables that do not read each other's writes
 * (they all see one snapshot).
 */
export function withStatements<O>(leading: readonly Compilable[], last: Compilable): RawBuilder<O> {
  const ctes = leading.map((statement, i) => sql`${sql.id(`gk_s${i}`)} AS (${statement})`);
  return sql<O>`WITH ${sql.join(ctes, sql`, `)} ${last}`;
}

/**
 * Runs writes that do not depend on each other: one statement on PostgreSQL (see
 * {@link withStatements}), one after another on MySQL, which has no data-modifying CTEs.
 */
export async function executeAll(dialect: SqlDialectName, trx: Kysely<LooseDb>, statements: readonly Compilable[]): Promise<void> {
  const last = statements.at(-1);
  if (last === undefined) return;
  if (dialect === "postgres" && statements.length > 1) {
    await withStatements(statements.slice(0, -1), last).execute(trx);
    return;
  }
  for (const statement of statements) await statement.execute();
}

/** Code-unit order: how the tables compare keys (binary collation), so locks are taken in one order everywhere. */
export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
