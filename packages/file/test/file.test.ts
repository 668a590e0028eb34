import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { afterAll, describe, test } from "vitest";
import { createGamify, levels, type Gamify, type GamifyOptions } from "@gamifykit/core";
import { analyticsSuite, expectGamifyError, leaderboardSuite, storageSuite } from "@gamifykit/adapter-tests";
import { fileAnalytics, fileLeaderboards, fileStorage, fileStores, type FileStoreOptions } from "../src/index.js";
import { createFileStores, type FileStores } from "../src/stores.js";
import { award, countingIo, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

storageSuite({ describe, test }, async () => fileStorage({ directory: await tempDir() }), { name: "file" });
// Each board store shares its directory with a storage, which the suite's engines use.
const storages = new WeakMap<object, FileStores["storage"]>();
leaderboardSuite(
  { describe, test },
  async () => {
    const stores = fileStores({ directory: await tempDir() });
    storages.set(stores.leaderboardStore, stores.storage);
    return stores.leaderboardStore;
  },
  {
    name: "file",
    storage: (store) => {
      const storage = storages.get(store);
      if (storage === undefined) throw new Error("the suite passed a board store this file did not create");
      return storage;
    },
  },
);
analyticsSuite({ describe, test }, async ({ timeZone }) => fileAnalytics({ directory: await tempDir(), timeZone }), { name: "file" });

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 25, 12);

function engine(files: FileStores, clock: () => number): Gamify {
  const options: GamifyOptions = {
    storage: files.storage,
    leaderboardStore: files.leaderboardStore,
    analytics: files.analytics,
    levels: { xp: levels.linear({ step: 100 }) },
    leaderboards: [{ metric: "xp", periods: ["all", "week"] }],
    clock,
  };
  return createGamify(options);
}

/** Writes a bit of everything a store keeps. */
async function populate(gk: Gamify, files: FileStores, now: number): Promise<void> {
  await gk.addPoints("ana", 150, { metric: "xp", idempotencyKey: "signup", reason: "welcome", metadata: { n: 1, nested: { ok: true } } });
  await gk.addPoints("ben", 150, { metric: "xp" }); // ties with ana, who got there first
  await gk.addPoints("cy", 50, { metric: "xp" });
  await gk.removePoints("cy", 10, { metric: "xp" });
  await gk.awardBadge("ana", "gold");
  await gk.awardBadge("ben", "silver");
  await gk.revokeBadge("ben", "silver");
  await gk.track("ana", "login");
  await gk.addPoints("gone", 5);
  await gk.deleteUser("gone");
  await gk.addPoints("dee", 30, { at: now - 8 * DAY });
  assert.equal(await files.storage.claimOnce("ana", "rule:first", now), true);
}

/** Everything observable, to compare before and after a reopen. */
async function observe(gk: Gamify, files: FileStores, now: number) {
  const users = ["ana", "ben", "cy", "dee", "gone"];
  const boards = [];
  for (const period of ["all", "week"] as const) {
    for (const mode of ["ordinal", "standard", "dense"] as const) boards.push(await gk.leaderboard("xp", { period, at: now, mode }).top({ limit: 10 }));
  }
  return {
    users: await Promise.all(users.map((u) => gk.getUser(u))),
    events: await Promise.all(users.map((u) => gk.events(u, { limit: 100 }))),
    listed: await files.storage.listUsers({ limit: 100 }),
    boards,
    analytics: await files.analytics.aggregate({ granularity: "day", from: now - 10 * DAY, to: now + DAY }),
  };
}

