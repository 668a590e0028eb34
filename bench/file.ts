import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStores, type Durability } from "@gamifykit/file";
import { AWARD, benchEngine, pointsOf, userOf } from "./award.js";
import type { Row } from "./report.js";
import { compare } from "./stats.js";

const AREA = "File (JSON-lines log, local disk)";

/** A log line about the size of the adapter's award record. */
const line = (i: number): string =>
  `${JSON.stringify({ t: "award", u: userOf(i, 1_000), m: "xp", d: pointsOf(i), id: `evt_${i.toString(36).padStart(12, "0")}`, at: Date.now(), total: i, level: 3, boards: [["xp:all", pointsOf(i)]] })}\n`;

/**
 * Awards through the engine on `fileStores` with `durability: "fsync"` (group commit) and
 * `"batch"`, beside bare appends to one O_APPEND file: `write` + `fdatasync` per award for fsync,
 * `write` alone for batch (whose acknowledged writes are not yet synced either).
 */
export async function fileBench(quick: boolean): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), "gkbench-"));
  const rounds = quick ? 1 : 3;
  const users = quick ? 100 : 10_000;
  const out: Row[] = [];
  try {
    const cases: { durability: Durability; inFlight: number; total: number }[] = [
      { durability: "fsync", inFlight: 1, total: quick ? 20 : 300 },
      { durability: "fsync", inFlight: 32, total: quick ? 100 : 3_000 },
      { durability: "batch", inFlight: 1, total: quick ? 100 : 5_000 },
      { durability: "batch", inFlight: 32, total: quick ? 100 : 10_000 },
    ];
    for (const { durability, inFlight, total } of cases) {
      const stores = fileStores({ directory: join(dir, `${durability}-${inFlight}`), durability });
      const gk = benchEngine(stores);
      const log = await open(join(dir, `bare-${durability}-${inFlight}.log`), "a");
      try {
        const sync = durability === "fsync";
        const measured = await compare(
          rounds,
          total,
          inFlight,
          (i) => gk.addPoints(userOf(i, users), pointsOf(i), { metric: "xp" }),
          async (i) => {
            await log.write(line(i));
            if (sync) await log.datasync();
          },
        );
        const floor = sync ? "write + fdatasync per award" : "write per award, no sync";
        out.push(
          { area: AREA, measure: `${AWARD}, durability "${durability}", ${inFlight} in flight: throughput`, value: measured.subject.rate, unit: "awards/s", baseline: { name: floor, value: measured.floor.rate }, better: "higher" },
          { area: AREA, measure: `${AWARD}, durability "${durability}", ${inFlight} in flight: p99 latency`, value: measured.subject.latency.p99, unit: "ms", baseline: { name: floor, value: measured.floor.latency.p99 }, better: "lower" },
        );
      } finally {
        await gk.close();
        await log.close();
      }
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
