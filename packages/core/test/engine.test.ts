import { describe, expect, test, vi } from "vitest";
import {
  createGamify,
  GamifyError,
  levels,
  memoryAnalytics,
  memoryLeaderboards,
  memoryStorage,
  type GamifyEvent,
  type LeaderboardStore,
  type Storage,
} from "../src/index.js";

const codeOf = async (promise: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    if (error instanceof GamifyError) return error.code;
    throw error;
  }
  throw new Error("expected a GamifyError");
};

describe("createGamify defaults", () => {
  test("runs in memory with the default metric `points`", async () => {
    const gk = createGamify();
    const result = await gk.addPoints("alice", 5);
    expect(result).toMatchObject({ userId: "alice", metric: "points", delta: 5, total: 5, previousTotal: 0, level: null, replayed: false });
    expect((await gk.getUser("alice"))?.points).toEqual({ points: 5 });
    expect(await gk.leaderboard("points").top()).toEqual([{ userId: "alice", score: 5, rank: 1 }]);
    await gk.close();
  });

  test("a custom default metric is used when a call names none", async () => {
    const gk = createGamify({ defaultMetric: "xp" });
    expect((await gk.addPoints("a", 1)).metric).toBe("xp");
    await gk.close();
  });

  test("rejects bad options at construction with INVALID_ARGUMENT", async () => {
    expect(await codeOf(() => createGamify({ metrics: { coins: { floor: 0.5 } } }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => createGamify({ metrics: { "bad metric": {} } }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => createGamify({ defaultMetric: "" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => createGamify({ leaderboards: [{ metric: "xp" }, { metric: "xp" }] }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => createGamify({ leaderboards: [{ metric: "xp", timeZone: "Mars/Olympus" }] }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: an unknown period is a type error too
    expect(await codeOf(() => createGamify({ leaderboards: [{ metric: "xp", periods: ["year"] }] }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: an unknown mode is a type error too
    expect(await codeOf(() => createGamify({ leaderboards: [{ metric: "xp", mode: "best" }] }))).toBe("INVALID_ARGUMENT");
  });
});

describe("awards", () => {
  test("a result lists the points event and one level_up per level crossed, in order", async () => {
    const gk = createGamify({ levels: { xp: levels.linear({ step: 10 }) } });
    const seen: GamifyEvent[] = [];
    gk.on("*", (e) => void seen.push(e));
    const result = await gk.addPoints("u", 35, { metric: "xp", reason: "quest", metadata: { quest: 7 } });
    expect(result.events.map((e) => e.type)).toEqual(["points_added", "level_up", "level_up", "level_up"]);
    expect(result.events.slice(1).map((e) => (e.type === "level_up" ? e.level : 0))).toEqual([2, 3, 4]);
    expect(result.events[0]).toMatchObject({ type: "points_added", metric: "xp", delta: 35, total: 35, reason: "quest", metadata: { quest: 7 } });
    expect(seen).toEqual(result.events);
    expect(result).toMatchObject({ level: 4, previousLevel: 1 });
    await gk.close();
  });

  test("a replay returns the first result's events, with the same ids, and emits nothing", async () => {
    const gk = createGamify({ levels: { xp: levels.linear({ step: 10 }) } });
    const first = await gk.addPoints("u", 25, { metric: "xp", idempotencyKey: "k" });
    const listener = vi.fn();
    gk.on("*", listener);
    const again = await gk.addPoints("u", 25, { metric: "xp", idempotencyKey: "k" });
    expect(again.replayed).toBe(true);
    expect(again.events).toEqual(first.events);
    expect(again.total).toBe(25);
    expect(listener).not.toHaveBeenCalled();
    await gk.close();
  });

  test("levels follow points down only when the metric says so", async () => {
    const gk = createGamify({
      levels: { xp: levels.linear({ step: 10 }), karma: levels.linear({ step: 10 }) },
      metrics: { karma: { levelsFollowDown: true } },
    });
    await gk.addPoints("u", 30, { metric: "xp" });
    await gk.addPoints("u", 30, { metric: "karma" });
    const xp = await gk.removePoints("u", 25, { metric: "xp" });
    const karma = await gk.removePoints("u", 25, { metric: "karma" });
    expect(xp).toMatchObject({ total: 5, level: 4 });
    expect(karma).toMatchObject({ total: 5, level: 1 });
    expect(karma.events.map((e) => [e.type, e.type === "level_down" ? e.level : null])).toEqual([
      ["points_removed", null],
      ["level_down", 3],
      ["level_down", 2],
      ["level_down", 1],
    ]);
    // Climbing back past thresholds already held is not a new level_up for xp.
    const back = await gk.addPoints("u", 25, { metric: "xp" });
    expect(back.events.map((e) => e.type)).toEqual(["points_added"]);
    await gk.close();
  });

  test("a floor clamps the deduction and the result reports what was removed", async () => {
    const gk = createGamify({ metrics: { coins: { floor: 0 } } });
    await gk.addPoints("u", 10, { metric: "coins" });
    const spent = await gk.removePoints("u", 25, { metric: "coins" });
    expect(spent).toMatchObject({ delta: -10, total: 0 });
    expect(spent.events[0]).toMatchObject({ type: "points_removed", delta: 10, total: 0 });
    const nothing = await gk.removePoints("u", 5, { metric: "coins" });
    expect(nothing).toMatchObject({ delta: 0, total: 0, events: [] });
    await gk.close();
  });

  test("a throwing listener is reported on `error` and never breaks the award", async () => {
    const gk = createGamify();
    const errors: unknown[] = [];
    gk.on("error", (e) => void errors.push(e.error));
    gk.on("points_added", () => {
      throw new Error("listener bug");
    });
    const result = await gk.addPoints("u", 1);
    expect(result.total).toBe(1);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("listener bug");
    await gk.close();
  });

  test("a failing leaderboard store is reported on `error`; the award stands", async () => {
    const failing: LeaderboardStore = memoryLeaderboards();
    failing.increment = () => Promise.reject(new GamifyError("STORAGE_UNAVAILABLE", "down"));
    const gk = createGamify({ leaderboardStore: failing });
    const errors: unknown[] = [];
    gk.on("error", (e) => void errors.push(e.error));
    expect((await gk.addPoints("u", 3)).total).toBe(3);
    expect(errors).toHaveLength(1);
    expect((errors[0] as GamifyError).code).toBe("STORAGE_UNAVAILABLE");
    await gk.close();
  });
});

describe("batch", () => {
  test("results follow input order across users and mix adds and removes", async () => {
    const gk = createGamify();
    const results = await gk.batch([
      { userId: "a", amount: 5 },
      { userId: "b", amount: 7 },
      { userId: "a", amount: 2, type: "remove" },
      { userId: "b", amount: 1, metric: "coins" },
    ]);
    expect(results.map((r) => [r.userId, r.metric, r.delta, r.total])).toEqual([
      ["a", "points", 5, 5],
      ["b", "points", 7, 7],
      ["a", "points", -2, 3],
      ["b", "coins", 1, 1],
    ]);
    await gk.close();
  });

  test("invalid input anywhere applies nothing for anyone", async () => {
    const gk = createGamify();
    expect(await codeOf(gk.batch([{ userId: "a", amount: 5 }, { userId: "b", amount: 0 }]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(gk.batch([]))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: the type is checked at run time too
    expect(await codeOf(gk.batch([{ userId: "a", amount: 1, type: "double" }]))).toBe("INVALID_ARGUMENT");
    expect(await gk.getUser("a")).toBeNull();
    expect(await gk.getUser("b")).toBeNull();
    await gk.close();
  });
});

describe("events, badges and users", () => {
  test("track records an action event in the log; events() pages oldest first", async () => {
    const gk = createGamify();
    const action = await gk.track("u", "login", { metadata: { device: "ios" } });
    expect(action).toMatchObject({ type: "action", action: "login", metadata: { device: "ios" } });
    await gk.awardBadge("u", "welcome", { reason: "signup" });
    await gk.addPoints("u", 1);
    const first = await gk.events("u", { limit: 2 });
    expect(first.events.map((e) => e.type)).toEqual(["action", "badge_awarded"]);
    const rest = await gk.events("u", { cursor: first.nextCursor as string });
    expect(rest.events.map((e) => e.type)).toEqual(["points_added"]);
    expect(rest.nextCursor).toBeNull();
    expect(await codeOf(gk.events("u", { limit: 0 }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(gk.events("u", { cursor: "not-a-cursor" }))).toBe("INVALID_ARGUMENT");
    await gk.close();
  });

  test("revoking a badge emits badge_revoked once", async () => {
    const gk = createGamify();
    await gk.awardBadge("u", "b");
    const revoked = await gk.revokeBadge("u", "b", { reason: "cheating" });
    expect(revoked).toMatchObject({ revoked: true, events: [{ type: "badge_revoked", badge: "b", reason: "cheating" }] });
    expect((await gk.revokeBadge("u", "b")).revoked).toBe(false);
    expect((await gk.getUser("u"))?.badges).toEqual({});
    await gk.close();
  });

  test("deleteUser removes state, boards and analytics membership and emits user_deleted", async () => {
    const analytics = memoryAnalytics();
    const gk = createGamify({ analytics, leaderboards: [{ metric: "points", periods: ["week"] }] });
    await gk.addPoints("u", 3);
    await gk.addPoints("v", 1);
    const deleted = vi.fn();
    gk.on("user_deleted", deleted);
    expect(await gk.deleteUser("u")).toBe(true);
    expect(deleted).toHaveBeenCalledWith(expect.objectContaining({ type: "user_deleted", userId: "u" }));
    expect(await gk.getUser("u")).toBeNull();
    expect(await gk.leaderboard("points").rank("u")).toBeNull();
    expect(await gk.leaderboard("points", { period: "week" }).rank("u")).toBeNull();
    expect(await gk.analytics.activeUsers({ granularity: "day" })).toBe(1);
    expect(await gk.deleteUser("u")).toBe(false);
    await gk.close();
  });
});

describe("leaderboards", () => {
  test("queries a past period with `at`, numbers ties by mode and gives percentiles", async () => {
    let now = Date.parse("2026-11-18T12:00:00Z");
    const gk = createGamify({ clock: () => now, leaderboards: [{ metric: "xp", periods: ["week"], mode: "dense" }] });
    await gk.addPoints("a", 10, { metric: "xp" });
    await gk.addPoints("b", 10, { metric: "xp" });
    await gk.addPoints("c", 5, { metric: "xp" });
    const lastWeek = now;
    now += 7 * 86_400_000;
    await gk.addPoints("c", 50, { metric: "xp" });
    const past = gk.leaderboard("xp", { period: "week", at: lastWeek });
    expect(past.board).toBe("xp/week/2026-W47");
    expect((await past.top()).map((e) => e.rank)).toEqual([1, 1, 2]);
    expect((await gk.leaderboard("xp", { period: "week", at: lastWeek, mode: "ordinal" }).top()).map((e) => [e.userId, e.rank])).toEqual([
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ]);
    expect(await gk.leaderboard("xp", { period: "week" }).top()).toEqual([{ userId: "c", score: 50, rank: 1 }]);
    expect(await past.percentile("c")).toBeCloseTo(100 / 3);
    expect(await past.percentile("a")).toBe(100);
    expect(await past.percentile("nobody")).toBeNull();
    expect(await past.count()).toBe(3);
    await gk.close();
  });

  test("an unconfigured period is NOT_FOUND; bad queries are INVALID_ARGUMENT", async () => {
    const gk = createGamify();
    expect(await codeOf(() => gk.leaderboard("xp", { period: "week" }))).toBe("NOT_FOUND");
    expect(await codeOf(() => gk.leaderboard("bad name"))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: checked at run time too
    expect(await codeOf(() => gk.leaderboard("xp", { period: "year" }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: checked at run time too
    expect(await codeOf(() => gk.leaderboard("xp", { mode: "best" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(gk.leaderboard("xp").top({ limit: 0 }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(gk.leaderboard("xp").around("u", { radius: -1 }))).toBe("INVALID_ARGUMENT");
    await gk.close();
  });
});

describe("analytics", () => {
  test("aggregates the engine's events per day", async () => {
    const now = Date.parse("2026-11-25T10:00:00Z");
    const gk = createGamify({ clock: () => now });
    await gk.addPoints("a", 10);
    await gk.removePoints("a", 3);
    await gk.awardBadge("b", "first");
    const [day] = await gk.analytics.aggregate({ granularity: "day", from: now - 86_400_000, to: now + 1 });
    expect(day).toEqual({ period: "2026-11-25", activeUsers: 2, events: 3, badgesAwarded: 1, points: { points: { added: 10, removed: 3 } } });
    expect(await gk.analytics.activeUsers({ granularity: "month", at: now })).toBe(2);
    // @ts-expect-error: checked at run time too
    expect(await codeOf(gk.analytics.activeUsers({ granularity: "year" }))).toBe("INVALID_ARGUMENT");
    await gk.close();
  });

  test("disabled analytics answer NOT_FOUND", async () => {
    const gk = createGamify({ analytics: false });
    await gk.addPoints("a", 1);
    expect(await codeOf(gk.analytics.activeUsers({ granularity: "day" }))).toBe("NOT_FOUND");
    await gk.close();
  });
});

describe("lifecycle", () => {
  test("close waits for in-flight awards, closes every store, and later calls fail with CLOSED", async () => {
    const storage = memoryStorage();
    const gk = createGamify({ storage });
    const pending = Promise.all(Array.from({ length: 50 }, () => gk.addPoints("u", 1)));
    await gk.health();
    await gk.close();
    expect((await pending).at(-1)?.total).toBe(50);
    expect(await codeOf(gk.addPoints("u", 1))).toBe("CLOSED");
    expect(await codeOf(storage.health())).toBe("CLOSED");
    await gk.close(); // idempotent
  });
});

describe("input validation at the edge", () => {
  test("reasons are checked on every call that takes one, and null is not a metric", async () => {
    const gk = createGamify();
    const long = "x".repeat(257);
    expect(await codeOf(gk.addPoints("u", 1, { reason: long }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(gk.awardBadge("u", "b", { reason: long }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: checked at run time too
    expect(await codeOf(gk.revokeBadge("u", "b", { reason: 5 }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: checked at run time too
    expect(await codeOf(gk.addPoints("u", 1, { metric: null }))).toBe("INVALID_ARGUMENT");
    expect(await gk.getUser("u")).toBeNull();
    await gk.close();
  });
});

describe("memory storage housekeeping", () => {
  test("idempotency keys expire after the TTL and are applied again", async () => {
    let now = 1_000_000;
    const gk = createGamify({ clock: () => now, storage: memoryStorage({ idempotencyTtlMs: 1000 }) });
    for (let i = 0; i < 100; i++) await gk.addPoints("u", 1, { idempotencyKey: `k${i}` });
    expect((await gk.addPoints("u", 1, { idempotencyKey: "k0" })).replayed).toBe(true);
    now += 1000;
    const again = await gk.addPoints("u", 1, { idempotencyKey: "k0" });
    expect(again).toMatchObject({ replayed: false, total: 101 });
    await gk.close();
  });
});

describe("a storage that owns its leaderboards", () => {
  test("receives the boards with each award and the engine does not increment them again", async () => {
    const boardStore = memoryLeaderboards();
    const memory = memoryStorage();
    const seen: (readonly { board: string; expiresAt?: number | undefined }[] | undefined)[] = [];
    // Applies board updates itself, as the Redis adapter does inside its award script.
    const storage: Storage = {
      ...memory,
      leaderboards: boardStore,
      async applyAwards(userId, requests, now) {
        const outcomes = await memory.applyAwards(userId, requests, now);
        for (const [i, outcome] of outcomes.entries()) {
          const boards = requests[i]?.boards;
          seen.push(boards);
          if (!outcome.replayed && outcome.delta !== 0 && boards) {
            await boardStore.increment(boards.map((b) => ({ ...b, delta: outcome.delta })), userId);
          }
        }
        return outcomes;
      },
    };
    const now = Date.parse("2026-11-25T12:00:00Z");
    const gk = createGamify({ storage, leaderboardStore: boardStore, clock: () => now, leaderboards: [{ metric: "xp", periods: ["week"] }] });
    await gk.addPoints("u", 7, { metric: "xp", idempotencyKey: "k" });
    await gk.addPoints("u", 7, { metric: "xp", idempotencyKey: "k" });
    expect(seen[0]?.map((b) => b.board)).toEqual(["xp/all/all", "xp/week/2026-W48"]);
    expect(seen[0]?.[1]?.expiresAt).toBe(Date.parse("2026-11-30T00:00:00Z") + 30 * 86_400_000);
    expect(await gk.leaderboard("xp").rank("u")).toEqual({ userId: "u", score: 7, rank: 1 });
    expect(await gk.leaderboard("xp", { period: "week" }).rank("u")).toEqual({ userId: "u", score: 7, rank: 1 });
    await gk.close();
  });

  test("a storage whose leaderboards are not the engine's store gets no boards", async () => {
    const memory = memoryStorage();
    let boards: unknown = "unset";
    const storage: Storage = {
      ...memory,
      leaderboards: memoryLeaderboards(),
      async applyAwards(userId, requests, now) {
        boards = requests[0]?.boards;
        return memory.applyAwards(userId, requests, now);
      },
    };
    const gk = createGamify({ storage, leaderboardStore: memoryLeaderboards() });
    await gk.addPoints("u", 1);
    expect(boards).toBeUndefined();
    expect(await gk.leaderboard("points").rank("u")).toEqual({ userId: "u", score: 1, rank: 1 });
    await gk.close();
  });
});

test("without a leaderboardStore option, the engine uses the storage's own board store", async () => {
  const boardStore = memoryLeaderboards();
  const storage: Storage = { ...memoryStorage(), leaderboards: boardStore };
  const gk = createGamify({ storage });
  await gk.addPoints("u", 2);
  // The storage above does not apply boards itself, so nothing reaches the board store: proof that
  // the engine handed the boards to the storage instead of incrementing them.
  expect(await boardStore.count("points/all/all")).toBe(0);
  await gk.close();
});
