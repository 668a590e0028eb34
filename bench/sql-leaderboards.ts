import { randomBytes } from "node:crypto";
import type { RankMode } from "@gamifykit/core";
import { sqlLeaderboards, tableNames, type SqlDialectName } from "@gamifykit/sql";
import { Kysely, Migrator, MysqlDialect, PostgresDialect } from "kysely";
import { createPool, type Pool as MysqlPool } from "mysql2";
import pg from "pg";
import { migrationProvider } from "../packages/sql/src/migrations.js";
import type { Row } from "./report.js";
import { serverUrl } from "./servers.js";
import { latencies } from "./stats.js";

const BOARD = "xp/all/all";
/** Scores spread like the in-memory benchmark's: uniform over a million values. */
const SCORE_RANGE = 1_000_000;

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Plain SQL on the same pool the store uses, for loading rows and for the naive baselines. */
interface Raw {
  query<T>(text: string, values?: readonly unknown[]): Promise<T[]>;
}

function rawOf(dialect: SqlDialectName, pool: pg.Pool | MysqlPool): Raw {
  if (dialect === "postgres") {
    const p = pool as pg.Pool;
    return {
      query: async (text, values) => {
        let n = 0;
        // Numbered placeholders from `?`, so both dialects share the statements below.
        return (await p.query(text.replace(/\?/g, () => `$${++n}`), values as unknown[])).rows;
      },
    };
  }
  const p = (pool as MysqlPool).promise();
  return { query: async <T>(text: string, values?: readonly unknown[]) => (await p.query(text, values as unknown[]))[0] as T[] };
}

/**
 * Fills `board_entries` with `users` rows on one board and `board_scores` from them, as the 0001
 * schema held them: one INSERT … SELECT over a generated series (generate_series on PostgreSQL,
 * MariaDB's seq_1_to_N table or a recursive CTE on MySQL).
 */
async function load(dialect: SqlDialectName, raw: Raw, prefix: string, users: number): Promise<void> {
  const t = tableNames(prefix);
  if (dialect === "postgres") {
    await raw.query("SELECT setseed(0.42)");
    await raw.query(
      `INSERT INTO ${t.boardEntries} (board, user_id, score) SELECT '${BOARD}', 'user-' || i, floor(random() * ${SCORE_RANGE})::bigint FROM generate_series(0, ${users - 1}) AS i`,
    );
  } else {
    const mariaSeq = await raw.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.engines WHERE engine = 'SEQUENCE' AND support IN ('YES', 'DEFAULT')");
    const series =
      Number(mariaSeq[0]?.n) > 0
        ? `SELECT seq - 1 AS i FROM seq_1_to_${users}`
        : `WITH RECURSIVE s (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${users - 1}) SELECT i FROM s`;
    await raw.query(`INSERT INTO ${t.boardEntries} (board, user_id, score) SELECT '${BOARD}', CONCAT('user-', i), FLOOR(RAND(42) * ${SCORE_RANGE}) FROM (${series}) AS g`);
  }
  await raw.query(`INSERT INTO ${t.boardScores} (board, score, n) SELECT board, score, COUNT(*) FROM ${t.boardEntries} GROUP BY board, score`);
  await raw.query(dialect === "postgres" ? `ANALYZE` : `ANALYZE TABLE ${t.boardEntries}, ${t.boardScores}`);
}

/**
 * p50 and p95 of `ours` over `samples` calls and of `naive` over every `naiveEvery`-th, interleaved
 * so both see the same machine (the naive queries scan up to the whole board: sampling each of
 * them 1000 times would take many minutes without changing their percentiles much).
 */
async function sample(samples: number, naiveEvery: number, ours: (i: number) => Promise<unknown>, naive: (i: number) => Promise<unknown>) {
  const a: number[] = [];
  const b: number[] = [];
  // Warm both paths (connections, prepared statements, the buffer pool's pages of the sampled
  // users and the counters) before timing: otherwise whichever mode is measured first pays for
  // loading what the later ones find cached, and the figures depend on the order of the modes.
  for (let i = 0; i < samples; i++) await ours(i);
  for (let i = 0; i < 3; i++) await naive(i);
  for (let i = 0; i < samples; i++) {
    let start = performance.now();
    await ours(i);
    a.push(performance.now() - start);
    if (i % naiveEvery !== 0) continue;
    start = performance.now();
    await naive(i);
    b.push(performance.now() - start);
  }
  return { ours: latencies(a), naive: latencies(b), naiveSamples: b.length };
}

/**
 * Rank, top-10 and around(±5) on one board of a million users (ten thousand with `--quick`)
 * through `sqlLeaderboards`, each beside the naive query measured alternately in the same run:
 * `SELECT count(*) … WHERE score > ?` for ranks, `ORDER BY … LIMIT 10` for the top, and a
 * count(*) rank plus an OFFSET page for the window.
 */
