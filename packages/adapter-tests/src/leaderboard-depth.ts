import assert from "node:assert/strict";
import {
  createGamify,
  LEADERBOARD_USER_ID,
  periodKey,
  type Gamify,
  type GamifyOptions,
  type LeaderboardFinishedEvent,
  type LeaderboardRankChangedEvent,
  type LeaderboardStore,
  type RankMode,
  type RankedEntry,
  type Storage,
} from "@gamifykit/core";
import { HOUR, expectGamifyError, range, sleep, userIds, withCleanup, type SuiteRunner } from "./helpers.js";

const MODES: readonly RankMode[] = ["standard", "dense", "ordinal"];
const TIE_GAP_MS = 3;

interface DepthContext {
  readonly factory: () => LeaderboardStore | Promise<LeaderboardStore>;
  readonly storageFor: (store: LeaderboardStore) => Promise<Storage>;
}

const rows = (entries: readonly RankedEntry[]) => entries.map((e) => [e.userId, e.score, e.rank]);

/** A year after the current one: period boards expire by the wall clock, so tests use future dates. */
const YEAR = new Date().getUTCFullYear() + 1;
/** Epoch ms of a UTC wall time in {@link YEAR} (month 1-12; day arithmetic may overflow, Date.UTC normalises it). */
const utc = (month: number, day: number, hour = 0, minute = 0, ms = 0) => Date.UTC(YEAR, month - 1, day, hour, minute, 0, ms);

/** Waits until `check` holds (the engine's lazy finish pass runs in the background). */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Leaderboards in depth, through the engine: seasons, scoped boards, period keys, archives and
 * `leaderboard_finished`, `leaderboard_rank_changed` watches and backfills from the event log.
 */