/** Populates a store, closes it, reopens it with `reopenWith` and checks nothing was lost. */
async function roundTrip(options: Omit<FileStoreOptions, "directory">, between?: (files: FileStores) => Promise<void>) {
  const directory = await tempDir();
  const now = T0;
  const first = fileStores({ directory, ...options });
  const gk1 = engine(first, () => now);
  await populate(gk1, first, now);
  await between?.(first);
  const before = await observe(gk1, first, now);
  await gk1.close();

  const second = fileStores({ directory, ...options });
  const gk2 = engine(second, () => now);
  try {
    assert.deepEqual(await observe(gk2, second, now), before);
    assert.equal(before.users[0]?.levels.xp, 2);
    assert.deepEqual(
      before.boards[0]?.map((e) => e.userId),
      ["ana", "ben", "cy"],
      "ties keep their order",
    );
    // Idempotency keys and claims survive too.
    const replay = await gk2.addPoints("ana", 150, { metric: "xp", idempotencyKey: "signup" });
    assert.equal(replay.replayed, true);
    assert.equal(replay.total, 150);
    assert.equal(await second.storage.claimOnce("ana", "rule:first", now), false);
  } finally {
    await gk2.close();
  }
  return directory;
}

describe("file store: persistence", () => {
  test("points, badges, levels, events, idempotency, claims, boards and analytics survive close and reopen", async () => {
    const directory = await roundTrip({});
    // Nothing triggered a compaction: the log holds every record on top of the initial snapshot.
    const files = await readdir(directory);
    assert.ok(files.includes("log-00000001.jsonl"));
    assert.ok(!files.includes("LOCK"), "close() released the lock");
  });

  test("the same state survives automatic compactions (every 3 records) and an explicit one", async () => {
    const directory = await roundTrip({ compactEvery: 3 }, async (files) => {
      await files.compact();
    });
    const snapshot = JSON.parse(await readFile(join(directory, "snapshot.json"), "utf8")) as { segment: number };
    assert.ok(snapshot.segment > 3, `compacted several times (snapshot covers up to segment ${snapshot.segment})`);
    const segments = (await readdir(directory)).filter((f) => f.startsWith("log-"));
    assert.ok(segments.every((f) => Number(f.slice(4, 12)) >= snapshot.segment), `segments the snapshot covers are removed: ${segments.join(", ")}`);
  });

  test("300 concurrent mixed calls under compactions every 13 records reopen to the identical state", async () => {
    const directory = await tempDir();
    const now = T0;
    const options = { directory, compactEvery: 13 };
    const first = fileStores(options);
    const gk1 = engine(first, () => now);
    const users = ["ana", "ben", "cy", "dee", "gone"];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const userId = users[i % 4] as string;
        if (i % 10 === 3) return gk1.removePoints(userId, 7, { metric: "xp" });
        if (i % 10 === 5) return gk1.addPoints(userId, 11, { metric: "xp", idempotencyKey: `k-${i % 20}` });
        if (i % 25 === 0) return gk1.awardBadge(userId, `b${i % 3}`);
        if (i % 15 === 0) return gk1.track(userId, "login");
        return gk1.addPoints(userId, (i % 9) + 1, { metric: "xp", at: now - (i % 3) * 3 * DAY });
      }),
    );
    const before = await observe(gk1, first, now);
    await gk1.close();
    const second = fileStores(options);
    const gk2 = engine(second, () => now);
    try {
      assert.deepEqual(await observe(gk2, second, now), before);
    } finally {
      await gk2.close();
    }
  });

  test("durability: \"none\" never syncs while writing, yet a clean close persists everything", async () => {
    const directory = await tempDir();
    const io = countingIo();
    const files = createFileStores({ directory, durability: "none" }, io);
    await files.open();
    const syncsAfterOpen = io.syncs;
    for (let i = 0; i < 20; i++) await files.storage.applyAwards("quiet", [award("quiet", `e${i}`, 1)], Date.now());
    assert.equal(io.syncs, syncsAfterOpen, "no sync while writing");
    await files.close();
    assert.ok(io.syncs > syncsAfterOpen, "close() syncs");
    const again = fileStorage({ directory });
    assert.equal((await again.getUser("quiet"))?.points.points, 20);
    await again.close();
  });

  test("durability: \"batch\" acknowledges after the write and syncs every batchIntervalMs", async () => {
    // A long interval first, so no periodic sync can happen while the awards are acknowledged.
    const slowIo = countingIo();
    const slow = createFileStores({ directory: await tempDir(), durability: "batch", batchIntervalMs: 60_000 }, slowIo);
    await slow.open();
    const syncsAfterOpen = slowIo.syncs;
    for (let i = 0; i < 10; i++) await slow.storage.applyAwards("batched", [award("batched", `e${i}`, 1)], Date.now());
    assert.equal(slowIo.syncs, syncsAfterOpen, "acknowledged before any sync");
    await slow.close();

    const io = countingIo();
    const files = createFileStores({ directory: await tempDir(), durability: "batch", batchIntervalMs: 10 }, io);
    await files.open();
    const before = io.syncs;
    await files.storage.applyAwards("batched", [award("batched", "e1", 1)], Date.now());
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(io.syncs > before, "the interval synced the log");
    await files.close();
  });

  test("durability: \"batch\": a periodic sync that starts while the log moves to a new segment does not break the store", async () => {
    // Slow syncs and a 1 ms interval: the timer fires while a compaction syncs and closes the old
    // segment. A sync it started on that segment used to hit the closed file (EBADF) and poison the store.
    const io = countingIo();
    // A sync that starts while another runs reaches the disk later (as a queued fdatasync would).
    let running = 0;
    const slowIo = {
      ...io,
      async datasync(handle: Parameters<typeof io.datasync>[0]) {
        const delay = running > 0 ? 40 : 10;
        running++;
        try {
          await new Promise((resolve) => setTimeout(resolve, delay));
          await io.datasync(handle);
        } finally {
          running--;
        }
      },
    };
    const directory = await tempDir();
    const files = createFileStores({ directory, durability: "batch", batchIntervalMs: 1, compactEvery: 5 }, slowIo);
    await files.open();
    for (let i = 0; i < 10; i++) {
      // An award's write and a rotation queued behind it in one drain: the log is dirty as the switch syncs.
      const written = files.storage.applyAwards("rotating", [award("rotating", `e${i}`, 1)], Date.now());
      await files.compact();
      await written;
    }
    await files.close();
    const again = fileStorage({ directory });
    assert.equal((await again.getUser("rotating"))?.points.points, 10);
    await again.close();
  });

  test("leaderboard expiry replays by the record's time, also through a snapshot", async () => {
    const directory = await tempDir();
    let now = 1_000_000;
    const open = () => fileStores({ directory, clock: () => now });
    const first = open();
    await first.leaderboardStore.increment([{ board: "xp/week/1", delta: 5, expiresAt: 2_000_000 }, { board: "xp/all/all", delta: 5 }], "ana");
    await first.compact();
    await first.leaderboardStore.increment([{ board: "xp/week/1", delta: 1, expiresAt: 2_000_000 }], "ben");
    await first.close();
    now = 1_500_000;
    const second = open();
    assert.deepEqual(
      (await second.leaderboardStore.top("xp/week/1", { offset: 0, limit: 10, mode: "ordinal" })).map((e) => [e.userId, e.score]),
      [
        ["ana", 5],
        ["ben", 1],
      ],
    );
    await second.close();
    now = 2_000_000;
    const third = open();
    assert.equal(await third.leaderboardStore.count("xp/week/1"), 0, "expired");
    assert.equal(await third.leaderboardStore.count("xp/all/all"), 1);
    await third.close();
  });
});