async function sqlLeaderboardBench(dialect: SqlDialectName, quick: boolean): Promise<Row[]> {
  const url = await serverUrl(dialect);
  const users = quick ? 10_000 : 1_000_000;
  const samples = quick ? 100 : 1_000;
  const naiveEvery = quick ? 1 : 20;
  const prefix = `gkbench_lb_${randomBytes(4).toString("hex")}_`;
  const t = tableNames(prefix);
  const pool = dialect === "postgres" ? new pg.Pool({ connectionString: url, max: 4 }) : createPool({ uri: url, connectionLimit: 4 });
  const db = new Kysely<unknown>({
    dialect: dialect === "postgres" ? new PostgresDialect({ pool: pool as pg.Pool }) : new MysqlDialect({ pool: pool as MysqlPool }),
  });
  const raw = rawOf(dialect, pool);
  const area = `Leaderboards (${dialect === "postgres" ? "PostgreSQL" : "MySQL (MariaDB)"}, ${users.toLocaleString("en-US")} users on one board)`;
  const store = sqlLeaderboards({ dialect, pool, tablePrefix: prefix });
  try {
    const migrator = new Migrator({ db, provider: migrationProvider(dialect, t), migrationTableName: t.migrations, migrationLockTableName: t.migrationsLock });
    const first = await migrator.migrateTo("0001_initial");
    if (first.error !== undefined) throw first.error;
    let started = performance.now();
    await load(dialect, raw, prefix, users);
    const loaded = (performance.now() - started) / 1000;
    // The bucket migration fills board_buckets from the loaded counters, as on an upgrade.
    started = performance.now();
    const latest = await migrator.migrateToLatest();
    if (latest.error !== undefined) throw latest.error;
    const migrated = (performance.now() - started) / 1000;
    console.log(`${dialect} leaderboards: loaded ${users.toLocaleString("en-US")} entries in ${loaded.toFixed(1)} s; migration 0002 filled the buckets in ${migrated.toFixed(1)} s`);

    const pick = lcg(7);
    const ids = Array.from({ length: samples + 5 }, () => `user-${Math.floor(pick() * users)}`);
    const naiveRank = (userId: string) =>
      raw.query(`SELECT COUNT(*) AS n FROM ${t.boardEntries} WHERE board = ? AND score > (SELECT score FROM ${t.boardEntries} WHERE board = ? AND user_id = ?)`, [BOARD, BOARD, userId]);
    const rows: Row[] = [];
    const push = (measure: string, naiveName: string, r: Awaited<ReturnType<typeof sample>>) => {
      for (const p of ["p50", "p95"] as const) {
        rows.push({ area, measure: `${measure} ${p}`, value: r.ours[p], unit: "ms", baseline: { name: `${naiveName} (${r.naiveSamples} samples)`, value: r.naive[p] }, better: "lower" });
      }
    };
    for (const mode of ["standard", "ordinal"] as const satisfies readonly RankMode[]) {
      push(`rank (${mode})`, "naive count(*) rank", await sample(samples, naiveEvery, (i) => store.rank(BOARD, ids[i]!, mode), (i) => naiveRank(ids[i]!)));
    }
    const topNaive = `SELECT user_id, score FROM ${t.boardEntries} WHERE board = ? ORDER BY score DESC, seq ASC LIMIT 10`;
    push("top 10", "plain ORDER BY … LIMIT 10", await sample(samples, 1, () => store.top(BOARD, { offset: 0, limit: 10, mode: "standard" }), () => raw.query(topNaive, [BOARD])));
    const pageNaive = `SELECT user_id, score FROM ${t.boardEntries} WHERE board = ? ORDER BY score DESC, seq ASC LIMIT 11 OFFSET ?`;
    push(
      "around ±5 (standard)",
      "count(*) rank + OFFSET page",
      await sample(
        samples,
        naiveEvery,
        (i) => store.around(BOARD, ids[i]!, { radius: 5, mode: "standard" }),
        async (i) => {
          const [above] = await naiveRank(ids[i]!);
          await raw.query(pageNaive, [BOARD, Math.max(0, Number((above as { n: unknown }).n) - 5)]);
        },
      ),
    );
    return rows;
  } finally {
    await store.close();
    const listed =
      dialect === "postgres"
        ? await raw.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
        : await raw.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()");
    for (const { name } of listed) if (name.startsWith(prefix)) await raw.query(`DROP TABLE IF EXISTS ${name}`);
    // Migration 0003's award routine is not a table.
    await raw.query(dialect === "postgres" ? `DROP FUNCTION IF EXISTS ${prefix}apply_award(jsonb)` : `DROP PROCEDURE IF EXISTS ${prefix}apply_award`);
    await db.destroy();
  }
}

/** {@link sqlLeaderboardBench} on PostgreSQL. */
export const postgresLeaderboardBench = (quick: boolean): Promise<Row[]> => sqlLeaderboardBench("postgres", quick);
/** {@link sqlLeaderboardBench} on MySQL or MariaDB. */
export const mysqlLeaderboardBench = (quick: boolean): Promise<Row[]> => sqlLeaderboardBench("mysql", quick);
