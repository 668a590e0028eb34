import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, type GamifyEvent } from "@gamifykit/core";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisStores } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const run = runId("cross");
const keyPrefix = prefixer(run)();
const PROCESSES = 4;
const AWARDS = 250;
const child = fileURLToPath(new URL("./fixtures/award-child.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

afterAll(async () => {
  if (!server) return;
  const client = new Redis(server.url);
  await deletePrefix(client, run);
  await client.quit();
});

interface ChildReport {
  levelUps: number[];
  totals: number[];
  /** Redis commands the child's awards sent, by name. */
  commands: Record<string, number>;
}

/** Starts one child; resolves `ready` when it is waiting for "go", and `report` with its output. */
function startChild(url: string) {
  const proc = spawn(process.execPath, ["--import", "tsx", child, url, keyPrefix, String(AWARDS)], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout.on("data", (chunk: Buffer) => {
    out += String(chunk);
    if (out.startsWith("ready\n")) onReady();
  });
  proc.stderr.on("data", (chunk: Buffer) => (err += String(chunk)));
  const report = new Promise<ChildReport>((resolve, reject) => {
    proc.on("error", reject);
    proc.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`child exited with ${code}: ${err}`));
      resolve(JSON.parse(out.slice("ready\n".length)) as ChildReport);
    });
  });
  return { proc, ready, report };
}

describe.runIf(server)("redis across processes", () => {
  test(`${PROCESSES} processes × ${AWARDS} concurrent awards to one user through redisStores: exact total and boards, one level_up per threshold, one EVALSHA per award`, async () => {
    const children = Array.from({ length: PROCESSES }, () => startChild(server!.url));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin.write("go\n");
    const reports = await Promise.all(children.map((c) => c.report));

    const stores = redisStores({ url: server!.url, keyPrefix });
    const gk = createGamify({ ...stores, leaderboards: [{ metric: "xp", periods: ["day", "week", "month"] }] });
    const { storage } = stores;
    try {
      const total = PROCESSES * AWARDS;
      assert.equal((await storage.getUser("climber"))?.points.xp, total);
      assert.deepEqual(
        reports.flatMap((r) => r.totals).sort((a, b) => a - b),
        Array.from({ length: total }, (_, i) => i + 1),
        "every award saw a distinct running total",
      );
      assert.deepEqual(
        reports.flatMap((r) => r.levelUps).sort((a, b) => a - b),
        [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "each level from 2 to 11 once across all processes",
      );
      assert.equal((await storage.getUser("climber"))?.levels.xp, 11);
      assert.equal(await storage.countEvents("climber", { type: "level_up" }), 10);
      for (const report of reports) assert.deepEqual(report.commands, { evalsha: AWARDS }, "one EVALSHA per award, boards and level events included");
      for (const period of ["all", "day", "week", "month"] as const) {
        const lb = gk.leaderboard("xp", { period });
        assert.deepEqual(await lb.rank("climber"), { userId: "climber", score: total, rank: 1 }, period);
        assert.equal(await lb.count(), PROCESSES + 1, `${period}: the climber and each process's warm-up user`);
      }
      // Each level_up sits right after the points event that caused it: they were appended together.
      const log: GamifyEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await storage.readEvents("climber", { cursor, limit: 1000 });
        log.push(...page.events);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      assert.equal(log.length, total + 10);
      for (const [i, e] of log.entries()) {
        if (e.type === "level_up") {
          const cause = log[i - 1];
          assert.ok(cause?.type === "points_added" && e.id === `${cause.id}:level:${e.level}` && cause.total === (e.level - 1) * 100, `level ${e.level}`);
        }
      }
      console.log(`level_ups per process: ${JSON.stringify(reports.map((r) => r.levelUps))}`);
    } finally {
      await gk.close();
    }
  }, 60_000);
});
