/**
 * Prints a result file as Markdown tables, for docs/performance.md:
 * `node --import tsx bench/markdown.ts [bench/results/<file>.json]` (default: latest.json).
 */
import { readFileSync } from "node:fs";
import { fmt, ratio, type Row, type Skipped } from "./report.js";
import type { Machine } from "./machine.js";

interface Result {
  readonly at: string;
  readonly quick: boolean;
  readonly machine: Machine & { readonly loadAtEnd: readonly number[] };
  readonly rows: readonly Row[];
  readonly skipped: readonly Skipped[];
}

const file = process.argv[2] ?? new URL("./results/latest.json", import.meta.url).pathname;
const result = JSON.parse(readFileSync(file, "utf8")) as Result;
const m = result.machine;
const cell = (s: string) => s.replace(/\|/g, "\\|");

console.log(`Run of ${result.at}${result.quick ? " (quick mode: not meaningful)" : ""}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}.`);
console.log(`Load average ${m.loadAtStart.join(" / ")} at the start and ${m.loadAtEnd.join(" / ")} at the end (1 / 5 / 15 min).`);
const targeted = result.rows.filter((r) => r.target !== undefined);
if (targeted.length > 0) {
  console.log(`\n### Targets\n\n| area | measure | target | ratio | met? |\n| --- | --- | ---: | ---: | --- |`);
  for (const r of targeted) {
    const x = ratio(r);
    const met = x === undefined || r.target === undefined ? "" : x >= r.target ? "met" : "**missed**";
    console.log(`| ${cell(r.area)} | ${cell(r.measure)} | ≥ ${r.target}× | ${x === undefined ? "" : `${x.toFixed(2)}×`} | ${met} |`);
  }
}
for (const area of [...new Set(result.rows.map((r) => r.area))]) {
  console.log(`\n### ${area}\n\n| measure | GamifyKit | comparison | ratio | target |\n| --- | ---: | --- | ---: | --- |`);
  for (const r of result.rows.filter((row) => row.area === area)) {
    const x = ratio(r);
    const target = r.target === undefined || x === undefined ? "" : `≥ ${r.target}×: ${x >= r.target ? "met" : "**missed**"}`;
    const base = r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : "";
    console.log(`| ${cell(r.measure)} | ${fmt(r.value)} ${r.unit} | ${cell(base)} | ${x === undefined ? "" : `${x.toFixed(2)}×`} | ${target} |`);
  }
}
for (const s of result.skipped) console.log(`\nSkipped ${s.area}: ${s.reason}`);
