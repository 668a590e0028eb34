import { randomBytes } from "node:crypto";
import { migrate, sqlStores, type SqlDialectName } from "@gamifykit/sql";
import { createPool } from "mysql2";
import pg from "pg";
import { AWARD, benchEngine, pointsOf, userOf } from "./award.js";
import type { Row } from "./report.js";
import { serverUrl } from "./servers.js";
import { compare, type Compared } from "./stats.js";

const POOL_SIZE = 10;
const BATCH = 100;

/** A driver pool with the two calls the floor needs, shared by the adapter and the floor. */
interface BenchPool {
  readonly dialect: SqlDialectName;
  /** What the adapter is given as `pool`. */
  readonly driverPool: object;
  query(text: string, values?: readonly unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

function openPool(dialect: SqlDialectName, url: string): BenchPool {
  if (dialect === "postgres") {
    const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
    pool.on("error", () => undefined);
    return { dialect, driverPool: pool, query: (text, values) => pool.query(text, values as unknown[]), end: () => pool.end() };
  }
  const pool = createPool({ uri: url, connectionLimit: POOL_SIZE });
  const promised = pool.promise();
  return { dialect, driverPool: pool, query: (text, values) => promised.query(text, values as unknown[]), end: () => promised.end() };
}

/** The floor: one single-row upsert per award, or one multi-row upsert per batch. */
function upserts(pool: BenchPool, table: string) {
  const pgUpsert = (rows: number) =>
    `INSERT INTO ${table} (user_id, total) VALUES ${Array.from({ length: rows }, (_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(", ")} ON CONFLICT (user_id) DO UPDATE SET total = ${table}.total + EXCLUDED.total`;
  const mysqlUpsert = (rows: number) =>
    `INSERT INTO ${table} (user_id, total) VALUES ${Array.from({ length: rows }, () => "(?, ?)").join(", ")} ON DUPLICATE KEY UPDATE total = total + VALUES(total)`;
  const text = pool.dialect === "postgres" ? pgUpsert : mysqlUpsert;
  const one = text(1);
  const many = text(BATCH);
  return {
    create: () => pool.query(`CREATE TABLE ${table} (user_id VARCHAR(64) NOT NULL PRIMARY KEY, total BIGINT NOT NULL)`),
    one: (userId: string, delta: number) => pool.query(one, [userId, delta]),
    many: (rows: readonly (readonly [string, number])[]) => pool.query(many, rows.flat()),
  };
}

/** Drops every table whose name starts with `prefix`, and the award routine of that prefix. */
async function dropPrefix(pool: BenchPool, prefix: string): Promise<void> {
  const listed =
    pool.dialect === "postgres"
      ? ((await pool.query("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")) as { rows: { name: string }[] }).rows
      : ((await pool.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()")) as [{ name: string }[]])[0];
  for (const { name } of listed) if (name.startsWith(prefix)) await pool.query(`DROP TABLE IF EXISTS ${name}`);
  // Migration 0003's award routine.
  await pool.query(pool.dialect === "postgres" ? `DROP FUNCTION IF EXISTS ${prefix}apply_award(jsonb)` : `DROP PROCEDURE IF EXISTS ${prefix}apply_award`);
}

function rows(area: string, measure: string, floor: string, c: Compared, options: { scale?: number; target?: number; latencies?: boolean } = {}): Row[] {
  const scale = options.scale ?? 1;
  const out: Row[] = [
    { area, measure: `${measure}: throughput`, value: c.subject.rate * scale, unit: "awards/s", baseline: { name: floor, value: c.floor.rate * scale }, better: "higher", ...(options.target === undefined ? {} : { target: options.target }) },
  ];
  if (options.latencies === false) return out;
  for (const p of ["p50", "p95", "p99"] as const) {
    out.push({ area, measure: `${measure}: ${p} latency`, value: c.subject.latency[p], unit: "ms", baseline: { name: floor, value: c.floor.latency[p] }, better: "lower" });
  }
  return out;
}

/**
 * Awards through the engine on `sqlStores`, beside a bare single-row upsert on the same pool, at 1
 * and 32 in flight; and `gk.batch` of 100 awards beside one 100-row upsert.
 */
async function sqlBench(dialect: SqlDialectName, quick: boolean): Promise<Row[]> {
  const url = await serverUrl(dialect);
  const area = `${dialect === "postgres" ? "PostgreSQL" : "MySQL (MariaDB)"} (pool of ${POOL_SIZE})`;
  const pool = openPool(dialect, url);
  const prefix = `gkbench_${randomBytes(5).toString("hex")}_`;
  const users = quick ? 200 : 10_000;
  const rounds = quick ? 1 : 3;
  const out: Row[] = [];
  let close = async (): Promise<void> => undefined;
  try {
    const floor = upserts(pool, `${prefix}bare`);
    await floor.create();
    await migrate({ dialect, pool: pool.driverPool, tablePrefix: prefix });
    const gk = benchEngine(sqlStores({ dialect, pool: pool.driverPool, tablePrefix: prefix }));
    close = () => gk.close();
    const floorName = dialect === "postgres" ? "INSERT … ON CONFLICT DO UPDATE" : "INSERT … ON DUPLICATE KEY UPDATE";

    const award = (i: number) => gk.addPoints(userOf(i, users), pointsOf(i), { metric: "xp" });
    const bare = (i: number) => floor.one(userOf(i, users), pointsOf(i));
    for (const inFlight of [1, 32]) {
      const total = quick ? 50 : inFlight === 1 ? 600 : 4_000;
      out.push(...rows(area, `${AWARD}, ${inFlight} in flight`, floorName, await compare(rounds, total, inFlight, award, bare), { target: 0.5 }));
    }

    // Batches of 100 distinct users, one batch in flight; figures are awards (not batches) per second.
    const batchOf = (b: number) => Array.from({ length: BATCH }, (_, k) => ({ userId: userOf(b * BATCH + k, users), amount: pointsOf(k) }));
    const batches = quick ? 2 : 30;
    const batched = await compare(
      rounds,
      batches,
      1,
      (b) => gk.batch(batchOf(b).map((a) => ({ ...a, metric: "xp" }))),
      (b) => floor.many(batchOf(b).map((a) => [a.userId, a.amount] as const)),
    );
    out.push(...rows(area, `gk.batch of ${BATCH} awards, 1 batch in flight`, `one ${BATCH}-row upsert`, batched, { scale: BATCH, latencies: false }));
    out.push({ area, measure: `gk.batch of ${BATCH} awards: p50 time per batch`, value: batched.subject.latency.p50, unit: "ms", baseline: { name: `one ${BATCH}-row upsert`, value: batched.floor.latency.p50 }, better: "lower" });
    return out;
  } finally {
    await close();
    await dropPrefix(pool, prefix);
    await pool.end();
  }
}

/** {@link sqlBench} on PostgreSQL. */
export const postgresBench = (quick: boolean): Promise<Row[]> => sqlBench("postgres", quick);
/** {@link sqlBench} on MySQL or MariaDB. */
export const mysqlBench = (quick: boolean): Promise<Row[]> => sqlBench("mysql", quick);
