/**
 * Benchmarks. `pnpm bench` measures; `pnpm bench --quick` only proves they still run (CI).
 * Every figure is printed beside a comparison measured in the same run.
 *
 * `pnpm bench redis postgres` runs only the areas whose key is named. An area needing a server that is
 * unreachable is skipped with a line saying so, except under `CI=true`, where that fails the run.
 */
import { engineBench } from "./engine.js";
import { fileBench } from "./file.js";
import { httpBench } from "./http.js";
import { leaderboardBench } from "./leaderboards.js";
import { describeMachine, machine } from "./machine.js";
import { realtimeBench } from "./realtime.js";
import { redisBench } from "./redis.js";
import { report, type Row, type Skipped } from "./report.js";
import { Skip } from "./servers.js";
import { mysqlBench, postgresBench } from "./sql.js";
import { mysqlLeaderboardBench, postgresLeaderboardBench } from "./sql-leaderboards.js";

/** One benchmark area: `key` selects it on the command line. */
interface Area {
  readonly key: string;
  readonly run: (quick: boolean) => Promise<Row[]>;
}

const areas: Area[] = [
  { key: "engine", run: engineBench },
  { key: "leaderboards", run: leaderboardBench },
  { key: "redis", run: redisBench },
  { key: "postgres", run: postgresBench },
  { key: "mysql", run: mysqlBench },
  { key: "postgres-leaderboards", run: postgresLeaderboardBench },
  { key: "mysql-leaderboards", run: mysqlLeaderboardBench },
  { key: "file", run: fileBench },
  { key: "http", run: httpBench },
  { key: "realtime", run: realtimeBench },
];

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));
const unknown = only.filter((k) => !areas.some((a) => a.key === k));
if (unknown.length > 0) {
  console.error(`unknown area ${unknown.join(", ")}; areas: ${areas.map((a) => a.key).join(", ")}`);
  process.exit(2);
}

const m = machine();
console.log(describeMachine(m));
const rows: Row[] = [];
const skipped: Skipped[] = [];
const failed: string[] = [];
for (const area of areas) {
  if (only.length > 0 && !only.includes(area.key)) continue;
  const started = performance.now();
  try {
    rows.push(...(await area.run(quick)));
    console.log(`${area.key}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    if (error instanceof Skip) {
      console.log(`${area.key}: skipped (${error.message})`);
      skipped.push({ area: area.key, reason: error.message });
    } else {
      // The other areas still run and report; the run fails at the end.
      console.error(`${area.key}: failed`, error);
      failed.push(area.key);
    }
  }
}
report(rows, skipped, m, quick);
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exitCode = 1;
}