describe("file store: recovery", () => {
  const segment = (directory: string) => join(directory, "log-00000001.jsonl");

  async function threeAwards(directory: string): Promise<void> {
    const storage = fileStorage({ directory });
    for (const i of [1, 2, 3]) await storage.applyAwards("rec", [award("rec", `e${i}`, i)], Date.now());
    await storage.close();
  }

  test("a torn last line is cut off and the store opens with every complete record", async () => {
    const directory = await tempDir();
    await threeAwards(directory);
    await appendFile(segment(directory), '{"op":"award","userId":"rec","now":17,"poi');
    const storage = fileStorage({ directory });
    assert.equal((await storage.getUser("rec"))?.points.points, 6);
    assert.ok((await readFile(segment(directory), "utf8")).endsWith("}\n"), "the torn line is gone from the file");
    await storage.applyAwards("rec", [award("rec", "e4", 4)], Date.now());
    await storage.close();
    const again = fileStorage({ directory });
    assert.equal((await again.getUser("rec"))?.points.points, 10);
    assert.equal((await again.readEvents("rec", { limit: 10 })).events.length, 4);
    await again.close();
  });

  test("a corrupt line in the middle fails the open with the file and line, and releases the lock", async () => {
    const directory = await tempDir();
    await threeAwards(directory);
    const lines = (await readFile(segment(directory), "utf8")).split("\n");
    lines[1] = '{"op":"award", oops';
    await writeFile(segment(directory), lines.join("\n"));
    const storage = fileStorage({ directory });
    const error = await expectGamifyError(storage.health(), "STORAGE_UNAVAILABLE");
    assert.equal(error.details.file, segment(directory));
    assert.equal(error.details.line, 2);
    assert.ok(!(await readdir(directory)).includes("LOCK"));
    await storage.close();
  });

  test("a write or sync failure fails the call and every later one; reopening serves what is on disk", async () => {
    const directory = await tempDir();
    const io = countingIo();
    const files = createFileStores({ directory }, io);
    await files.storage.applyAwards("disk", [award("disk", "e1", 1)], Date.now());
    io.failSyncs = true;
    await expectGamifyError(files.storage.applyAwards("disk", [award("disk", "e2", 2)], Date.now()), "STORAGE_UNAVAILABLE");
    io.failSyncs = false;
    await expectGamifyError(files.storage.getUser("disk"), "STORAGE_UNAVAILABLE", "poisoned until reopened");
    await expectGamifyError(files.leaderboardStore.set("b", "disk", 1), "STORAGE_UNAVAILABLE");
    await files.close();
    const again = fileStorage({ directory });
    assert.ok([1, 3].includes((await again.getUser("disk"))?.points.points ?? -1));
    await again.close();
  });

  test(
    "a process killed with SIGKILL loses no acknowledged award (durability: fsync), and its stale lock is taken over",
    async () => {
      const directory = await tempDir();
      const child = spawn(process.execPath, ["--import", "tsx", "packages/file/test/fixtures/crash-child.ts", directory], {
        cwd: join(import.meta.dirname, "../../.."),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const acked = new Map<string, number>();
      let buffered = "";
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          const lines = buffered.split("\n");
          buffered = lines.pop() ?? "";
          for (const line of lines) {
            const [key, total] = line.split(" ");
            acked.set(key as string, Number(total));
          }
          if (acked.size >= 300) {
            child.kill("SIGKILL");
            resolve();
          }
        });
        void exited.then(() => reject(new Error(`the child exited early: ${stderr}`)));
      });
      assert.equal(await exited, "SIGKILL");
      const lock = JSON.parse(await readFile(join(directory, "LOCK"), "utf8")) as { pid: number };
      assert.equal(lock.pid, child.pid, "the dead child left its lock behind");

      const files = fileStores({ directory });
      const gk = createGamify({ storage: files.storage, leaderboardStore: files.leaderboardStore, analytics: files.analytics });
      try {
        const state = await gk.getUser("survivor");
        const maxAcked = Math.max(...acked.values());
        assert.ok((state?.points.points ?? 0) >= maxAcked, `total ${state?.points.points} covers every acknowledged award (max ${maxAcked})`);
        const events = await files.storage.countEvents("survivor", { type: "points_added" });
        assert.equal(events, state?.points.points, "one event per point: no award half-applied");
        for (const [key, total] of acked) {
          const replay = await gk.addPoints("survivor", 1, { idempotencyKey: key });
          assert.equal(replay.replayed, true, `${key} is on disk`);
          assert.equal(replay.total, total, `${key} kept its outcome`);
        }
        assert.ok(((await gk.leaderboard("points").rank("survivor"))?.score ?? 0) >= maxAcked, "the board has every acknowledged award");
      } finally {
        await gk.close();
      }
    },
    30_000,
  );
});

