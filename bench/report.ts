import { mkdirSync, writeFileSync } from "node:fs";
import { load, type Machine } from "./machine.js";

/** One measured figure beside the comparison it is judged against. */
export interface Row {
  readonly area: string;
  readonly measure: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  /** Higher is better for throughputs, lower for latencies and bytes. */
  readonly better: "higher" | "lower";
  /** The ratio this figure should reach (e.g. 0.8 for "at least 0.8× the floor"). */
  readonly target?: number;
}

/** An area that did not run, and why (a server that is not reachable outside CI). */
export interface Skipped {
  readonly area: string;
  readonly reason: string;
}

/** How many times better than its baseline a figure is (above 1 beats the baseline), or undefined. */
export function ratio(row: Row): number | undefined {
  if (!row.baseline) return undefined;
  return row.better === "higher" ? row.value / row.baseline.value : row.baseline.value / row.value;
}

/** Figures with three significant digits, thousands separated from 100 up. */
export const fmt = (n: number | null): string =>
  n === null || !Number.isFinite(n) ? "n/a" : Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en-US") : n.toPrecision(3);

const targetCell = (row: Row, r: number | undefined): string => {
  if (row.target === undefined || r === undefined) return "";
  return `≥ ${row.target}× ${r >= row.target ? "met" : "MISSED"}`;
};

/** Prints one table per area, then writes `bench/results/<time>.json` and `bench/results/latest.json`. */
export function report(rows: readonly Row[], skipped: readonly Skipped[], m: Machine, quick: boolean): void {
  for (const area of [...new Set(rows.map((r) => r.area))]) {
    console.log(`\n${area}`);
    console.table(
      rows
        .filter((r) => r.area === area)
        .map((r) => {
          const x = ratio(r);
          return {
            measure: r.measure,
            value: `${fmt(r.value)} ${r.unit}`,
            baseline: r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : "",
            ratio: x === undefined ? "" : `${x.toFixed(2)}×`,
            target: targetCell(r, x),
          };
        }),
    );
  }
  for (const s of skipped) console.log(`\nskipped ${s.area}: ${s.reason}`);
  const loadAtEnd = load();
  console.log(`\nload average at the end: ${loadAtEnd.join(" / ")} (1 / 5 / 15 min)${quick ? "; quick mode: figures are not meaningful" : ""}`);

  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const at = new Date();
  const json = JSON.stringify(
    { at: at.toISOString(), quick, machine: { ...m, loadAtEnd }, rows: rows.map((r) => ({ ...r, ratio: ratio(r) ?? null })), skipped },
    null,
    2,
  );
  const file = new URL(`./${at.toISOString().replace(/[:.]/g, "-")}.json`, dir);
  writeFileSync(file, json);
  writeFileSync(new URL("./latest.json", dir), json);
  console.log(`written: ${file.pathname} (and latest.json)`);
}
