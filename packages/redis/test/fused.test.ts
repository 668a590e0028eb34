/**
 * Boards updated inside the award script: `redisStores` (or `redisStorage({ leaderboards })`)
 * declares `storage.leaderboards`, the engine then passes `AwardRequest.boards` and never calls
 * `increment` for awards. These tests check that the fused path keeps `increment`'s semantics.
 */
import assert from "node:assert/strict";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import {
  createGamify,
  levelEvents,
  levels,
  memoryLeaderboards,
  memoryStorage,
  periodKey,
  periodRange,
  type AwardRequest,
  type BatchAward,
  type Gamify,
  type GamifyOptions,
  type RankMode,
  type RankedEntry,
} from "@gamifykit/core";
import { expectGamifyError, findTestServer } from "@gamifykit/adapter-tests";
import { redisLeaderboards, redisStorage, redisStores } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const run = runId("fused");
const keyPrefix = prefixer(run);
const client = server ? new Redis(server.url) : undefined;
const MAX = Number.MAX_SAFE_INTEGER;
const DAY = 86_400_000;
const PERIODS = ["all", "day", "week", "month"] as const;
const MODES: readonly RankMode[] = ["standard", "dense", "ordinal"];

afterAll(async () => {
  if (!client) return;
  await deletePrefix(client, run);
  await client.quit();
});

const rows = (entries: readonly RankedEntry[]) => entries.map((e) => [e.userId, e.score, e.rank]);

/** An engine on `redisStores` (boards in the award script), and the stores' prefix; closes everything. */
async function withFused(config: Omit<GamifyOptions, "storage" | "leaderboardStore" | "analytics">, fn: (gk: Gamify, prefix: string) => Promise<void>) {
  const prefix = keyPrefix();
  const stores = redisStores({ client, keyPrefix: prefix });
  const gk = createGamify({ ...config, storage: stores.storage, leaderboardStore: stores.leaderboardStore, analytics: false });
  try {
    await fn(gk, prefix);
  } finally {
    await gk.close();
    await stores.analytics.close();
  }
}

/** The user's score on each of the metric's period boards (null when absent). */
async function scores(gk: Gamify, userId: string, metric = "xp", at?: number) {
  const out: Record<string, number | null> = {};
  for (const period of PERIODS) out[period] = (await gk.leaderboard(metric, { period, ...(at === undefined ? {} : { at }) }).rank(userId))?.score ?? null;
  return out;
}

const allPeriods = { leaderboards: [{ metric: "xp", periods: ["day", "week", "month"] as ("day" | "week" | "month")[] }] };

