import assert from "node:assert/strict";
import { createGamify, memoryStorage, type Gamify, type GamifyOptions, type LeaderboardStore, type RankMode, type RankedEntry, type Storage } from "@gamifykit/core";
import { leaderboardDepthTests } from "./leaderboard-depth.js";
import {
  DAY,
  HOUR,
  assertUnique,
  concurrencyOf,
  expectGamifyError,
  range,
  sleep,
  suiteTitle,
  userIds,
  wallTime,
  withCleanup,
  type SuiteOptions,
  type SuiteRunner,
} from "./helpers.js";

const MAX = Number.MAX_SAFE_INTEGER;
const MODES: readonly RankMode[] = ["standard", "dense", "ordinal"];
/**
 * Pause between steps whose order decides a tie. Stores may stamp tie-breaks with a millisecond
 * clock; a few milliseconds apart, "first" is unambiguous for every store.
 */
const TIE_GAP_MS = 3;

/** Expected rank of `score` on a board holding `scores`, by mode (`position` is the 0-based row). */
function expectedRank(scores: readonly number[], score: number, position: number, mode: RankMode): number {
  if (mode === "ordinal") return position + 1;
  if (mode === "standard") return scores.filter((s) => s > score).length + 1;
  return new Set(scores.filter((s) => s > score)).size + 1;
}

const rows = (entries: readonly RankedEntry[]) => entries.map((e) => [e.userId, e.score, e.rank]);

/**
 * Dates of the first Sunday of November (the end of US daylight saving time) in a year after the
 * current one. Period boards carry an expiry (`expiresAt`) and stores may drop a board whose
 * expiry has passed by the wall clock, so boundary tests use dates in the future.
 */
function dstDates() {
  const year = new Date().getUTCFullYear() + 1;
  const firstSunday = 1 + ((7 - new Date(Date.UTC(year, 10, 1)).getUTCDay()) % 7);
  // Day-of-month arithmetic below may leave November (e.g. day -3); Date.UTC normalises it.
  const edt = (d: number, h = 0, mi = 0, s = 0, ms = 0) => wallTime(year, 11, d, h, mi, s, ms, -4);
  const est = (d: number, h = 0, mi = 0, s = 0, ms = 0) => wallTime(year, 11, d, h, mi, s, ms, -5);
  return { year, firstSunday, edt, est };
}

/** Options of {@link leaderboardSuite}. */
export interface LeaderboardSuiteOptions extends SuiteOptions {
  /**
   * The storage the suite's engines use with a board store from the factory (for the claims that
   * make `leaderboard_finished` happen once, and the event log backfills read). Return a storage
   * that owns the store (`storage.leaderboards === store`) to test boards moved inside the award.
   * Default: a fresh `memoryStorage()`.
   */
  storage?: (store: LeaderboardStore) => Storage | Promise<Storage>;
}

/**
 * The conformance suite for a {@link LeaderboardStore}: the raw store methods, and an engine
 * built on the store (`createGamify({ leaderboardStore })`) for periods, seasons, scopes,
 * archives, rank watches, backfills, deletion and queries.
 *
 * `factory` is called once per test and must return an empty store isolated from every other one.
 */