describe("file store: lock and group commit", () => {
  test("a second open of a locked directory fails with STORAGE_UNAVAILABLE naming the holder, and succeeds once it is released", async () => {
    const directory = await tempDir();
    const first = fileStorage({ directory });
    await first.health();
    const second = fileLeaderboards({ directory });
    const error = await expectGamifyError(second.health(), "STORAGE_UNAVAILABLE");
    assert.equal(error.details.pid, process.pid);
    await first.close();
    await second.health();
    await second.close();
  });

  test("a stale lock from a dead process on this host is taken over; a lock from another host is not", async () => {
    const directory = await tempDir();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    assert.ok(dead !== undefined);
    await writeFile(join(directory, "LOCK"), JSON.stringify({ pid: dead, hostname: hostname(), token: "old", since: 0 }));
    const storage = fileStorage({ directory });
    await storage.health();
    const lock = JSON.parse(await readFile(join(directory, "LOCK"), "utf8")) as { pid: number };
    assert.equal(lock.pid, process.pid);
    await storage.close();

    await writeFile(join(directory, "LOCK"), JSON.stringify({ pid: dead, hostname: "elsewhere.invalid", token: "old", since: 0 }));
    const other = fileStorage({ directory });
    const error = await expectGamifyError(other.health(), "STORAGE_UNAVAILABLE");
    assert.equal(error.details.hostname, "elsewhere.invalid");
    await other.close();
  });

  test("50 concurrent awards in one tick share one write and one fsync", async () => {
    const directory = await tempDir();
    const io = countingIo();
    const files = createFileStores({ directory }, io);
    await files.open();
    const before = io.syncs;
    const now = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => files.storage.applyAwards(`u${i % 5}`, [award(`u${i % 5}`, `e${i}`, 1, now)], now)));
    assert.equal(outcomes.length, 50);
    assert.equal(io.syncs - before, 1);
    const lines = (await readFile(join(directory, "log-00000001.jsonl"), "utf8")).trim().split("\n");
    assert.equal(lines.length, 50);
    await files.close();
  });

  test("the analytics time zone is fixed per directory once analytics exist", async () => {
    const directory = await tempDir();
    const utc = fileAnalytics({ directory });
    await utc.record({ id: "e1", type: "action", userId: "tz", at: T0, action: "login" });
    await utc.close();
    await expectGamifyError(fileAnalytics({ directory, timeZone: "Europe/Berlin" }).aggregate({ granularity: "day", from: T0 - DAY, to: T0 + DAY }), "CONFLICT");
    // An empty analytics store adopts a new zone.
    const fresh = await tempDir();
    await fileStorage({ directory: fresh }).close();
    const storage = fileStorage({ directory: fresh });
    await storage.health();
    await storage.close();
    const berlin = fileAnalytics({ directory: fresh, timeZone: "Europe/Berlin" });
    await berlin.record({ id: "e1", type: "action", userId: "tz", at: T0, action: "login" });
    await berlin.close();
  });

  test("calls after close fail with CLOSED; bad options fail at construction with INVALID_ARGUMENT", async () => {
    const files = fileStores({ directory: await tempDir() });
    await files.open();
    await files.close();
    await files.close();
    await expectGamifyError(files.storage.getUser("x"), "CLOSED");
    await expectGamifyError(files.leaderboardStore.count("b"), "CLOSED");
    await expectGamifyError(files.analytics.activeUsers({ granularity: "day", at: T0 }), "CLOSED");
    await expectGamifyError(() => fileStores({ directory: "" }), "INVALID_ARGUMENT");
    await expectGamifyError(() => fileStores({ directory: "x", durability: "sometimes" as "none" }), "INVALID_ARGUMENT");
    await expectGamifyError(() => fileStores({ directory: "x", compactEvery: 0 }), "INVALID_ARGUMENT");
    await expectGamifyError(() => fileStores({ directory: "x", timeZone: "Mars/Olympus" }), "INVALID_ARGUMENT");
  });
});
