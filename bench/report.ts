import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

/** One measured figure beside the comparison it is judged against. */
export interface Row {
  readonly area: string;
  readonly measure: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  /** Higher is better for throughputs, lower for latencies and bytes. */
  readonly better: "higher" | "lower";
}

/** The machine a run happened on, printed with every report. */
export function machine() {
  const cpu = cpus();
  return { cpu: cpu[0]?.model ?? "unknown", cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en-US") : n.toPrecision(3));

/** Prints one table per area and writes `bench/results/<time>.json`. */
export function report(rows: readonly Row[], quick: boolean): void {
  const m = machine();
  console.log(`\nmachine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}${quick ? " (quick mode: figures are not meaningful)" : ""}`);
  for (const area of [...new Set(rows.map((r) => r.area))]) {
    console.log(`\n${area}`);
    console.table(
      rows
        .filter((r) => r.area === area)
        .map((r) => ({
          measure: r.measure,
          value: `${fmt(r.value)} ${r.unit}`,
          baseline: r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : "",
          ratio: r.baseline ? `${(r.better === "higher" ? r.value / r.baseline.value : r.baseline.value / r.value).toFixed(2)}×` : "",
        })),
    );
  }
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`./${new Date().toISOString().replace(/[:.]/g, "-")}.json`, dir);
  writeFileSync(file, JSON.stringify({ machine: m, quick, rows }, null, 2));
  console.log(`\nwritten: ${file.pathname}`);
}
