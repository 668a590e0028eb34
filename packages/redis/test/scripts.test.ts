import assert from "node:assert/strict";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, levelEvents, levels, type AwardRequest, type AwardResult, type RankedEntry } from "@gamifykit/core";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisLeaderboards, redisStorage, redisStores } from "../src/index.js";
import { commandsSentBy, deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const run = runId("scripts");
const keyPrefix = prefixer(run);
const client = server ? new Redis(server.url) : undefined;

afterAll(async () => {
  if (!client) return;
  await deletePrefix(client, run);
  await client.quit();
});

const DAY_MS = 86_400_000;
const rows = (entries: readonly RankedEntry[]) => entries.map((e) => [e.userId, e.score, e.rank]);

describe.runIf(server)("redis scripts", () => {
  test("with redisStores an award is exactly one EVALSHA: idempotency, total, level-ups, the event log and all four boards", async () => {
    const host = new Redis(server!.url);
    const prefix = keyPrefix();
    const stores = redisStores({ client: host, keyPrefix: prefix });
    assert.equal(stores.storage.leaderboards, stores.leaderboardStore, "the storage declares its sibling board store");
    const periods = ["all", "day", "week", "month"] as const;
    const gk = createGamify({ ...stores, analytics: false, levels: { xp: levels.linear({ step: 100 }) }, leaderboards: [{ metric: "xp", periods: ["day", "week", "month"] }] });
    try {
      await gk.addPoints("warm", 1, { metric: "xp" }); // loads the level table and caches the script
      let result: AwardResult | undefined;
      assert.deepEqual(
        await commandsSentBy(host, async () => (result = await gk.addPoints("v", 250, { metric: "xp", idempotencyKey: "k" }))),
        ["evalsha"],
      );
      assert.deepEqual([result?.total, result?.previousLevel, result?.level], [250, 1, 3]);
      const pointsEvent = result?.events[0] as AwardRequest["event"];
      assert.deepEqual(result?.events.slice(1), levelEvents(pointsEvent, "xp", 1, 3));
      assert.deepEqual((await gk.events("v")).events, result?.events, "the script logged the points event and both level_ups");
      for (const period of periods) {
        const lb = gk.leaderboard("xp", { period });
        assert.deepEqual(await lb.rank("v"), { userId: "v", score: 250, rank: 1 }, period);
        assert.deepEqual(rows(await lb.top()), [["v", 250, 1], ["warm", 1, 2]], period);
        const ttl = await host.pttl(`${prefix}lb:{${lb.board}}:s`);
        assert.ok(period === "all" ? ttl === -1 : ttl > 30 * DAY_MS, `${period} board expiry ${ttl}`);
      }

      // A replay is one EVALSHA too, and moves nothing.
      assert.deepEqual(await commandsSentBy(host, () => gk.addPoints("v", 250, { metric: "xp", idempotencyKey: "k" })), ["evalsha"]);
      // So is a batch of one user's awards, whatever their metrics and boards.
      assert.deepEqual(
        await commandsSentBy(host, () =>
          gk.batch([
            { userId: "v", amount: 100, metric: "xp" },
            { userId: "v", amount: 7, metric: "coins" },
            { userId: "v", amount: 50, metric: "xp", type: "remove" },
          ]),
        ),
        ["evalsha"],
      );
      for (const period of periods) assert.equal((await gk.leaderboard("xp", { period }).rank("v"))?.score, 300, period);
      assert.equal((await gk.leaderboard("coins").rank("v"))?.score, 7);
      assert.deepEqual(
        (await gk.events("v")).events.map((e) => e.type),
        ["points_added", "level_up", "level_up", "points_added", "level_up", "points_added", "points_removed"],
      );
    } finally {
      await gk.close();
      await host.quit();
    }
  });

  test("inside its one EVALSHA, a steady-state award runs a fixed list of Redis commands (no idempotency sweep without a key)", async () => {
    const host = new Redis(server!.url);
    const watcher = new Redis(server!.url);
    const prefix = keyPrefix();
    const stores = redisStores({ client: host, keyPrefix: prefix });
    const gk = createGamify({ ...stores, analytics: false, levels: { xp: levels.quadratic({ base: 100 }) }, leaderboards: [{ metric: "xp", periods: ["all"] }] });
    const monitor = await watcher.monitor();
    try {
      // MONITOR shows the commands a script runs with source "lua"; other tests' keys have other prefixes.
      let seen: string[] = [];
      const markers = new Map<string, () => void>();
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        const marker = markers.get(args[1] ?? "");
        if (marker !== undefined) marker();
        else if (source === "lua" && args[1]?.startsWith(prefix) === true) seen.push(args[0]!.toUpperCase());
      });
      /** Resolves once the monitor has shown everything sent before it. */
      const caughtUp = async (name: string): Promise<void> => {
        const shown = new Promise<void>((resolve) => markers.set(`${prefix}${name}`, resolve));
        await host.get(`${prefix}${name}`);
        await shown;
      };
      await gk.addPoints("solo", 10, { metric: "xp" }); // creates the user, its board entry and the level curve
      await caughtUp("first");
      seen = [];
      const result = await gk.addPoints("solo", 5, { metric: "xp" });
      await caughtUp("second");
      assert.deepEqual([result.total, result.level], [15, 1]);
      // The user is alone on the board, so the dense-rank bookkeeping adds score 15 and drops 10.
      assert.deepEqual(seen, [
        "HMGET", // total, level and createdAt
        "ZREVRANGEBYSCORE", // the level of the new total
        "ZSCORE", // the board score before
        "HSET", // total, level, updatedAt
        "XADD", // the points event
        "INCR", // the tie-break stamp
        "ZADD", // score
        "ZADD", // ordinal member
        "HINCRBY", // users at 15
        "ZADD", // 15 is a new distinct score
        "HGET", // the old stamp
        "ZREM", // the old ordinal member
        "HINCRBY", // users at 10
        "HDEL", // nobody is left at 10
        "ZREM", // so 10 is no longer a distinct score
        "HSET", // the new stamp
        "PTTL", // the board has no expiry: the user's board set already has it
      ]);
    } finally {
      monitor.disconnect();
      watcher.disconnect();
      await gk.close();
      await host.quit();
    }
  });

  test("rank, around and top are one EVALSHA each, on every period board and in every mode", async () => {
    const host = new Redis(server!.url);
    const prefix = keyPrefix();
    const gk = createGamify({ ...redisStores({ client: host, keyPrefix: prefix }), analytics: false, leaderboards: [{ metric: "xp", periods: ["day", "week", "month"] }] });
    try {
      for (const [i, userId] of ["a", "b", "c", "d", "e"].entries()) await gk.addPoints(userId, 10 * (i % 3) + 5, { metric: "xp" });
      for (const period of ["all", "day", "week", "month"] as const) {
        for (const mode of ["standard", "dense", "ordinal"] as const) {
          const lb = gk.leaderboard("xp", { period, mode });
          // The first call of each script may load it (EVALSHA, then EVAL on NOSCRIPT); count the next.
          await lb.rank("c");
          await lb.around("c", { radius: 1 });
          await lb.top({ limit: 3 });
          let rank: RankedEntry | null = null;
          assert.deepEqual(await commandsSentBy(host, async () => (rank = await lb.rank("c"))), ["evalsha"], `rank ${period} ${mode}`);
          assert.equal(rank!.score, 25);
          let around: readonly RankedEntry[] = [];
          assert.deepEqual(await commandsSentBy(host, async () => (around = await lb.around("c", { radius: 1 }))), ["evalsha"], `around ${period} ${mode}`);
          assert.equal(around.length, 3);
          assert.deepEqual(await commandsSentBy(host, () => lb.top({ limit: 3 })), ["evalsha"], `top ${period} ${mode}`);
        }
      }
    } finally {
      await gk.close();
      await host.quit();
    }
  });

  test("with a separate leaderboard store (not the storage's own) an award is one EVALSHA plus one for the boards", async () => {
    const host = new Redis(server!.url);
    const prefix = keyPrefix();
    const storage = redisStorage({ client: host, keyPrefix: prefix });
    assert.equal(storage.leaderboards, undefined);
    const gk = createGamify({ storage, leaderboardStore: redisLeaderboards({ client: host, keyPrefix: prefix }), analytics: false, levels: { xp: levels.linear({ step: 100 }) } });
    try {
      await gk.addPoints("warm", 1, { metric: "xp" });
      assert.deepEqual(await commandsSentBy(host, () => gk.addPoints("v", 250, { metric: "xp", idempotencyKey: "k" })), ["evalsha", "evalsha"]);
      assert.equal((await gk.leaderboard("xp").rank("v"))?.score, 250);
      assert.equal(await storage.countEvents("v", { type: "level_up" }), 2, "level events are the storage's work either way");
    } finally {
      await gk.close();
      await host.quit();
    }
  });

  test("idempotency keys expire after idempotencyTtlMs of the engine clock, and expired records are swept", async () => {
    let now = Date.now();
    const prefix = keyPrefix();
    const storage = redisStorage({ client, keyPrefix: prefix, idempotencyTtlMs: 1000 });
    const gk = createGamify({ storage, analytics: false, clock: () => now });
    try {
      assert.equal((await gk.addPoints("u", 5, { idempotencyKey: "a" })).replayed, false);
      now += 999;
      assert.equal((await gk.addPoints("u", 5, { idempotencyKey: "a" })).replayed, true);
      now += 1;
      const again = await gk.addPoints("u", 5, { idempotencyKey: "a" });
      assert.equal(again.replayed, false, "the key expired");
      assert.equal(again.total, 10);
      now += 1000;
      await gk.addPoints("u", 1); // an award without a key neither adds records nor needs a sweep
      assert.equal(await client!.hlen(`${prefix}u:{u}:idem`), 1);
      await gk.addPoints("u", 1, { idempotencyKey: "b" }); // an award recording a key sweeps a few expired ones
      assert.deepEqual(await client!.hkeys(`${prefix}u:{u}:idem`), ["b"]);
      assert.deepEqual(await client!.zrange(`${prefix}u:{u}:idemx`, 0, -1), ["b"]);
      const ttl = await client!.pttl(`${prefix}u:{u}:idem`);
      assert.ok(ttl === -2 || (ttl > 0 && ttl <= 1000), "a quiet user's records expire as a whole");
    } finally {
      await gk.close();
    }
  });

  test("totals and board scores at the edge of the safe-integer range are stored and returned exactly", async () => {
    const stores = redisStores({ client, keyPrefix: keyPrefix() });
    const gk = createGamify({ ...stores, analytics: false });
    try {
      const max = Number.MAX_SAFE_INTEGER;
      assert.equal((await gk.addPoints("big", max - 1)).total, max - 1);
      assert.equal((await gk.addPoints("big", 1)).total, max);
      assert.equal((await gk.getUser("big"))?.points.points, max);
      assert.equal((await gk.removePoints("small", max)).total, -max);
      const top = await gk.leaderboard("points").top({ limit: 10 });
      assert.deepEqual(
        top.map((e) => [e.userId, e.score, e.rank]),
        [
          ["big", max, 1],
          ["small", -max, 2],
        ],
      );
      assert.deepEqual(await gk.leaderboard("points", { mode: "dense" }).rank("small"), { userId: "small", score: -max, rank: 2 });
    } finally {
      await gk.close();
    }
  });

  test("a period board's five keys keep one expiry as scores move, users leave and the expiry changes", async () => {
    const prefix = keyPrefix();
    const boards = redisLeaderboards({ client, keyPrefix: prefix });
    const expiries = async (board: string) => Promise.all(["s", "o", "m", "d", "c"].map((suffix) => client!.call("PEXPIRETIME", `${prefix}lb:{${board}}:${suffix}`)));
    const first = Date.now() + 3_600_000;
    try {
      // One user alone: every move replaces the only distinct score (the counts and distinct keys would empty out mid-write).
      for (const delta of [5, 3, -2]) await boards.increment([{ board: "solo", delta, expiresAt: first }], "a");
      assert.deepEqual(await expiries("solo"), [first, first, first, first, first]);
      await boards.increment([{ board: "shared", delta: 1, expiresAt: first }], "a");
      await boards.increment([{ board: "shared", delta: 1, expiresAt: first }], "b");
      await boards.increment([{ board: "shared", delta: 4, expiresAt: first }], "a");
      assert.deepEqual(await expiries("shared"), [first, first, first, first, first]);
      // A later expiry moves all five keys and the users' board entries.
      const later = first + 60_000;
      await boards.increment([{ board: "shared", delta: 1, expiresAt: later }], "b");
      assert.deepEqual(await expiries("shared"), [later, later, later, later, later]);
      assert.equal(Number(await client!.zscore(`${prefix}lbu:{b}`, "shared")), later);
      // The last user leaving takes the keys; a new first member sets the expiry again.
      await boards.remove("solo", "a");
      assert.equal(await client!.exists(`${prefix}lb:{solo}:s`, `${prefix}lb:{solo}:c`, `${prefix}lb:{solo}:d`), 0);
      await boards.increment([{ board: "solo", delta: 1, expiresAt: later }], "c");
      assert.deepEqual(await expiries("solo"), [later, later, later, later, later]);
      assert.deepEqual(rows(await boards.top("shared", { offset: 0, limit: 5, mode: "ordinal" })), [
        ["a", 5, 1],
        ["b", 2, 2],
      ]);
    } finally {
      await boards.close();
    }
  });
});