describe.runIf(server)("redis: boards in the award script", () => {
  test("redisStorage({ leaderboards }) takes only a redisLeaderboards store on the same key prefix", async () => {
    const prefix = keyPrefix();
    assert.throws(() => redisStorage({ client, keyPrefix: prefix, leaderboards: memoryLeaderboards() }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisStorage({ client, keyPrefix: prefix, leaderboards: {} as never }), { code: "INVALID_ARGUMENT" });
    const elsewhere = redisLeaderboards({ client, keyPrefix: keyPrefix() });
    assert.throws(() => redisStorage({ client, keyPrefix: prefix, leaderboards: elsewhere }), { code: "INVALID_ARGUMENT" });
    // ioredis adds a client's own keyPrefix to every key: that counts as part of the prefix.
    const prefixed = new Redis(server!.url, { lazyConnect: true, keyPrefix: "other:" });
    try {
      const viaPrefixed = redisLeaderboards({ client: prefixed, keyPrefix: prefix });
      assert.throws(() => redisStorage({ client, keyPrefix: prefix, leaderboards: viaPrefixed }), { code: "INVALID_ARGUMENT" });
      await viaPrefixed.close();
    } finally {
      prefixed.disconnect();
    }
    await elsewhere.close();

    // Another client on the same database and prefix is fine: the award script writes the boards.
    const other = new Redis(server!.url);
    const leaderboardStore = redisLeaderboards({ client: other, keyPrefix: prefix });
    const storage = redisStorage({ client, keyPrefix: prefix, leaderboards: leaderboardStore });
    assert.equal(storage.leaderboards, leaderboardStore);
    const gk = createGamify({ storage, leaderboardStore, analytics: false, ...allPeriods });
    try {
      await gk.addPoints("u", 12, { metric: "xp" });
      assert.deepEqual(await scores(gk, "u"), { all: 12, day: 12, week: 12, month: 12 });
    } finally {
      await gk.close();
      await other.quit();
    }
  });

  test("a replay does not move boards, also within one batch", () =>
    withFused(allPeriods, async (gk) => {
      await gk.addPoints("u", 30, { metric: "xp", idempotencyKey: "k1" });
      const again = await gk.addPoints("u", 30, { metric: "xp", idempotencyKey: "k1" });
      assert.equal(again.replayed, true);
      const results = await gk.batch([
        { userId: "u", amount: 5, metric: "xp", idempotencyKey: "k2" },
        { userId: "u", amount: 5, metric: "xp", idempotencyKey: "k2" },
        { userId: "u", amount: 30, metric: "xp", idempotencyKey: "k1" },
      ]);
      assert.deepEqual(
        results.map((r) => r.replayed),
        [false, true, true],
      );
      assert.deepEqual(await scores(gk, "u"), { all: 35, day: 35, week: 35, month: 35 });
      assert.equal((await gk.getUser("u"))?.points.xp, 35);
    }));

  test("a floor-clamped deduction moves boards by the applied amount; one that applies nothing leaves tie-breaks alone", () =>
    withFused({ ...allPeriods, metrics: { xp: { floor: 0 } } }, async (gk) => {
      await gk.addPoints("u", 30, { metric: "xp" });
      const clamped = await gk.removePoints("u", 50, { metric: "xp" });
      assert.deepEqual([clamped.delta, clamped.total], [-30, 0]);
      assert.deepEqual(await scores(gk, "u"), { all: 0, day: 0, week: 0, month: 0 });
      // v reaches 0 after u: u ranks first among the zeros, and a no-op deduction must not re-stamp u.
      await gk.addPoints("v", 10, { metric: "xp" });
      await gk.removePoints("v", 10, { metric: "xp" });
      const nothing = await gk.removePoints("u", 5, { metric: "xp" });
      assert.deepEqual([nothing.delta, nothing.total, nothing.events.length], [0, 0, 0]);
      for (const period of PERIODS) {
        assert.deepEqual(rows(await gk.leaderboard("xp", { period, mode: "ordinal" }).top()), [["u", 0, 1], ["v", 0, 2]], period);
      }
      assert.deepEqual(
        (await gk.events("u")).events.map((e) => e.type),
        ["points_added", "points_removed"],
        "an award that applies nothing logs nothing",
      );
    }));

  test("OUT_OF_RANGE on a board score leaves totals, levels, events, idempotency keys and every board unchanged", () =>
    withFused({ ...allPeriods, levels: { xp: levels.linear({ step: 100 }) } }, async (gk, prefix) => {
      const allTime = gk.leaderboard("xp");
      await gk.addPoints("u", 10, { metric: "xp" });
      await gk.addPoints("u", 5, { metric: "coins" });
      // Someone set u's all-time xp score near the top of the range directly on the store.
      const boardStore = redisLeaderboards({ client, keyPrefix: prefix });
      await boardStore.set(allTime.board, "u", MAX - 5);
      const snapshot = async () => ({
        user: await gk.getUser("u"),
        events: (await gk.events("u")).events,
        xp: await scores(gk, "u"),
        coins: await gk.leaderboard("coins").rank("u"),
      });
      const before = await snapshot();
      await expectGamifyError(gk.addPoints("u", 200, { metric: "xp", idempotencyKey: "big" }), "OUT_OF_RANGE", "all-time board past MAX");
      const error = await expectGamifyError(
        gk.batch([
          { userId: "u", amount: 3, metric: "coins" },
          { userId: "u", amount: 6, metric: "xp" },
        ]),
        "OUT_OF_RANGE",
        "second award of a batch",
      );
      assert.equal((error.details as { board?: string }).board, allTime.board);
      assert.deepEqual(await snapshot(), before, "nothing was written");
      // The key was not recorded: after the board is fixed the same award applies.
      await boardStore.set(allTime.board, "u", 10);
      const retried = await gk.addPoints("u", 200, { metric: "xp", idempotencyKey: "big" });
      assert.deepEqual([retried.replayed, retried.total, retried.level], [false, 210, 3]);
      assert.deepEqual(await scores(gk, "u"), { all: 210, day: 210, week: 210, month: 210 });
      await boardStore.close();
    }));

  test("deleteUser removes the user from every board the award script wrote", () =>
    withFused(allPeriods, async (gk, prefix) => {
      await gk.addPoints("leaver", 10, { metric: "xp" });
      await gk.addPoints("leaver", 3);
      await gk.addPoints("stayer", 5, { metric: "xp" });
      assert.equal(await gk.deleteUser("leaver"), true);
      for (const period of PERIODS) {
        const lb = gk.leaderboard("xp", { period });
        assert.equal(await lb.rank("leaver"), null, period);
        assert.deepEqual(await lb.rank("stayer"), { userId: "stayer", score: 5, rank: 1 }, period);
        assert.equal(await lb.count(), 1, period);
      }
      assert.equal(await gk.leaderboard("points").count(), 0);
      assert.equal(await client!.exists(`${prefix}lbu:{leaver}`), 0);
    }));

  test("a backdated award lands in the period boards of its `at`, which expire at the period end plus keepFinishedFor", () =>
    withFused({ leaderboards: [{ metric: "xp", periods: ["day", "week", "month"], keepFinishedFor: 40 * DAY }] }, async (gk, prefix) => {
      const now = Date.now();
      const then = now - 35 * DAY;
      await gk.addPoints("u", 7, { metric: "xp", at: then });
      await gk.addPoints("u", 1, { metric: "xp" });
      assert.deepEqual(await scores(gk, "u", "xp", then), { all: 8, day: 7, week: 7, month: 7 });
      assert.deepEqual(await scores(gk, "u", "xp", now), { all: 8, day: 1, week: 1, month: 1 });
      for (const period of ["day", "week", "month"] as const) {
        const board = gk.leaderboard("xp", { period, at: then }).board;
        const expected = periodRange(period, periodKey(period, then, "UTC"), "UTC").end + 40 * DAY;
        for (const suffix of ["s", "o", "m", "d", "c"]) {
          assert.equal(await client!.call("PEXPIRETIME", `${prefix}lb:{${board}}:${suffix}`), expected, `${period} ${suffix}`);
        }
      }
    }));

  test("a board whose keep-until time has passed is dropped at once and not remembered for the user", () =>
    withFused({ leaderboards: [{ metric: "xp", periods: ["day"], keepFinishedFor: 0 }] }, async (gk, prefix) => {
      const then = Date.now() - 3 * DAY;
      await gk.addPoints("u", 7, { metric: "xp", at: then });
      assert.equal(await gk.leaderboard("xp", { period: "day", at: then }).count(), 0);
      assert.equal((await gk.leaderboard("xp").rank("u"))?.score, 7);
      assert.deepEqual(await client!.zrange(`${prefix}lbu:{u}`, 0, -1), ["xp/all/all"]);
    }));

  test("level events are logged by the script as exact JSON: 13-digit times, level_down, odd ids", async () => {
    const prefix = keyPrefix();
    const stores = redisStores({ client, keyPrefix: prefix });
    const curve = levels.linear({ step: 10 });
    const policy = (followDown: boolean) => ({ levelFor: (p: number) => curve.levelFor(p), pointsFor: (l: number) => curve.pointsFor(l), followDown });
    const at = 1_764_072_000_123;
    const id = 'évent/"1"\\\u0001\u2028';
    const event = (eventId: string, type: "points_added" | "points_removed", delta: number): AwardRequest["event"] => ({
      id: eventId,
      type,
      userId: "u:1",
      at,
      metric: "xp",
      delta,
      total: 0,
      metadata: { n: 1.5, s: "x" },
    });
    try {
      const [up] = await stores.storage.applyAwards("u:1", [{ metric: "xp", delta: 35, level: policy(true), event: event(id, "points_added", 35) }], at);
      const [down] = await stores.storage.applyAwards("u:1", [{ metric: "xp", delta: -22, level: policy(true), event: event("d", "points_removed", 22) }], at + 1);
      assert.deepEqual([up?.previousLevel, up?.level, down?.previousLevel, down?.level], [1, 4, 4, 2]);
      const log = (await stores.storage.readEvents("u:1", { limit: 100 })).events;
      assert.deepEqual(log, [
        up?.event,
        ...levelEvents({ id, userId: "u:1", at }, "xp", 1, 4),
        down?.event,
        ...levelEvents({ id: "d", userId: "u:1", at }, "xp", 4, 2),
      ]);
      assert.deepEqual(
        log.map((e) => e.type),
        ["points_added", "level_up", "level_up", "level_up", "points_removed", "level_down", "level_down"],
      );
      assert.equal(await stores.storage.countEvents("u:1", { type: "level_down", since: at }), 2);
    } finally {
      await stores.storage.close();
      await stores.leaderboardStore.close();
      await stores.analytics.close();
    }
  });

  test("the same awards give the same boards, results and event logs as the in-memory reference", async () => {
    const start = Date.UTC(new Date().getUTCFullYear() + 1, 0, 30, 12);
    const config = (clock: () => number): GamifyOptions => ({
      clock,
      analytics: false,
      levels: { xp: levels.linear({ step: 15 }) },
      metrics: { xp: { floor: 0, levelsFollowDown: true } },
      // Memory drops finished boards by the engine clock, Redis by the server's: keep them all here.
      leaderboards: [
        { metric: "xp", periods: ["day", "week", "month"], keepFinishedFor: 365 * DAY },
        { metric: "coins", periods: ["week"], mode: "dense", keepFinishedFor: 365 * DAY },
      ],
    });
    let ids = 0;
    let now = start;
    const clock = () => now;
    const memory = createGamify({ ...config(clock), storage: memoryStorage(), leaderboardStore: memoryLeaderboards({ clock }), generateId: () => `m${ids++}` });
    const prefix = keyPrefix();
    const stores = redisStores({ client, keyPrefix: prefix });
    let rids = 0;
    const redis = createGamify({ ...config(clock), ...stores, generateId: () => `m${rids++}` });
    try {
      // A deterministic pseudo-random sequence of awards over a few users, days and keys.
      let seed = 7;
      const seen = new Set<string>();
      const next = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed % n;
      };
      for (let step = 0; step < 120; step++) {
        now += next(4) === 0 ? DAY : 1;
        const size = 1 + next(3);
        const awards: BatchAward[] = Array.from({ length: size }, () => ({
          userId: `u${next(4)}`,
          amount: 1 + next(60),
          metric: next(3) === 0 ? "coins" : "xp",
          type: next(3) === 0 ? "remove" : "add",
          ...(next(4) === 0 ? { idempotencyKey: `k${next(10)}` } : {}),
        }));
        const [a, b] = [await memory.batch(awards), await redis.batch(awards)];
        assert.deepEqual(b, a, `step ${step}`);
        for (const [i, r] of b.entries()) {
          if (r.replayed) seen.add("replay");
          else if (r.delta === 0) seen.add("nothing applied");
          else if (Math.abs(r.delta) !== awards[i]?.amount) seen.add("clamped");
          if (r.events.some((e) => e.type === "level_down")) seen.add("level_down");
          if (r.events.filter((e) => e.type === "level_up").length > 1) seen.add("several level_ups");
        }
      }
      assert.deepEqual([...seen].sort(), ["clamped", "level_down", "nothing applied", "replay", "several level_ups"], "the sequence covers the interesting cases");
      for (const user of ["u0", "u1", "u2", "u3"]) {
        assert.deepEqual((await redis.events(user, { limit: 1000 })).events, (await memory.events(user, { limit: 1000 })).events, user);
        assert.deepEqual(await redis.getUser(user).then((u) => u && { ...u }), await memory.getUser(user).then((u) => u && { ...u }), user);
      }
      for (const [metric, periods] of [
        ["xp", PERIODS],
        ["coins", ["all", "week"]],
      ] as const) {
        for (const period of periods) {
          for (const at of [start, now - 3 * DAY, now]) {
            for (const mode of MODES) {
              const what = `${metric} ${period} ${mode} at ${new Date(at).toISOString()}`;
              assert.deepEqual(await redis.leaderboard(metric, { period, at, mode }).top({ limit: 10 }), await memory.leaderboard(metric, { period, at, mode }).top({ limit: 10 }), what);
            }
          }
        }
      }
    } finally {
      await memory.close();
      await redis.close();
    }
  });
});
