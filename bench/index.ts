/**
 * Benchmarks. `pnpm bench` measures; `pnpm bench --quick` only proves they still run (CI).
 * Every figure is printed beside a comparison measured in the same run.
 */
import { engineBench } from "./engine.js";
import { leaderboardBench } from "./leaderboards.js";
import { report, type Row } from "./report.js";

const quick = process.argv.includes("--quick");
const rows: Row[] = [];
rows.push(...(await engineBench(quick)));
rows.push(...(await leaderboardBench(quick)));
report(rows, quick);