export function leaderboardSuite(runner: SuiteRunner, factory: () => LeaderboardStore | Promise<LeaderboardStore>, options: LeaderboardSuiteOptions = {}): void {
  const { describe, test } = runner;
  const n = concurrencyOf(options);
  const storageFor = async (store: LeaderboardStore): Promise<Storage> => (options.storage === undefined ? memoryStorage() : options.storage(store));

  const withStore = async (fn: (store: LeaderboardStore) => Promise<void>): Promise<void> => {
    const store = await factory();
    await withCleanup(store, (s) => s.close(), fn);
  };

  /** An engine (memory storage, no analytics) on a fresh leaderboard store; closes both. */
  const withEngine = async (config: Omit<GamifyOptions, "leaderboardStore">, fn: (gk: Gamify, store: LeaderboardStore) => Promise<void>): Promise<void> => {
    const store = await factory();
    const storage = config.storage ?? (await storageFor(store));
    const gk = createGamify({ analytics: false, ...config, storage, leaderboardStore: store });
    await withCleanup(
      gk,
      async (g) => {
        await g.close();
        await store.close();
      },
      (g) => fn(g, store),
    );
  };

  /** Scores [100, 90, 90, 80]: dan, then zed reaches 90 before amy, then bob. */
  const seedTies = async (store: LeaderboardStore, board: string) => {
    await store.increment([{ board, delta: 100 }], "dan");
    await store.increment([{ board, delta: 90 }], "zed");
    await sleep(TIE_GAP_MS);
    await store.increment([{ board, delta: 90 }], "amy");
    await store.increment([{ board, delta: 80 }], "bob");
  };

  describe(suiteTitle("leaderboard", options), () => {
    describe("scores", () => {
      test("increment adds to the user's score on several boards at once and returns the new scores in order", () =>
        withStore(async (store) => {
          const expiresAt = Date.now() + 30 * DAY;
          assert.deepEqual(
            await store.increment(
              [
                { board: "inc-a", delta: 5 },
                { board: "inc-b", delta: 7, expiresAt },
              ],
              "u1",
            ),
            [5, 7],
          );
          assert.deepEqual(
            await store.increment(
              [
                { board: "inc-a", delta: -8 },
                { board: "inc-b", delta: 3, expiresAt },
              ],
              "u1",
            ),
            [-3, 10],
          );
          assert.deepEqual(await store.increment([{ board: "inc-a", delta: 4 }], "u2"), [4]);
          assert.deepEqual(await store.rank("inc-a", "u1", "standard"), { userId: "u1", score: -3, rank: 2 });
          assert.deepEqual(await store.rank("inc-b", "u1", "standard"), { userId: "u1", score: 10, rank: 1 });
          assert.equal(await store.count("inc-a"), 2);
          assert.equal(await store.count("inc-b"), 1);
          assert.equal(await store.count("never-written"), 0);
        }));

      test("set overwrites a score; remove deletes it and reports whether the user was there", () =>
        withStore(async (store) => {
          await store.set("set-board", "u1", 42);
          await store.set("set-board", "u2", 50);
          assert.equal((await store.rank("set-board", "u1", "standard"))?.score, 42);
          await store.set("set-board", "u1", 60);
          assert.deepEqual(await store.rank("set-board", "u1", "standard"), { userId: "u1", score: 60, rank: 1 });
          assert.deepEqual(await store.increment([{ board: "set-board", delta: 1 }], "u1"), [61]);
          assert.equal(await store.remove("set-board", "u1"), true);
          assert.equal(await store.remove("set-board", "u1"), false);
          assert.equal(await store.remove("set-board", "nobody"), false);
          assert.equal(await store.rank("set-board", "u1", "standard"), null);
          assert.equal(await store.count("set-board"), 1);
          assert.deepEqual(rows(await store.top("set-board", { offset: 0, limit: 10, mode: "standard" })), [["u2", 50, 1]]);
        }));

      test("removeUser removes the user from every board and leaves other users alone", () =>
        withStore(async (store) => {
          for (const board of ["ru-a", "ru-b", "ru-c"]) {
            await store.increment([{ board, delta: 10 }], "leaver");
            await store.increment([{ board, delta: 5 }], "stayer");
          }
          await store.removeUser("leaver");
          await store.removeUser("never-seen");
          for (const board of ["ru-a", "ru-b", "ru-c"]) {
            assert.equal(await store.rank(board, "leaver", "standard"), null, board);
            assert.deepEqual(await store.rank(board, "stayer", "standard"), { userId: "stayer", score: 5, rank: 1 }, board);
            assert.equal(await store.count(board), 1, board);
          }
        }));

      test("an increment that would leave the safe-integer range throws OUT_OF_RANGE and changes no board", () =>
        withStore(async (store) => {
          await store.set("oor-high", "u", MAX);
          await store.set("oor-low", "u", -MAX);
          await store.increment([{ board: "oor-other", delta: 1 }], "v");
          const state = async () => ({
            high: await store.rank("oor-high", "u", "standard"),
            low: await store.rank("oor-low", "u", "standard"),
            fresh: await store.rank("oor-fresh", "u", "standard"),
            freshCount: await store.count("oor-fresh"),
            other: await store.rank("oor-other", "u", "standard"),
          });
          const before = await state();
          await expectGamifyError(
            store.increment(
              [
                { board: "oor-fresh", delta: 5 },
                { board: "oor-other", delta: 5 },
                { board: "oor-high", delta: 1 },
              ],
              "u",
            ),
            "OUT_OF_RANGE",
            "past MAX_SAFE_INTEGER",
          );
          await expectGamifyError(store.increment([{ board: "oor-low", delta: -1 }], "u"), "OUT_OF_RANGE", "past MIN_SAFE_INTEGER");
          assert.deepEqual(await state(), before);
        }));

      test(`${n} concurrent increments on one board across ${Math.min(50, n)} users give exact scores and consistent ranks`, () =>
        withStore(async (store) => {
          const users = userIds("racer", Math.min(50, n));
          const expected = new Map<string, number>();
          const returned = new Map<string, number[]>();
          await Promise.all(
            range(n).map(async (i) => {
              const userId = users[i % users.length] as string;
              const delta = (i % 7) + 1;
              expected.set(userId, (expected.get(userId) ?? 0) + delta);
              const [a, b] = await store.increment(
                [
                  { board: "race-a", delta },
                  { board: "race-b", delta: 2 * delta },
                ],
                userId,
              );
              assert.ok(a !== undefined && b !== undefined);
              returned.set(userId, [...(returned.get(userId) ?? []), a]);
            }),
          );
          assert.equal(await store.count("race-a"), users.length);
          for (const userId of users) {
            const score = expected.get(userId) as number;
            assert.equal((await store.rank("race-a", userId, "ordinal"))?.score, score, userId);
            assert.equal((await store.rank("race-b", userId, "ordinal"))?.score, 2 * score, userId);
            const mine = returned.get(userId) ?? [];
            assertUnique(mine, `each increment of ${userId} returned a different running score`);
            assert.equal(Math.max(...mine), score);
          }
          const board = await store.top("race-a", { offset: 0, limit: users.length, mode: "standard" });
          const scores = board.map((e) => e.score);
          assert.equal(board.length, users.length);
          for (const [i, entry] of board.entries()) {
            if (i > 0) assert.ok(entry.score <= (scores[i - 1] as number), "best first");
            assert.equal(entry.rank, expectedRank(scores, entry.score, i, "standard"));
            assert.deepEqual(await store.rank("race-a", entry.userId, "standard"), entry);
          }
        }));

      test("count, countAround, health and an idempotent close", async () => {
        const store = await factory();
        try {
          await store.health();
          assert.deepEqual(await store.countAround("ca", 90), { above: 0, equal: 0 });
          await seedTies(store, "ca");
          assert.equal(await store.count("ca"), 4);
          assert.deepEqual(await store.countAround("ca", 90), { above: 1, equal: 2 });
          assert.deepEqual(await store.countAround("ca", 85), { above: 3, equal: 0 });
          assert.deepEqual(await store.countAround("ca", 100), { above: 0, equal: 1 });
          assert.deepEqual(await store.countAround("ca", 1000), { above: 0, equal: 0 });
          assert.deepEqual(await store.countAround("ca", 0), { above: 4, equal: 0 });
        } finally {
          await store.close();
          await store.close();
        }
      });
    });

    describe("ranking", () => {
      test("scores [100, 90, 90, 80] rank 1,2,2,4 (standard), 1,2,2,3 (dense) and 1,2,3,4 (ordinal)", () =>
        withStore(async (store) => {
          await seedTies(store, "modes");
          const expected: Record<RankMode, Record<string, number>> = {
            standard: { dan: 1, zed: 2, amy: 2, bob: 4 },
            dense: { dan: 1, zed: 2, amy: 2, bob: 3 },
            ordinal: { dan: 1, zed: 2, amy: 3, bob: 4 },
          };
          for (const mode of MODES) {
            const top = await store.top("modes", { offset: 0, limit: 10, mode });
            assert.deepEqual(
              top.map((e) => e.score),
              [100, 90, 90, 80],
              mode,
            );
            assert.deepEqual(Object.fromEntries(top.map((e) => [e.userId, e.rank])), expected[mode], mode);
            for (const entry of top) assert.deepEqual(await store.rank("modes", entry.userId, mode), entry, `${mode} rank of ${entry.userId}`);
          }
          assert.deepEqual(
            (await store.top("modes", { offset: 0, limit: 10, mode: "ordinal" })).map((e) => e.userId),
            ["dan", "zed", "amy", "bob"],
          );
        }));

      test("among equal scores the user who reached the score first ranks first; moving away and back re-stamps", () =>
        withStore(async (store) => {
          await store.increment([{ board: "ties", delta: 90 }], "zed");
          await sleep(TIE_GAP_MS);
          await store.increment([{ board: "ties", delta: 90 }], "amy");
          const order = async () => (await store.top("ties", { offset: 0, limit: 10, mode: "ordinal" })).map((e) => [e.userId, e.rank]);
          assert.deepEqual(await order(), [
            ["zed", 1],
            ["amy", 2],
          ]);
          await sleep(TIE_GAP_MS);
          await store.increment([{ board: "ties", delta: 1 }], "zed");
          assert.deepEqual(await order(), [
            ["zed", 1],
            ["amy", 2],
          ]);
          await sleep(TIE_GAP_MS);
          await store.increment([{ board: "ties", delta: -1 }], "zed");
          assert.deepEqual(await order(), [
            ["amy", 1],
            ["zed", 2],
          ]);
          assert.deepEqual(await store.rank("ties", "zed", "ordinal"), { userId: "zed", score: 90, rank: 2 });
          // Reaching a tie from below also counts as reaching it later.
          await store.increment([{ board: "ties", delta: 89 }], "bea");
          await sleep(TIE_GAP_MS);
          await store.increment([{ board: "ties", delta: 1 }], "bea");
          assert.deepEqual(await order(), [
            ["amy", 1],
            ["zed", 2],
            ["bea", 3],
          ]);
        }));

      test("around() centres a window of 2 * radius + 1 on the user and shifts it to stay full at the top and bottom", () =>
        withStore(async (store) => {
          const users = userIds("p", 20);
          for (const [i, userId] of users.entries()) await store.set("window", userId, (20 - i) * 10);
          const around = async (userId: string, radius: number) =>
            (await store.around("window", userId, { radius, mode: "standard" })).map((e) => [e.userId, e.rank]);
          const expect = (from: number, to: number) => range(to - from + 1).map((k) => [users[from + k - 1], from + k]);
          assert.deepEqual(await around("p-10", 2), expect(9, 13), "middle");
          assert.deepEqual(await around("p-00", 2), expect(1, 5), "top edge");
          assert.deepEqual(await around("p-01", 2), expect(1, 5), "near the top edge");
          assert.deepEqual(await around("p-19", 2), expect(16, 20), "bottom edge");
          assert.deepEqual(await around("p-18", 3), expect(14, 20), "near the bottom edge");
          for (const entry of await store.around("window", "p-10", { radius: 2, mode: "standard" })) {
            assert.equal(entry.score, (20 - Number(entry.userId.slice(2))) * 10);
          }
        }));

      test("around() with radius 0, a radius wider than the board, ties, and an absent user", () =>
        withStore(async (store) => {
          for (const [userId, score] of [
            ["a", 50],
            ["b", 40],
            ["c", 40],
            ["d", 30],
          ] as const) {
            await store.set("small", userId, score);
          }
          assert.deepEqual(rows(await store.around("small", "c", { radius: 0, mode: "standard" })), [["c", 40, 2]]);
          assert.deepEqual(
            (await store.around("small", "b", { radius: 10, mode: "ordinal" })).map((e) => e.rank),
            [1, 2, 3, 4],
          );
          for (const mode of MODES) {
            for (const entry of await store.around("small", "d", { radius: 1, mode })) {
              assert.deepEqual(await store.rank("small", entry.userId, mode), entry, `${mode} rank of ${entry.userId}`);
            }
          }
          assert.deepEqual(await store.around("small", "nobody", { radius: 3, mode: "standard" }), []);
          assert.deepEqual(await store.around("empty-board", "nobody", { radius: 3, mode: "standard" }), []);
        }));

      test("top() pages by offset without gaps or repeats across many ties, in every mode", () =>
        withStore(async (store) => {
          const users = userIds("t", 60);
          for (const [i, userId] of users.entries()) await store.set("pages", userId, 10 * (i % 5));
          for (const mode of MODES) {
            const full = await store.top("pages", { offset: 0, limit: 100, mode });
            assert.equal(full.length, 60);
            const pages = await Promise.all(range(9).map((p) => store.top("pages", { offset: p * 7, limit: 7, mode })));
            const paged = pages.flat();
            assert.deepEqual(paged, full, `${mode}: pages of 7 concatenate to the full board`);
            assertUnique(
              paged.map((e) => e.userId),
              `${mode}: no user repeats`,
            );
            const scores = full.map((e) => e.score);
            for (const [i, entry] of full.entries()) {
              if (i > 0) assert.ok(entry.score <= (scores[i - 1] as number), "best first");
              assert.equal(entry.rank, expectedRank(scores, entry.score, i, mode), `${mode} rank at row ${i}`);
            }
            assert.deepEqual(await store.top("pages", { offset: 60, limit: 7, mode }), []);
            assert.equal((await store.top("pages", { offset: 58, limit: 7, mode })).length, 2);
          }
          const ordinal = await store.top("pages", { offset: 0, limit: 100, mode: "ordinal" });
          for (const entry of ordinal) assert.deepEqual(await store.rank("pages", entry.userId, "ordinal"), entry);
        }));
    });

    describe("through the engine", () => {
      test("a board's configured mode is the default, and a query's mode overrides it", () =>
        withEngine({ leaderboards: [{ metric: "xp", periods: ["all"], mode: "dense" }] }, async (gk) => {
          await gk.addPoints("dan", 100, { metric: "xp" });
          await gk.addPoints("zed", 90, { metric: "xp" });
          await sleep(TIE_GAP_MS);
          await gk.addPoints("amy", 90, { metric: "xp" });
          await gk.addPoints("bob", 80, { metric: "xp" });
          const ranks = async (mode?: RankMode) =>
            (await gk.leaderboard("xp", mode === undefined ? {} : { mode }).top()).map((e) => [e.userId, e.rank]);
          assert.deepEqual(
            (await ranks()).map(([, rank]) => rank),
            [1, 2, 2, 3],
          );
          assert.deepEqual(
            (await ranks("standard")).map(([, rank]) => rank),
            [1, 2, 2, 4],
          );
          assert.deepEqual(await ranks("ordinal"), [
            ["dan", 1],
            ["zed", 2],
            ["amy", 3],
            ["bob", 4],
          ]);
          assert.equal((await gk.leaderboard("xp").rank("bob"))?.rank, 3);
          await gk.addPoints("p", 1);
          assert.equal((await gk.leaderboard("points").rank("p"))?.rank, 1, "an unconfigured metric still has an all-time board");
        }));

      test("count, percentile, top and around through gk.leaderboard", () =>
        withEngine({}, async (gk) => {
          for (const [userId, score] of [
            ["a", 100],
            ["b", 90],
            ["c", 90],
            ["d", 80],
            ["e", 70],
          ] as const) {
            await gk.addPoints(userId, score, { metric: "xp" });
          }
          const lb = gk.leaderboard("xp");
          assert.equal(await lb.count(), 5);
          assert.equal(await lb.percentile("a"), 100);
          assert.equal(await lb.percentile("b"), 80);
          assert.equal(await lb.percentile("c"), 80);
          assert.equal(await lb.percentile("d"), 40);
          assert.equal(await lb.percentile("e"), 20);
          assert.equal(await lb.percentile("nobody"), null);
          assert.deepEqual(
            (await lb.top({ limit: 2 })).map((e) => e.userId),
            ["a", "b"],
          );
          assert.deepEqual(
            (await lb.top({ limit: 2, offset: 3 })).map((e) => e.userId),
            ["d", "e"],
          );
          assert.deepEqual(
            (await lb.around("e", { radius: 1 })).map((e) => e.userId),
            ["c", "d", "e"],
          );
          assert.equal((await lb.around("a")).length, 5, "default radius 5, clipped to the board");
          assert.deepEqual(await lb.rank("nobody"), null);
        }));

      test("deductions lower board scores by the applied amount, and replays do not score twice", () =>
        withEngine({ metrics: { coins: { floor: 0 } }, leaderboards: [{ metric: "coins", periods: ["all", "week"] }] }, async (gk) => {
          await gk.addPoints("u", 30, { metric: "coins", idempotencyKey: "k-1" });
          await gk.addPoints("u", 30, { metric: "coins", idempotencyKey: "k-1" });
          assert.equal((await gk.leaderboard("coins").rank("u"))?.score, 30);
          await gk.removePoints("u", 50, { metric: "coins" });
          assert.equal((await gk.leaderboard("coins").rank("u"))?.score, 0);
          assert.equal((await gk.leaderboard("coins", { period: "week" }).rank("u"))?.score, 0);
        }));

      test("deleteUser removes the user from the all-time board and every period board", () =>
        withEngine({ leaderboards: [{ metric: "xp", periods: ["all", "day", "week", "month"] }] }, async (gk) => {
          await gk.addPoints("leaver", 10, { metric: "xp" });
          await gk.addPoints("leaver", 3);
          await gk.addPoints("stayer", 5, { metric: "xp" });
          assert.equal(await gk.deleteUser("leaver"), true);
          for (const period of ["all", "day", "week", "month"] as const) {
            const lb = gk.leaderboard("xp", { period });
            assert.equal(await lb.rank("leaver"), null, period);
            assert.equal((await lb.rank("stayer"))?.rank, 1, period);
            assert.equal(await lb.count(), 1, period);
          }
          assert.equal(await gk.leaderboard("points").rank("leaver"), null);
          assert.equal(await gk.leaderboard("points").count(), 0);
        }));

      test("week boards split at Monday 00:00 America/New_York in the week after the November DST change", () => {
        const { firstSunday, est } = dstDates();
        const sundayEnd = est(firstSunday + 7, 23, 59, 59, 999);
        const mondayStart = est(firstSunday + 8);
        let now = sundayEnd;
        return withEngine(
          { clock: () => now, leaderboards: [{ metric: "xp", periods: ["week"], timeZone: "America/New_York" }] },
          async (gk) => {
            now = sundayEnd;
            await gk.addPoints("sunday", 10, { metric: "xp" });
            now = mondayStart;
            await gk.addPoints("monday", 20, { metric: "xp" });
            const week = (at: number) => gk.leaderboard("xp", { period: "week", at });
            for (const at of [est(firstSunday + 1), est(firstSunday + 4, 12), sundayEnd]) {
              assert.deepEqual(rows(await week(at).top()), [["sunday", 10, 1]], `week of ${new Date(at).toISOString()}`);
            }
            for (const at of [mondayStart, est(firstSunday + 14, 23, 59, 59, 999)]) {
              assert.deepEqual(rows(await week(at).top()), [["monday", 20, 1]], `week of ${new Date(at).toISOString()}`);
            }
            assert.equal(await week(est(firstSunday + 15)).count(), 0);
          },
        );
      });

      test("the week containing the November DST change runs from Monday 00:00 EDT to Sunday 23:59:59.999 EST", () => {
        const { firstSunday, edt, est } = dstDates();
        const stamps = {
          before: edt(firstSunday - 7, 23, 59, 59, 999),
          first: edt(firstSunday - 6),
          last: est(firstSunday, 23, 59, 59, 999),
          after: est(firstSunday + 1),
        };
        let now = stamps.before;
        return withEngine(
          { clock: () => now, leaderboards: [{ metric: "xp", periods: ["week"], timeZone: "America/New_York" }] },
          async (gk) => {
            for (const [userId, at] of Object.entries(stamps)) {
              now = at;
              await gk.addPoints(userId, 1, { metric: "xp" });
            }
            const users = async (at: number) =>
              (await gk.leaderboard("xp", { period: "week", at }).top({ limit: 10 })).map((e) => e.userId).sort();
            assert.deepEqual(await users(stamps.first), ["first", "last"]);
            assert.deepEqual(await users(stamps.last), ["first", "last"]);
            assert.deepEqual(await users(edt(firstSunday, 1, 30)), ["first", "last"], "01:30 EDT, before the clocks go back");
            assert.deepEqual(await users(est(firstSunday, 1, 30)), ["first", "last"], "01:30 EST, the repeated hour");
            assert.deepEqual(await users(stamps.before), ["before"]);
            assert.deepEqual(await users(stamps.after), ["after"]);
          },
        );
      });

      test("day and month boards split at local midnight in America/New_York, including the 25-hour DST day", () => {
        const { firstSunday, edt, est } = dstDates();
        const stamps = {
          octoberEnd: edt(0, 23, 59, 59, 999), // day 0 of November is 31 October
          novemberStart: edt(1),
          dstDayStart: edt(firstSunday),
          dstDayEnd: est(firstSunday, 23, 59, 59, 999),
          nextDay: est(firstSunday + 1),
        };
        let now = stamps.octoberEnd;
        return withEngine(
          { clock: () => now, leaderboards: [{ metric: "xp", periods: ["day", "month"], timeZone: "America/New_York" }] },
          async (gk) => {
            for (const [userId, at] of Object.entries(stamps)) {
              now = at;
              await gk.addPoints(userId, 1, { metric: "xp" });
            }
            const users = async (period: "day" | "month", at: number) =>
              (await gk.leaderboard("xp", { period, at }).top({ limit: 10 })).map((e) => e.userId).sort();
            assert.deepEqual(await users("month", stamps.octoberEnd), ["octoberEnd"]);
            assert.deepEqual(await users("month", stamps.novemberStart), ["dstDayEnd", "dstDayStart", "nextDay", "novemberStart"].sort());
            // When 1 November is itself the DST Sunday, its first instant is that day's start.
            const dstDay = firstSunday === 1 ? ["dstDayEnd", "dstDayStart", "novemberStart"] : ["dstDayEnd", "dstDayStart"];
            assert.deepEqual(await users("day", stamps.dstDayStart), dstDay);
            assert.deepEqual(await users("day", stamps.dstDayEnd), dstDay);
            assert.equal(stamps.dstDayEnd + 1 - stamps.dstDayStart, 25 * HOUR, "the DST day lasts 25 hours");
            assert.deepEqual(await users("day", stamps.nextDay), ["nextDay"]);
            if (firstSunday !== 1) assert.deepEqual(await users("day", stamps.novemberStart), ["novemberStart"]);
          },
        );
      });

      test("invalid leaderboard queries are rejected with INVALID_ARGUMENT", () =>
        withEngine({ leaderboards: [{ metric: "xp", periods: ["week"] }] }, async (gk) => {
          await gk.addPoints("u", 1, { metric: "xp" });
          const bad = (what: string, call: () => unknown) => expectGamifyError(call, "INVALID_ARGUMENT", what);
          await bad("metric 'bad name!'", () => gk.leaderboard("bad name!").top());
          await bad("empty metric", () => gk.leaderboard("").top());
          await bad("period 'year'", () => gk.leaderboard("xp", { period: "year" as "week" }).top());
          await bad("mode 'best'", () => gk.leaderboard("xp", { mode: "best" as RankMode }).top());
          await bad("at -1", () => gk.leaderboard("xp", { period: "week", at: -1 }).top());
          const lb = gk.leaderboard("xp");
          for (const limit of [-1, 1.5, 10_001, Number.NaN]) await bad(`limit ${limit}`, () => lb.top({ limit }));
          for (const offset of [-1, 0.5]) await bad(`offset ${offset}`, () => lb.top({ offset }));
          for (const radius of [-1, 2.5]) await bad(`radius ${radius}`, () => lb.around("u", { radius }));
          await bad("rank of an invalid user id", () => lb.rank("not valid"));
          await bad("around an invalid user id", () => lb.around("not valid"));
          await bad("percentile of an invalid user id", () => lb.percentile("not valid"));
          assert.equal((await lb.top({ limit: 1000 })).length, 1, "large valid limits work");
        }));

      test("querying a period board that is not configured is rejected with NOT_FOUND", () =>
        withEngine({ leaderboards: [{ metric: "xp", periods: ["week"] }] }, async (gk) => {
          await expectGamifyError(() => gk.leaderboard("xp", { period: "day" }).top(), "NOT_FOUND", "day board of xp");
          await expectGamifyError(() => gk.leaderboard("xp", { period: "month" }).count(), "NOT_FOUND", "month board of xp");
          await expectGamifyError(() => gk.leaderboard("coins", { period: "week" }).top(), "NOT_FOUND", "week board of coins");
        }));

      leaderboardDepthTests(runner, { factory, storageFor });

      test("the all-time board of a metric nobody has scored is empty", () =>
        withEngine({}, async (gk) => {
          const lb = gk.leaderboard("untouched");
          assert.deepEqual(await lb.top(), []);
          assert.equal(await lb.count(), 0);
          assert.equal(await lb.rank("someone"), null);
          assert.deepEqual(await lb.around("someone"), []);
          assert.equal(await lb.percentile("someone"), null);
        }));
    });
  });
}