export function leaderboardDepthTests(runner: SuiteRunner, { factory, storageFor }: DepthContext): void {
  const { describe, test } = runner;

  /**
   * `count` engines sharing one storage and one board store (as several server instances would),
   * with a settable clock. Closes everything afterwards.
   */
  const withEngines = async (
    count: number,
    config: Omit<GamifyOptions, "leaderboardStore" | "storage" | "clock">,
    start: number,
    fn: (ctx: { gks: Gamify[]; gk: Gamify; store: LeaderboardStore; storage: Storage; setNow: (t: number) => void }) => Promise<void>,
  ): Promise<void> => {
    const store = await factory();
    const storage = await storageFor(store);
    let now = start;
    const gks = range(count).map(() => createGamify({ analytics: false, ...config, storage, leaderboardStore: store, clock: () => now }));
    await withCleanup(
      gks,
      async (list) => {
        for (const g of list) await g.close();
        await store.close();
        await storage.close();
      },
      (list) => fn({ gks: list, gk: list[0] as Gamify, store, storage, setNow: (t) => (now = t) }),
    );
  };

  describe("seasons", () => {
    test("a season board takes awards whose `at` falls in [start, end), with bounds at local midnight in the board's zone", () =>
      withEngines(
        1,
        {
          leaderboards: [
            {
              metric: "xp",
              periods: ["week"],
              timeZone: "Europe/Berlin",
              seasons: [
                { id: "winter", start: `${YEAR}-01-01`, end: `${YEAR}-04-01` },
                { id: "spring", start: `${YEAR}-04-01`, end: utc(7, 1) },
              ],
            },
          ],
        },
        utc(1, 10),
        async ({ gk }) => {
          // Berlin is UTC+1 on 1 January and UTC+2 (summer time) on 1 April.
          const stamps = {
            beforeWinter: utc(1, 1) - HOUR - 1, // 31 December of the year before, 23:59:59.999 CET
            winterStart: utc(1, 1) - HOUR,
            winterEnd: utc(4, 1) - 2 * HOUR - 1,
            springStart: utc(4, 1) - 2 * HOUR,
            springEnd: utc(7, 1) - 1,
            afterSpring: utc(7, 1),
          };
          for (const [userId, at] of Object.entries(stamps)) await gk.addPoints(userId, 1, { metric: "xp", at });
          const users = async (at: number | string) =>
            (await gk.leaderboard("xp", { period: "season", at }).top({ limit: 10 })).map((e) => e.userId).sort();
          assert.deepEqual(await users("winter"), ["winterEnd", "winterStart"]);
          assert.deepEqual(await users(stamps.winterEnd), ["winterEnd", "winterStart"]);
          assert.deepEqual(await users("spring"), ["springEnd", "springStart"]);
          assert.deepEqual(await users(stamps.springStart), ["springEnd", "springStart"]);
          const view = gk.leaderboard("xp", { period: "season" });
          assert.equal(view.board, "xp/season/winter", "the season containing now");
          assert.equal(view.key, "winter");
          assert.deepEqual([view.start, view.end], [stamps.winterStart, stamps.springStart]);
          assert.equal((await gk.leaderboard("xp").count()), 6, "every award counts all-time");
          await expectGamifyError(() => gk.leaderboard("xp", { period: "season", at: "autumn" }).top(), "NOT_FOUND", "unknown season id");
          await expectGamifyError(() => gk.leaderboard("xp", { period: "season", at: stamps.afterSpring }).top(), "NOT_FOUND", "no season contains at");
          await expectGamifyError(() => gk.leaderboard("coins", { period: "season" }).top(), "NOT_FOUND", "metric without seasons");
        },
      ));

    test("ranks, pages, windows, percentiles and counts on a season board, in every mode", () =>
      withEngines(1, { leaderboards: [{ metric: "xp", seasons: [{ id: "s1", start: utc(1, 1), end: utc(12, 1) }] }] }, utc(3, 1), async ({ gk }) => {
        for (const [userId, score] of [
          ["dan", 100],
          ["zed", 90],
          ["amy", 90],
          ["bob", 80],
          ["eve", 70],
        ] as const) {
          await gk.addPoints(userId, score, { metric: "xp" });
          await sleep(TIE_GAP_MS);
        }
        const expected: Record<RankMode, number[]> = { standard: [1, 2, 2, 4, 5], dense: [1, 2, 2, 3, 4], ordinal: [1, 2, 3, 4, 5] };
        for (const mode of MODES) {
          const lb = gk.leaderboard("xp", { period: "season", mode });
          const all = await lb.top({ limit: 10 });
          assert.deepEqual(all.map((e) => e.userId), ["dan", "zed", "amy", "bob", "eve"], mode);
          assert.deepEqual(all.map((e) => e.rank), expected[mode], mode);
          assert.deepEqual(await lb.top({ limit: 2, offset: 2 }), all.slice(2, 4), `${mode} page`);
          assert.deepEqual(await lb.rank("amy"), all[2], `${mode} rank`);
          assert.deepEqual(await lb.around("eve", { radius: 1 }), all.slice(2, 5), `${mode} window filled at the bottom`);
          assert.deepEqual(await lb.around("dan", { radius: 1 }), all.slice(0, 3), `${mode} window filled at the top`);
        }
        const lb = gk.leaderboard("xp", { period: "season", at: "s1" });
        assert.equal(await lb.count(), 5);
        assert.equal(await lb.percentile("zed"), 80);
        assert.equal(await lb.percentile("eve"), 20);
      }));

    test("bad season configuration is INVALID_ARGUMENT naming the field", async () => {
      const store = await factory();
      try {
        const bad = async (field: string, seasons: unknown) => {
          const error = await expectGamifyError(
            () => createGamify({ leaderboardStore: store, leaderboards: [{ metric: "xp", seasons: seasons as [] }] }),
            "INVALID_ARGUMENT",
            field,
          );
          assert.equal(error.details["field"], field);
        };
        await bad("seasons", "s1");
        await bad("seasons.id", [{ id: "bad id", start: "2030-01-01", end: "2030-02-01" }]);
        await bad("seasons.start", [{ id: "s", start: "2030-13-01", end: "2030-02-01" }]);
        await bad("seasons.end", [{ id: "s", start: "2030-02-01", end: "2030-01-01" }]);
        await bad("seasons", [
          { id: "a", start: "2030-01-01", end: "2030-03-01" },
          { id: "b", start: "2030-02-01", end: "2030-04-01" },
        ]);
        await bad("seasons.id", [
          { id: "a", start: "2030-01-01", end: "2030-02-01" },
          { id: "a", start: "2030-03-01", end: "2030-04-01" },
        ]);
      } finally {
        await store.close();
      }
    });
  });

  describe("scoped boards", () => {
    test("an award counts toward the metric's boards and each of its scopes' boards; scoped reads see only that scope", () =>
      withEngines(1, { leaderboards: [{ metric: "xp", periods: ["week"] }] }, utc(3, 10, 12), async ({ gk }) => {
        const r = await gk.addPoints("ann", 30, { metric: "xp", scopes: ["team-7", "tenant-a"] });
        assert.deepEqual(r.events[0]?.type === "points_added" ? r.events[0].scopes : undefined, ["team-7", "tenant-a"], "the event records its scopes");
        await gk.addPoints("ben", 20, { metric: "xp", scopes: ["team-7"] });
        await gk.addPoints("cat", 50, { metric: "xp", scopes: ["tenant-a"] });
        await gk.addPoints("dov", 40, { metric: "xp" });
        await gk.removePoints("ann", 5, { metric: "xp", scopes: ["team-7"] });
        const users = async (scope: string | undefined, period: "all" | "week") =>
          rows(await gk.leaderboard("xp", { period, ...(scope === undefined ? {} : { scope }) }).top());
        for (const period of ["all", "week"] as const) {
          assert.deepEqual(await users(undefined, period), [
            ["cat", 50, 1],
            ["dov", 40, 2],
            ["ann", 25, 3],
            ["ben", 20, 4],
          ]);
          assert.deepEqual(await users("team-7", period), [
            ["ann", 25, 1],
            ["ben", 20, 2],
          ]);
          assert.deepEqual(await users("tenant-a", period), [
            ["cat", 50, 1],
            ["ann", 30, 2],
          ]);
          assert.deepEqual(await users("team-8", period), []);
        }
        const week = periodKey("week", utc(3, 10, 12), "UTC");
        assert.equal(gk.leaderboard("xp", { period: "week", scope: "team-7" }).board, `xp/week/${week}/team-7`);
        assert.equal(gk.leaderboard("xp", { scope: "team-7" }).board, "xp/all/all/team-7");
        const team = gk.leaderboard("xp", { scope: "team-7" });
        assert.equal(await team.count(), 2);
        assert.equal(await team.percentile("ben"), 50);
        assert.deepEqual(rows(await team.around("ben", { radius: 3 })), [
          ["ann", 25, 1],
          ["ben", 20, 2],
        ]);
        // Ties on a scoped board, in every mode: eli reaches 25 after ann.
        await sleep(TIE_GAP_MS);
        await gk.addPoints("eli", 25, { metric: "xp", scopes: ["team-7"] });
        const tied: Record<RankMode, (string | number)[][]> = {
          standard: [["ann", 1], ["eli", 1], ["ben", 3]],
          dense: [["ann", 1], ["eli", 1], ["ben", 2]],
          ordinal: [["ann", 1], ["eli", 2], ["ben", 3]],
        };
        for (const mode of MODES) {
          const lb = gk.leaderboard("xp", { period: "week", scope: "team-7", mode });
          assert.deepEqual((await lb.top()).map((e) => [e.userId, e.rank]), tied[mode], mode);
          assert.deepEqual((await lb.top({ limit: 1, offset: 1 })).map((e) => [e.userId, e.rank]), tied[mode].slice(1, 2), `${mode} page`);
          assert.equal((await lb.rank("ben"))?.rank, tied[mode][2]?.[1], `${mode} rank`);
        }
        await gk.removePoints("eli", 25, { metric: "xp", scopes: ["team-7"] });
        assert.equal(await gk.deleteUser("eli"), true);
        assert.equal(await gk.deleteUser("ann"), true);
        assert.deepEqual(await users("team-7", "week"), [["ben", 20, 1]], "deleteUser leaves scoped boards too");
        assert.deepEqual(await users("tenant-a", "all"), [["cat", 50, 1]]);
      }));

    test("scopesOf adds scopes to every award, rule awards included", () =>
      withEngines(
        1,
        {
          leaderboards: [{ metric: "xp", periods: ["month"] }],
          scopesOf: async (userId) => (userId.startsWith("red-") ? ["red"] : ["blue"]),
          rules: [{ id: "bonus", when: { metric: "xp", reaches: 10 }, award: { points: { amount: 5, metric: "coins" } } }],
        },
        utc(5, 5),
        async ({ gk }) => {
          await gk.addPoints("red-1", 10, { metric: "xp", scopes: ["guild-x"] });
          await gk.addPoints("blue-1", 3, { metric: "xp" });
          assert.deepEqual(rows(await gk.leaderboard("xp", { period: "month", scope: "red" }).top()), [["red-1", 10, 1]]);
          assert.deepEqual(rows(await gk.leaderboard("xp", { scope: "guild-x" }).top()), [["red-1", 10, 1]]);
          assert.deepEqual(rows(await gk.leaderboard("xp", { scope: "blue" }).top()), [["blue-1", 3, 1]]);
          // The rule's bonus counts toward the scopes of the award that triggered it.
          assert.deepEqual(rows(await gk.leaderboard("coins", { scope: "guild-x" }).top()), [["red-1", 5, 1]]);
          assert.deepEqual(rows(await gk.leaderboard("coins", { scope: "red" }).top()), [["red-1", 5, 1]]);
        },
      ));

    test("bad scopes are INVALID_ARGUMENT and change nothing", () =>
      withEngines(1, {}, utc(2, 2), async ({ gk }) => {
        await gk.addPoints("u", 1, { scopes: ["ok"] });
        for (const scopes of [["team/7"], [""], ["x".repeat(65)], ["a#b"], "team-7", range(17).map((i) => `s${i}`), [7]]) {
          await expectGamifyError(() => gk.addPoints("u", 5, { scopes: scopes as string[] }), "INVALID_ARGUMENT", `scopes ${JSON.stringify(scopes)}`);
          await expectGamifyError(() => gk.batch([{ userId: "u", amount: 5, scopes: scopes as string[] }]), "INVALID_ARGUMENT", `batch scopes ${JSON.stringify(scopes)}`);
        }
        await expectGamifyError(() => gk.leaderboard("points", { scope: "a/b" }).top(), "INVALID_ARGUMENT", "query scope");
        assert.equal((await gk.getUser("u"))?.points["points"], 1);
        assert.deepEqual(rows(await gk.leaderboard("points", { scope: "ok" }).top()), [["u", 1, 1]]);
        const error = await expectGamifyError(() => gk.addPoints("u", 1, { scopes: ["a b"] }), "INVALID_ARGUMENT");
        assert.equal(error.details["field"], "scopes");
      }));
  });

  describe("period keys", () => {
    test("`at` takes a period key as well as an instant; a malformed key is INVALID_ARGUMENT", () =>
      withEngines(1, { leaderboards: [{ metric: "xp", periods: ["day", "week", "month"], timeZone: "America/New_York" }] }, utc(3, 11, 15), async ({ gk }) => {
        await gk.addPoints("u", 7, { metric: "xp" });
        const at = utc(3, 11, 15);
        for (const period of ["day", "week", "month"] as const) {
          const key = periodKey(period, at, "America/New_York");
          const byKey = gk.leaderboard("xp", { period, at: key });
          assert.equal(byKey.board, gk.leaderboard("xp", { period, at }).board, period);
          assert.equal(byKey.key, key);
          assert.deepEqual(rows(await byKey.top()), [["u", 7, 1]], period);
        }
        for (const [period, key] of [
          ["week", "2026-W54"],
          ["week", "2026-11-25"],
          ["day", "2026-02-30"],
          ["month", "2026-13"],
          ["all", "2026"],
        ] as const) {
          const error = await expectGamifyError(() => gk.leaderboard("xp", { period, at: key }).top(), "INVALID_ARGUMENT", `${period} ${key}`);
          assert.equal(error.details["field"], "at");
        }
        assert.equal(gk.leaderboard("xp", { at: "all" }).board, "xp/all/all");
      }));
  });

  describe("archives", () => {
    const config = (extra: object = {}): GamifyOptions => ({
      finishLeaderboards: "manual",
      leaderboards: [{ metric: "xp", periods: ["day", "week"], finishAfter: HOUR, winners: 2, keepFinishedFor: "forever", ...extra }],
    });
    // A Wednesday in March: its week is still open when the day finishes.
    const wednesday = () => {
      const d = new Date(utc(3, 1));
      return 1 + ((3 - d.getUTCDay() + 7) % 7);
    };

    test("a finished day is announced once with its winners, per scope, and its final standings stay readable", () => {
      const day = wednesday();
      return withEngines(2, config(), utc(3, day, 10), async ({ gks, gk, storage, setNow }) => {
        const seen: LeaderboardFinishedEvent[] = [];
        for (const g of gks) g.on("leaderboard_finished", (e) => void seen.push(e));
        await gk.addPoints("a", 50, { metric: "xp", scopes: ["t1"] });
        await gk.addPoints("b", 40, { metric: "xp", scopes: ["t1"] });
        await gk.addPoints("c", 30, { metric: "xp", scopes: ["t2"] });
        await gk.addPoints("d", 20, { metric: "xp" });
        const key = periodKey("day", utc(3, day, 10), "UTC");
        // 00:30 the next day: within the grace, a backdated award still counts.
        setNow(utc(3, day + 1, 0, 30));
        await gk.addPoints("e", 60, { metric: "xp", at: utc(3, day, 23) });
        assert.deepEqual(await gk.finishLeaderboards(), [], "nothing is due before the grace ends");
        assert.equal(gk.leaderboard("xp", { period: "day", at: key }).finished, false);
        setNow(utc(3, day + 1, 1));
        const events = await gk.finishLeaderboards();
        const byBoard = Object.fromEntries(events.map((e) => [e.board, e]));
        assert.deepEqual(Object.keys(byBoard).sort(), [`xp/day/${key}`, `xp/day/${key}/t1`, `xp/day/${key}/t2`]);
        const main = byBoard[`xp/day/${key}`] as LeaderboardFinishedEvent;
        assert.deepEqual(
          main.winners.map((w) => [w.userId, w.score, w.rank]),
          [
            ["e", 60, 1],
            ["a", 50, 2],
          ],
        );
        assert.equal(main.count, 5);
        assert.equal(main.userId, LEADERBOARD_USER_ID);
        assert.deepEqual([main.metric, main.period, main.key, main.scope, main.start, main.end], ["xp", "day", key, undefined, utc(3, day), utc(3, day + 1)]);
        assert.deepEqual(
          byBoard[`xp/day/${key}/t1`]?.winners.map((w) => w.userId),
          ["a", "b"],
        );
        assert.equal(byBoard[`xp/day/${key}/t2`]?.scope, "t2");
        assert.equal(byBoard[`xp/day/${key}/t2`]?.count, 1);
        assert.deepEqual(seen.map((e) => e.id).sort(), events.map((e) => e.id).sort(), "listeners got each event once");
        assert.deepEqual(await gk.finishLeaderboards(), [], "a second pass announces nothing");
        assert.deepEqual(await (gks[1] as Gamify).finishLeaderboards(), [], "nor does another engine on the same storage");
        const log = await storage.readEvents(LEADERBOARD_USER_ID, { limit: 10 });
        assert.deepEqual(log.events.map((e) => e.id).sort(), events.map((e) => e.id).sort(), "the events are logged under the reserved user");
        // Finished: a late backdated award no longer moves the day, but does move the open week and all-time.
        await gk.addPoints("f", 100, { metric: "xp", at: utc(3, day, 12), scopes: ["t1"] });
        const archive = gk.leaderboard("xp", { period: "day", at: key });
        assert.equal(archive.finished, true);
        assert.equal(await archive.count(), 5);
        assert.equal(await archive.rank("f"), null);
        assert.deepEqual(rows(await archive.top({ limit: 2 })), [
          ["e", 60, 1],
          ["a", 50, 2],
        ]);
        assert.deepEqual(rows(await gk.leaderboard("xp", { period: "day", at: key, scope: "t1" }).top()), [
          ["a", 50, 1],
          ["b", 40, 2],
        ]);
        assert.equal((await gk.leaderboard("xp", { period: "week", at: utc(3, day) }).rank("f"))?.rank, 1);
        assert.equal((await gk.leaderboard("xp").rank("f"))?.rank, 1);
        assert.equal(await gk.getUser(LEADERBOARD_USER_ID).catch(() => "rejected"), "rejected", "the reserved id is not a user id");
      });
    });

    test("engines racing to finish the same periods announce each board exactly once", () => {
      const day = wednesday();
      return withEngines(4, config(), utc(3, day, 9), async ({ gks, gk, setNow }) => {
        for (const [i, userId] of userIds("r", 6).entries()) await gk.addPoints(userId, 10 + i, { metric: "xp", scopes: [`t${i % 3}`] });
        // Past the end of the day and of the week: 1 + 3 scoped boards each.
        setNow(utc(3, day + 7, 2));
        const results = await Promise.all(gks.flatMap((g) => [g.finishLeaderboards(), g.finishLeaderboards()]));
        const boards = results.flat().map((e) => e.board);
        assert.equal(boards.length, 8, `boards announced: ${boards.join(", ")}`);
        assert.equal(new Set(boards).size, 8);
      });
    });

    test("lazily: the first award or read after a period finishes announces it, without a timer", () => {
      const day = wednesday();
      return withEngines(1, { leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0 }] }, utc(3, day, 9), async ({ gk, setNow }) => {
        const seen: LeaderboardFinishedEvent[] = [];
        gk.on("leaderboard_finished", (e) => void seen.push(e));
        await gk.addPoints("a", 5, { metric: "xp" });
        await sleep(20);
        assert.equal(seen.length, 0);
        setNow(utc(3, day + 1));
        await gk.leaderboard("xp").count();
        await until(() => seen.length === 1, "leaderboard_finished after a read");
        assert.deepEqual(seen[0]?.winners.map((w) => w.userId), ["a"]);
        assert.equal(seen[0]?.winners.length, 1, "winners default to 3, fewer on a small board");
        setNow(utc(3, day + 2));
        await gk.addPoints("b", 5, { metric: "xp" });
        await gk.addPoints("c", 5, { metric: "xp" });
        setNow(utc(3, day + 3));
        await gk.addPoints("c", 1, { metric: "xp" });
        await until(() => seen.length === 2, "leaderboard_finished after an award");
        assert.deepEqual(seen[1]?.winners.map((w) => w.userId), ["b", "c"]);
      });
    });

    test("boards kept forever have no expiry; by default a finished period's board is dropped after its retention", async () => {
      // Real time here: stores expire boards by their own clock.
      const longAgo = Date.UTC(2020, 0, 15, 12);
      await withEngines(1, { leaderboards: [{ metric: "xp", periods: ["day"], keepFinishedFor: "forever" }] }, Date.now(), async ({ gk }) => {
        await gk.addPoints("old", 3, { metric: "xp", at: longAgo });
        assert.deepEqual(rows(await gk.leaderboard("xp", { period: "day", at: "2020-01-15" }).top()), [["old", 3, 1]]);
      });
      await withEngines(1, { leaderboards: [{ metric: "xp", periods: ["day"] }] }, Date.now(), async ({ gk }) => {
        await gk.addPoints("old", 3, { metric: "xp", at: longAgo });
        assert.equal(await gk.leaderboard("xp", { period: "day", at: "2020-01-15" }).count(), 0);
        assert.equal((await gk.leaderboard("xp").rank("old"))?.score, 3);
      });
    });

    test("the longest metric, season id and scope fit every store, through finishing", () => {
      const metric = "m".repeat(128);
      const season = "s".repeat(32);
      const scope = "t".repeat(64);
      return withEngines(
        1,
        { finishLeaderboards: "manual", leaderboards: [{ metric, seasons: [{ id: season, start: utc(1, 1), end: utc(2, 1) }], finishAfter: 0 }] },
        utc(1, 15),
        async ({ gk, setNow }) => {
          await gk.addPoints("u", 3, { metric, scopes: [scope] });
          const view = gk.leaderboard(metric, { period: "season", scope });
          assert.equal(view.board.length, 128 + 1 + 6 + 1 + 32 + 1 + 64);
          assert.deepEqual(rows(await view.top()), [["u", 3, 1]]);
          setNow(utc(2, 1));
          const events = await gk.finishLeaderboards();
          assert.deepEqual(events.map((e) => e.scope).sort(), [scope, undefined].sort());
          assert.deepEqual(await gk.finishLeaderboards(), []);
        },
      );
    });

    test("bad archive configuration is INVALID_ARGUMENT naming the field", async () => {
      const store = await factory();
      try {
        const bad = async (field: string, extra: object, options: object = {}) => {
          const error = await expectGamifyError(
            () => createGamify({ leaderboardStore: store, ...options, leaderboards: [{ metric: "xp", periods: ["day"], ...extra }] }),
            "INVALID_ARGUMENT",
            field,
          );
          assert.equal(error.details["field"], field);
        };
        await bad("finishAfter", { finishAfter: -1 });
        await bad("winners", { winners: 3 });
        await bad("winners", { finishAfter: 0, winners: 0 });
        await bad("keepFinishedFor", { keepFinishedFor: "always" });
        await bad("watch.top", { watch: { top: 0 } });
        await bad("watch.periods", { watch: { top: 3, periods: ["month"] } });
        await bad("finishLeaderboards", {}, { finishLeaderboards: "sometimes" });
      } finally {
        await store.close();
      }
    });
  });

  describe("rank watches", () => {
    const changes = (gk: Gamify) => {
      const seen: LeaderboardRankChangedEvent[] = [];
      gk.on("leaderboard_rank_changed", (e) => void seen.push(e));
      /** The changes since the last call, as `user:previous>rank`, sorted. */
      return () => seen.splice(0).map((e) => `${e.userId}:${e.previousRank ?? "-"}>${e.rank ?? "-"}`).sort();
    };

    test("users entering, leaving and moving within the top N, including those displaced by another user's award", () =>
      withEngines(1, { leaderboards: [{ metric: "xp", watch: { top: 3 } }] }, utc(6, 1), async ({ gk }) => {
        const next = changes(gk);
        const typed: LeaderboardRankChangedEvent[] = [];
        gk.on("leaderboard_rank_changed", (e) => void typed.push(e));
        await gk.addPoints("a", 10, { metric: "xp" });
        assert.deepEqual(next(), ["a:->1"]);
        await gk.addPoints("b", 20, { metric: "xp" });
        assert.deepEqual(next(), ["a:1>2", "b:->1"]);
        await gk.addPoints("c", 5, { metric: "xp" });
        assert.deepEqual(next(), ["c:->3"]);
        await gk.addPoints("d", 1, { metric: "xp" });
        assert.deepEqual(next(), [], "a user below the top N changes nothing");
        await gk.addPoints("d", 29, { metric: "xp" });
        assert.deepEqual(next(), ["a:2>3", "b:1>2", "c:3>-", "d:->1"]);
        await gk.addPoints("a", 5, { metric: "xp" });
        assert.deepEqual(next(), [], "a score change that keeps every rank is silent");
        await gk.removePoints("d", 30, { metric: "xp" });
        assert.deepEqual(next(), ["a:3>2", "b:2>1", "c:->3", "d:1>-"]);
        await gk.addPoints("c", 10, { metric: "xp" });
        assert.deepEqual(next(), ["c:3>2"], "c ties a at 15: standard ranks 1, 2, 2");
        const last = typed.at(-1);
        assert.ok(last);
        assert.deepEqual(
          { metric: last.metric, period: last.period, key: last.key, board: last.board, top: last.top, causedBy: last.causedBy },
          { metric: "xp", period: "all", key: "all", board: "xp/all/all", top: 3, causedBy: "c" },
        );
        assert.equal(typeof last.score, "number");
      }));

    test("ordinal and dense watches, scoped boards, and periods left unwatched", () =>
      withEngines(
        1,
        { leaderboards: [{ metric: "xp", periods: ["week"], mode: "ordinal", watch: { top: 2, periods: ["week"] } }] },
        utc(6, 2),
        async ({ gk }) => {
          const next = changes(gk);
          await gk.addPoints("a", 10, { metric: "xp", scopes: ["t"] });
          assert.deepEqual(next(), ["a:->1", "a:->1"], "the week board and its scope t; the all-time board is not watched");
          await sleep(TIE_GAP_MS);
          await gk.addPoints("b", 10, { metric: "xp" });
          assert.deepEqual(next(), ["b:->2"], "a tie ranks after whoever reached the score first");
          await sleep(TIE_GAP_MS);
          await gk.addPoints("a", 1, { metric: "xp", scopes: ["t"] });
          assert.deepEqual(next(), []);
          await gk.addPoints("c", 11, { metric: "xp" });
          assert.deepEqual(next(), ["b:2>-", "c:->2"]);
          await gk.removePoints("a", 1, { metric: "xp", scopes: ["t"] });
          // a returns to 10, now behind c (11) and tied with b, whom it reached later: a leaves, b enters.
          assert.deepEqual(next(), ["a:1>-", "b:->2", "c:2>1"]);
        },
      ));
  });

  describe("backfill", () => {
    test("rebuilds every board from the event log, reports progress, and a second run changes nothing", () =>
      withEngines(
        1,
        { leaderboards: [{ metric: "xp", periods: ["day", "week"], seasons: [{ id: "s", start: utc(1, 1), end: utc(12, 1) }] }] },
        utc(4, 8, 12),
        async ({ gk, storage }) => {
          const users = userIds("bf", 7);
          for (const [i, userId] of users.entries()) {
            await gk.addPoints(userId, 10 * (i + 1), { metric: "xp", scopes: [`team-${i % 2}`] });
            await gk.addPoints(userId, 3, { metric: "xp", at: utc(4, 8 - 7, 9) });
            if (i % 3 === 0) await gk.removePoints(userId, 4, { metric: "xp", scopes: ["team-0"] });
            await gk.addPoints(userId, i + 1, { metric: "coins" });
          }
          await gk.track("bf-0", "login");
          const views: [string, Parameters<Gamify["leaderboard"]>[1]][] = [
            ["xp", {}],
            ["xp", { period: "day" }],
            ["xp", { period: "week" }],
            ["xp", { period: "week", at: utc(4, 1) }],
            ["xp", { period: "season" }],
            ["xp", { scope: "team-0" }],
            ["xp", { period: "week", scope: "team-1" }],
            ["coins", {}],
          ];
          const snapshot = async (g: Gamify) => Promise.all(views.map(([metric, query]) => g.leaderboard(metric, { ...query, mode: "ordinal" }).top({ limit: 50 })));
          const expected = (await snapshot(gk)).map((board) => board.map((e) => [e.userId, e.score]).sort());
          assert.ok(expected.every((board) => board.length > 0));

          // A fresh, empty board store over the same storage: the log is all there is.
          const fresh = await factory();
          const rebuilt = createGamify({
            analytics: false,
            storage: borrowed(storage),
            leaderboardStore: fresh,
            clock: () => utc(4, 8, 13),
            leaderboards: [{ metric: "xp", periods: ["day", "week"], seasons: [{ id: "s", start: utc(1, 1), end: utc(12, 1) }] }],
          });
          try {
            const progress: number[] = [];
            const first = await rebuilt.backfillLeaderboards({ batchSize: 3, onProgress: (p) => void progress.push(p.users) });
            assert.equal(progress[0], 3);
            assert.equal(progress.at(-1), 7);
            assert.ok(progress.every((n, i) => i === 0 || n >= (progress[i - 1] as number)), "progress only grows");
            assert.equal(first.users, 7);
            assert.equal(first.events, 7 * 3 + 3, "every points event is replayed");
            const got = (await snapshot(rebuilt)).map((board) => board.map((e) => [e.userId, e.score]).sort());
            assert.deepEqual(got, expected);
            const again = await rebuilt.backfillLeaderboards();
            assert.equal(again.corrected, 0, "idempotent");
            // A drifted score is put back; a metric filter touches only that metric.
            await fresh.set("xp/all/all", "bf-3", 999);
            await fresh.set("coins/all/all", "bf-3", 999);
            const xpOnly = await rebuilt.backfillLeaderboards({ metric: "xp", periods: ["all"] });
            assert.equal(xpOnly.corrected, 1);
            assert.equal((await rebuilt.leaderboard("xp").rank("bf-3"))?.score, 39);
            assert.equal((await rebuilt.leaderboard("coins").rank("bf-3"))?.score, 999);
          } finally {
            await rebuilt.close();
            await fresh.close();
          }
        },
      ));

    test("from/to limit the period boards rebuilt; bad options are INVALID_ARGUMENT", () =>
      withEngines(1, { leaderboards: [{ metric: "xp", periods: ["day"] }] }, utc(8, 10, 12), async ({ gk, store }) => {
        await gk.addPoints("u", 5, { metric: "xp", at: utc(8, 8, 12) });
        await gk.addPoints("u", 7, { metric: "xp" });
        const day8 = periodKey("day", utc(8, 8), "UTC");
        const day10 = periodKey("day", utc(8, 10), "UTC");
        await store.remove(`xp/day/${day8}`, "u");
        await store.remove(`xp/day/${day10}`, "u");
        const result = await gk.backfillLeaderboards({ from: utc(8, 9), to: utc(8, 11), periods: ["day"] });
        assert.equal(result.corrected, 1);
        assert.equal(await gk.leaderboard("xp", { period: "day", at: day8 }).count(), 0, "outside [from, to)");
        assert.equal((await gk.leaderboard("xp", { period: "day", at: day10 }).rank("u"))?.score, 7);
        await expectGamifyError(() => gk.backfillLeaderboards({ periods: ["year" as "day"] }), "INVALID_ARGUMENT", "periods");
        await expectGamifyError(() => gk.backfillLeaderboards({ batchSize: 0 }), "INVALID_ARGUMENT", "batchSize");
        await expectGamifyError(() => gk.backfillLeaderboards({ from: -1 }), "INVALID_ARGUMENT", "from");
        await expectGamifyError(() => gk.backfillLeaderboards({ metric: "bad metric" }), "INVALID_ARGUMENT", "metric");
      }));
  });

}

/**
 * A second handle on a storage: without its board store (so an engine on it moves the store it is
 * given) and with a close() that leaves the storage open for its owner.
 */
function borrowed(storage: Storage): Storage {
  return {
    name: storage.name,
    applyAwards: (userId, requests, now) => storage.applyAwards(userId, requests, now),
    getUser: (userId) => storage.getUser(userId),
    awardBadge: (userId, badge, event) => storage.awardBadge(userId, badge, event),
    revokeBadge: (userId, badge, event) => storage.revokeBadge(userId, badge, event),
    claimOnce: (userId, key, at) => storage.claimOnce(userId, key, at),
    appendEvents: (events) => storage.appendEvents(events),
    readEvents: (userId, options) => storage.readEvents(userId, options),
    countEvents: (userId, options) => storage.countEvents(userId, options),
    deleteUser: (userId) => storage.deleteUser(userId),
    listUsers: (options) => storage.listUsers(options),
    health: () => storage.health(),
    close: async () => undefined,
  };
}
