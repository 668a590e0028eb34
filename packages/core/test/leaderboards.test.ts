import { describe, expect, test, vi } from "vitest";
import {
  createGamify,
  EVENT_TYPES,
  LEADERBOARD_USER_ID,
  memoryLeaderboards,
  memoryStorage,
  type GamifyEvent,
  type LeaderboardFinishedEvent,
  type LeaderboardStore,
} from "../src/index.js";

const DAY = 86_400_000;
const YEAR = new Date().getUTCFullYear() + 1;
const T0 = Date.UTC(YEAR, 2, 10, 12);

describe("leaderboard events", () => {
  test("leaderboard_finished and leaderboard_rank_changed are typed event types", () => {
    expect(EVENT_TYPES).toContain("leaderboard_finished");
    expect(EVENT_TYPES).toContain("leaderboard_rank_changed");
    expect(LEADERBOARD_USER_ID).toMatch(/#/);
  });

  test("rank changes reach gk.on and '*' but are not stored in the user's log, nor fed to analytics or rules", async () => {
    const record = vi.fn();
    const gk = createGamify({
      leaderboards: [{ metric: "xp", watch: { top: 2 } }],
      rules: [{ id: "r", when: { event: "points_added", times: 3 }, award: { badge: "three" } }],
    });
    const all: GamifyEvent[] = [];
    gk.on("*", (e) => void all.push(e));
    gk.on("leaderboard_rank_changed", (e) => void record(e.userId, e.rank));
    await gk.addPoints("a", 5, { metric: "xp" });
    await gk.addPoints("b", 7, { metric: "xp" });
    expect(record.mock.calls).toEqual([
      ["a", 1],
      ["a", 2],
      ["b", 1],
    ]);
    expect(all.map((e) => e.type)).toEqual(["points_added", "leaderboard_rank_changed", "points_added", "leaderboard_rank_changed", "leaderboard_rank_changed"]);
    expect((await gk.events("a")).events.map((e) => e.type)).toEqual(["points_added"]);
    expect((await gk.getUser("a"))?.badges).toEqual({});
    expect(await gk.events("a")).toMatchObject({ events: [{ type: "points_added" }] });
    await gk.close();
  });

  test("count rules cannot count leaderboard events, which are not in users' logs", () => {
    for (const event of ["leaderboard_finished", "leaderboard_rank_changed"]) {
      expect(() => createGamify({ rules: [{ id: "r", when: { event: event as "action", times: 1 }, award: { badge: "b" } }] })).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
  });

  test("a board store failure during a rank watch is reported on `error` and does not fail the award", async () => {
    const store = memoryLeaderboards();
    // Same store, but top() fails (the watch reads the top N after the award).
    const failing = Object.assign(Object.create(Object.getPrototypeOf(store) as object) as LeaderboardStore, store, {
      top: () => Promise.reject(new Error("down")),
    });
    const gk = createGamify({ leaderboardStore: failing, leaderboards: [{ metric: "xp", watch: { top: 3 } }] });
    const errors: unknown[] = [];
    gk.on("error", (e) => void errors.push(e.error));
    expect((await gk.addPoints("a", 5, { metric: "xp" })).total).toBe(5);
    expect(errors).toHaveLength(1);
    await gk.close();
  });
});

describe("board bookkeeping failures", () => {
  test("a failing scope registration is reported on `error` and the award still applies", async () => {
    const store = memoryLeaderboards();
    const flaky = Object.assign(Object.create(Object.getPrototypeOf(store) as object) as LeaderboardStore, store, {
      increment: (updates: Parameters<LeaderboardStore["increment"]>[0], userId: string) =>
        userId.startsWith("#") ? Promise.reject(new Error("registry down")) : store.increment(updates, userId),
    });
    const gk = createGamify({ leaderboardStore: flaky, finishLeaderboards: "manual", leaderboards: [{ metric: "xp", periods: ["week"], finishAfter: 0 }] });
    const errors: unknown[] = [];
    gk.on("error", (e) => void errors.push(e.error));
    expect((await gk.addPoints("a", 5, { metric: "xp", scopes: ["t"] })).total).toBe(5);
    expect(errors.map(String)).toEqual(["Error: registry down"]);
    expect((await gk.leaderboard("xp", { period: "week", scope: "t" }).rank("a"))?.score).toBe(5);
    await gk.close();
  });
});

describe("finishing periods", () => {
  test("an interval finishes periods without awards or reads, and close() stops it", async () => {
    let now = T0;
    const gk = createGamify({ clock: () => now, finishLeaderboards: { intervalMs: 10 }, leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0 }] });
    const seen: LeaderboardFinishedEvent[] = [];
    gk.on("leaderboard_finished", (e) => void seen.push(e));
    await gk.addPoints("a", 1, { metric: "xp" });
    now = T0 + DAY;
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 2000 });
    await gk.close();
  });

  test("manual mode finishes only when asked; a failing claim is reported on `error` and retried", async () => {
    let now = T0;
    const storage = memoryStorage();
    let failClaims = true;
    const flaky = { ...storage, claimOnce: (u: string, k: string, at: number) => (failClaims ? Promise.reject(new Error("down")) : storage.claimOnce(u, k, at)) };
    const gk = createGamify({ storage: flaky, clock: () => now, leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0 }] });
    const errors: unknown[] = [];
    gk.on("error", (e) => void errors.push(e.error));
    await gk.addPoints("a", 1, { metric: "xp" });
    now = T0 + DAY;
    // Lazy by default: this read starts a pass whose claim fails.
    await gk.leaderboard("xp").top();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    failClaims = false;
    const seen: LeaderboardFinishedEvent[] = [];
    gk.on("leaderboard_finished", (e) => void seen.push(e));
    await gk.leaderboard("xp").top();
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await gk.close();

    const manual = createGamify({ clock: () => now, finishLeaderboards: "manual", leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0 }] });
    const quiet = vi.fn();
    manual.on("leaderboard_finished", quiet);
    now = T0;
    await manual.addPoints("a", 1, { metric: "xp" });
    now = T0 + DAY;
    await manual.addPoints("a", 1, { metric: "xp" });
    await new Promise((r) => setTimeout(r, 20));
    expect(quiet).not.toHaveBeenCalled();
    expect(await manual.finishLeaderboards({ now: T0 + DAY })).toHaveLength(1);
    expect(quiet).toHaveBeenCalledTimes(1);
    await manual.close();
  });

  test("a pass looks back 35 days by default; `since` reaches further", async () => {
    let now = T0;
    const gk = createGamify({ clock: () => now, finishLeaderboards: "manual", leaderboards: [{ metric: "xp", periods: ["week"], finishAfter: 0, keepFinishedFor: "forever" }] });
    await gk.addPoints("a", 1, { metric: "xp" });
    now = T0 + 60 * DAY;
    expect(await gk.finishLeaderboards()).toEqual([]);
    const [event] = await gk.finishLeaderboards({ since: T0 });
    expect(event?.winners).toEqual([{ userId: "a", score: 1, rank: 1 }]);
    expect(event?.start).toBeLessThanOrEqual(T0);
    expect(event?.end).toBeGreaterThan(T0);
    expect(await gk.finishLeaderboards({ since: T0 })).toEqual([]);
    await gk.close();
  });

  test("backfillRules skips the reserved leaderboard user", async () => {
    let now = T0;
    const gk = createGamify({
      clock: () => now,
      finishLeaderboards: "manual",
      leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0 }],
      rules: [{ id: "any", when: { event: "points_added", times: 1 }, award: { badge: "b" } }],
    });
    await gk.addPoints("a", 1, { metric: "xp" });
    now = T0 + DAY;
    expect(await gk.finishLeaderboards()).toHaveLength(1);
    // The reserved user has an event log (its announcement) but is not a user: not evaluated, not counted.
    expect(await gk.backfillRules()).toEqual({ users: 1, fired: 0 });
    await gk.close();
  });

  test("finishLeaderboards validates its options", async () => {
    const gk = createGamify();
    await expect(gk.finishLeaderboards({ now: -1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(gk.finishLeaderboards({ since: "x" as unknown as number })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await gk.finishLeaderboards()).toEqual([]);
    expect(() => createGamify({ finishLeaderboards: { intervalMs: 1 } })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => createGamify({ scopesOf: "team" as never })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    await gk.close();
  });
});

describe("scopes", () => {
  test("a scopesOf that returns bad scopes fails the award with INVALID_ARGUMENT and stores nothing", async () => {
    const gk = createGamify({ scopesOf: () => ["no spaces allowed"] });
    await expect(gk.addPoints("a", 1)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await gk.getUser("a")).toBeNull();
    await gk.close();
  });
});
