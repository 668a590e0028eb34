import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisStorage } from "../src/index.js";
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
  test(`${PROCESSES} processes × ${AWARDS} concurrent awards to one user: exact total, one level_up per threshold`, async () => {
    const children = Array.from({ length: PROCESSES }, () => startChild(server!.url));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin.write("go\n");
    const reports = await Promise.all(children.map((c) => c.report));

    const storage = redisStorage({ url: server!.url, keyPrefix });
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
      console.log(`level_ups per process: ${JSON.stringify(reports.map((r) => r.levelUps))}`);
    } finally {
      await storage.close();
    }
  }, 60_000);
});
