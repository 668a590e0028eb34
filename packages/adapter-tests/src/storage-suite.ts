import assert from "node:assert/strict";
import { createGamify, levelEvents, levels, type AwardRequest, type Gamify, type GamifyEvent, type GamifyOptions, type LevelDownEvent, type LevelUpEvent, type Storage } from "@gamifykit/core";
import {
  DAY,
  WEEK,
  assertSameNumber,
  assertUnique,
  concurrencyOf,
  expectGamifyError,
  flush,
  range,
  suiteTitle,
  userIds,
  withCleanup,
  type SuiteOptions,
  type SuiteRunner,
} from "./helpers.js";

const MAX = Number.MAX_SAFE_INTEGER;
const byNumber = (a: number, b: number): number => a - b;
const isLevelUp = (e: GamifyEvent): e is LevelUpEvent => e.type === "level_up";
const isLevelDown = (e: GamifyEvent): e is LevelDownEvent => e.type === "level_down";

/** Every event in a user's log, oldest first, read through the engine in pages of 1000. */
async function allEvents(gk: Gamify, userId: string): Promise<GamifyEvent[]> {
  const events: GamifyEvent[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await gk.events(userId, cursor === undefined ? { limit: 1000 } : { cursor, limit: 1000 });
    events.push(...page.events);
    if (page.nextCursor === null) return events;
    cursor = page.nextCursor;
  }
  throw new Error("events() never returned nextCursor: null");
}

/** Every user id the storage lists, in its order. */
async function allUsers(storage: Storage, limit = 1000): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await storage.listUsers({ cursor, limit });
    ids.push(...page.userIds);
    if (page.nextCursor === null) return ids;
    cursor = page.nextCursor;
  }
  throw new Error("listUsers() never returned nextCursor: null");
}

/** State and log of a user, to compare before and after a call that must change nothing. */
async function snapshot(gk: Gamify, userId: string) {
  return { user: await gk.getUser(userId), events: await allEvents(gk, userId) };
}

/** A points event as the engine would hand it to `applyAwards`. */
function pointsEvent(id: string, userId: string, metric: string, delta: number, at: number): AwardRequest["event"] {
  const type = delta > 0 ? ("points_added" as const) : ("points_removed" as const);
  return { id, type, userId, at, metric, delta: Math.abs(delta), total: 0 };
}

/**
 * The conformance suite for a {@link Storage}. It drives an engine built on the storage
 * (`createGamify({ storage })`) and calls the raw methods the engine relies on.
 *
 * `factory` is called once per test and must return an empty storage isolated from every other
 * one (e.g. a unique key prefix or schema per call). Each test closes what it created.
 */
export function storageSuite(runner: SuiteRunner, factory: () => Storage | Promise<Storage>, options: SuiteOptions = {}): void {
  const { describe, test } = runner;
  const n = concurrencyOf(options);
  /** Concurrent calls in the idempotency, badge and claim tests. */
  const m = Math.min(200, n);

  const withStorage = async (fn: (storage: Storage) => Promise<void>): Promise<void> => {
    const storage = await factory();
    await withCleanup(storage, (s) => s.close(), fn);
  };

  /** An engine on a fresh storage; closes both. Analytics are off unless the config asks. */
  const withEngine = async (config: Omit<GamifyOptions, "storage">, fn: (gk: Gamify, storage: Storage) => Promise<void>): Promise<void> => {
    const storage = await factory();
    const gk = createGamify({ analytics: false, ...config, storage });
    await withCleanup(
      gk,
      async (g) => {
        await g.close();
        await storage.close();
      },
      (g) => fn(g, storage),
    );
  };

  describe(suiteTitle("storage", options), () => {
    describe("basics", () => {
      test("getUser returns null for a user that was never seen", () =>
        withEngine({}, async (gk, storage) => {
          assert.equal(await gk.getUser("nobody"), null);
          assert.equal(await storage.getUser("nobody"), null);
        }));

      test("health() resolves on an open storage", () =>
        withStorage(async (storage) => {
          await storage.health();
        }));

      test("close() is idempotent", async () => {
        const storage = await factory();
        await storage.close();
        await storage.close();
      });

      test("getUser reports points, badges and levels, with createdAt and updatedAt from the engine clock", () => {
        let now = Date.now() - 10_000;
        const t0 = now;
        return withEngine({ clock: () => now, levels: { xp: levels.table([0, 100, 200]) } }, async (gk) => {
          await gk.addPoints("ada", 150, { metric: "xp" });
          now += 1000;
          await gk.addPoints("ada", 7);
          await gk.awardBadge("ada", "early-bird");
          const state = await gk.getUser("ada");
          assert.ok(state);
          assert.equal(state.userId, "ada");
          assert.deepEqual({ ...state.points }, { xp: 150, points: 7 });
          assert.deepEqual(Object.keys(state.badges), ["early-bird"]);
          assert.equal(state.badges["early-bird"]?.awardedAt, now);
          assert.equal(state.levels.xp, 2);
          assert.equal(state.createdAt, t0);
          assert.equal(state.updatedAt, now);
        });
      });
    });

    describe("concurrency", () => {
      test(`${n} concurrent +1 awards to one user give an exact total and distinct running totals`, () =>
        withEngine({}, async (gk, storage) => {
          const results = await Promise.all(range(n).map(() => gk.addPoints("alice", 1)));
          assert.equal((await gk.getUser("alice"))?.points.points, n);
          assert.equal((await storage.getUser("alice"))?.points.points, n);
          // Each award saw a different previous total: together they are exactly 1..n.
          assert.deepEqual(
            results.map((r) => r.total).sort(byNumber),
            range(n).map((i) => i + 1),
          );
          for (const r of results) {
            assert.equal(r.userId, "alice");
            assert.equal(r.metric, "points");
            assert.equal(r.delta, 1);
            assert.equal(r.previousTotal, r.total - 1);
            assert.equal(r.replayed, false);
          }
          assert.equal(await storage.countEvents("alice", { type: "points_added" }), n);
        }));

      test(`${n} concurrent awards spread over 10 users and two metrics give exact totals`, () =>
        withEngine({}, async (gk, storage) => {
          const users = userIds("user", 10);
          const metricOf = (i: number) => (Math.floor(i / 10) % 2 === 0 ? "xp" : "coins");
          const expected = new Map<string, Record<string, number>>();
          const awardsPerUser = new Map<string, number>();
          const results = await Promise.all(
            range(n).map((i) => {
              const userId = users[i % users.length] as string;
              const metric = metricOf(i);
              const amount = (i % 7) + 1;
              const totals = expected.get(userId) ?? {};
              totals[metric] = (totals[metric] ?? 0) + amount;
              expected.set(userId, totals);
              awardsPerUser.set(userId, (awardsPerUser.get(userId) ?? 0) + 1);
              return gk.addPoints(userId, amount, { metric });
            }),
          );
          assert.equal(results.length, n);
          for (const [userId, totals] of expected) {
            assert.deepEqual({ ...(await gk.getUser(userId))?.points }, totals, `totals of ${userId}`);
            assert.equal(await storage.countEvents(userId, { type: "points_added" }), awardsPerUser.get(userId), `events of ${userId}`);
          }
        }));

      test(`${n} concurrent additions and deductions on one user give an exact total`, () =>
        withEngine({}, async (gk) => {
          let expected = 0;
          const results = await Promise.all(
            range(n).map((i) => {
              if (i % 2 === 0) {
                expected += (i % 5) + 1;
                return gk.addPoints("mixer", (i % 5) + 1);
              }
              expected -= (i % 3) + 1;
              return gk.removePoints("mixer", (i % 3) + 1);
            }),
          );
          for (const r of results) assert.equal(r.total, r.previousTotal + r.delta);
          assert.equal(
            results.reduce((sum, r) => sum + r.delta, 0),
            expected,
          );
          assert.equal((await gk.getUser("mixer"))?.points.points, expected);
        }));

      test("two engine instances sharing one storage never lose an update", async () => {
        const storage = await factory();
        const a = createGamify({ storage, analytics: false });
        const b = createGamify({ storage, analytics: false });
        await withCleanup(
          storage,
          async (s) => {
            await a.close();
            await b.close();
            await s.close();
          },
          async () => {
            const results = await Promise.all(range(n).map((i) => (i % 2 === 0 ? a : b).addPoints("shared", 1)));
            assert.deepEqual(
              results.map((r) => r.total).sort(byNumber),
              range(n).map((i) => i + 1),
            );
            assert.equal((await a.getUser("shared"))?.points.points, n);
            assert.equal((await b.getUser("shared"))?.points.points, n);
          },
        );
      });
    });

    describe("levels", () => {
      const step = Math.max(1, Math.floor(n / 10));
      const top = Math.floor(n / step) + 1;

      test(`${n} concurrent +1 awards with levels.linear({ step: ${step} }) emit exactly one level_up per threshold crossed (levels 2..${top})`, () =>
        withEngine({ levels: { xp: levels.linear({ step }) } }, async (gk) => {
          const heard: LevelUpEvent[] = [];
          gk.on("level_up", (e) => {
            heard.push(e);
          });
          const results = await Promise.all(range(n).map(() => gk.addPoints("climber", 1, { metric: "xp" })));
          await flush();
          const expected = range(top - 1).map((i) => i + 2);
          const fromResults = results.flatMap((r) => r.events.filter(isLevelUp));
          assert.deepEqual(fromResults.map((e) => e.level).sort(byNumber), expected, "level_up events in results");
          assert.deepEqual(heard.map((e) => e.level).sort(byNumber), expected, "level_up events heard by gk.on");
          for (const r of results) {
            assert.equal(r.level, Math.floor(r.total / step) + 1, `level at total ${r.total}`);
            for (const e of r.events.filter(isLevelUp)) {
              // The award that crossed a threshold is the one that reports its level_up.
              const threshold = (e.level - 1) * step;
              assert.ok(r.previousTotal < threshold && r.total >= threshold, `level ${e.level} reported by the award ${r.previousTotal}→${r.total}`);
              assert.equal(e.previousLevel, e.level - 1);
              assert.equal(e.metric, "xp");
              assert.equal(e.userId, "climber");
            }
          }
          // In the order the awards applied (their totals), levels rise one by one.
          const inApplyOrder = [...results].sort((x, y) => x.total - y.total).flatMap((r) => r.events.filter(isLevelUp).map((e) => e.level));
          assert.deepEqual(inApplyOrder, expected);
          const state = await gk.getUser("climber");
          assert.equal(state?.levels.xp, top);
          const logged = (await allEvents(gk, "climber")).filter(isLevelUp).map((e) => e.level);
          assert.deepEqual(logged.sort(byNumber), expected, "level_up events in the user's log");
        }));

      test(`${n} concurrent awards to two users and two levelled metrics level each user and metric independently`, () => {
        const combos = [
          ["u1", "xp"],
          ["u2", "xp"],
          ["u1", "rep"],
          ["u2", "rep"],
        ] as const;
        const perCombo = range(combos.length).map((c) => range(n).filter((i) => i % combos.length === c).length);
        const comboStep = Math.max(1, Math.floor(Math.max(...perCombo) / 5));
        return withEngine({ levels: { xp: levels.linear({ step: comboStep }), rep: levels.linear({ step: comboStep }) } }, async (gk) => {
          const heard: LevelUpEvent[] = [];
          gk.on("level_up", (e) => {
            heard.push(e);
          });
          const results = await Promise.all(
            range(n).map((i) => {
              const [userId, metric] = combos[i % combos.length] as (typeof combos)[number];
              return gk.addPoints(userId, 1, { metric });
            }),
          );
          await flush();
          for (const [c, [userId, metric]] of combos.entries()) {
            const expected = range(Math.floor((perCombo[c] as number) / comboStep)).map((i) => i + 2);
            const mine = (e: LevelUpEvent) => e.userId === userId && e.metric === metric;
            const fromResults = results
              .filter((r) => r.userId === userId && r.metric === metric)
              .sort((x, y) => x.total - y.total)
              .flatMap((r) => r.events.filter(isLevelUp).filter(mine).map((e) => e.level));
            assert.deepEqual(fromResults, expected, `level_up of ${userId}/${metric} in results`);
            assert.deepEqual(heard.filter(mine).map((e) => e.level).sort(byNumber), expected, `level_up of ${userId}/${metric} heard`);
            assert.equal((await gk.getUser(userId))?.levels[metric], (expected.at(-1) ?? 1), `level of ${userId}/${metric}`);
          }
        });
      });

      test("one award that jumps several thresholds emits one level_up per level, in increasing order", () =>
        withEngine({ levels: { xp: levels.table([0, 100, 200, 300]) } }, async (gk) => {
          const heard: LevelUpEvent[] = [];
          gk.on("level_up", (e) => {
            heard.push(e);
          });
          const jump = await gk.addPoints("jumper", 250, { metric: "xp" });
          await flush();
          assert.equal(jump.level, 3);
          assert.equal(jump.previousLevel, 1);
          const ups = jump.events.filter(isLevelUp);
          assert.deepEqual(
            ups.map((e) => [e.previousLevel, e.level]),
            [
              [1, 2],
              [2, 3],
            ],
          );
          assert.deepEqual(
            heard.map((e) => e.level),
            [2, 3],
          );
          // Past the table's last threshold the level stays at its top.
          const beyond = await gk.addPoints("jumper", 10_000, { metric: "xp" });
          assert.deepEqual(
            beyond.events.filter(isLevelUp).map((e) => e.level),
            [4],
          );
          assert.equal(beyond.level, 4);
          assert.equal((await gk.getUser("jumper"))?.levels.xp, 4);
        }));

      test("levels never go down after removePoints by default, and no level_down is emitted", () =>
        withEngine({ levels: { xp: levels.table([0, 100, 200, 300]) } }, async (gk) => {
          const heard: GamifyEvent[] = [];
          gk.on("*", (e) => {
            if (e.type === "level_up" || e.type === "level_down") heard.push(e);
          });
          await gk.addPoints("sticky", 250, { metric: "xp" });
          const down = await gk.removePoints("sticky", 200, { metric: "xp" });
          assert.equal(down.total, 50);
          assert.equal(down.level, 3);
          assert.equal(down.previousLevel, 3);
          assert.deepEqual(down.events.filter((e) => isLevelUp(e) || isLevelDown(e)), []);
          assert.equal((await gk.getUser("sticky"))?.levels.xp, 3);
          // Climbing back through thresholds already passed emits nothing new…
          const back = await gk.addPoints("sticky", 160, { metric: "xp" });
          assert.equal(back.total, 210);
          assert.equal(back.level, 3);
          assert.deepEqual(back.events.filter(isLevelUp), []);
          // …and a new threshold emits exactly its own level_up.
          const up = await gk.addPoints("sticky", 100, { metric: "xp" });
          assert.deepEqual(
            up.events.filter(isLevelUp).map((e) => [e.previousLevel, e.level]),
            [[3, 4]],
          );
          await flush();
          assert.deepEqual(
            heard.map((e) => [e.type, (e as LevelUpEvent).level]),
            [
              ["level_up", 2],
              ["level_up", 3],
              ["level_up", 4],
            ],
          );
        }));

      test("with levelsFollowDown: true the level follows the total down, emitting level_down events", () =>
        withEngine({ levels: { xp: levels.table([0, 100, 200, 300]) }, metrics: { xp: { levelsFollowDown: true } } }, async (gk) => {
          const heard: LevelDownEvent[] = [];
          gk.on("level_down", (e) => {
            heard.push(e);
          });
          await gk.addPoints("yoyo", 250, { metric: "xp" });
          const down = await gk.removePoints("yoyo", 200, { metric: "xp" });
          await flush();
          assert.equal(down.total, 50);
          assert.equal(down.previousLevel, 3);
          assert.equal(down.level, 1);
          const downs = down.events.filter(isLevelDown);
          assert.ok(downs.length >= 1, "at least one level_down");
          assert.equal(downs[0]?.previousLevel, 3);
          assert.equal(downs.at(-1)?.level, 1);
          for (let i = 1; i < downs.length; i++) assert.equal(downs[i]?.previousLevel, downs[i - 1]?.level, "level_down events chain");
          assert.deepEqual(
            heard.map((e) => [e.previousLevel, e.level]),
            downs.map((e) => [e.previousLevel, e.level]),
          );
          assert.equal((await gk.getUser("yoyo"))?.levels.xp, 1);
          const up = await gk.addPoints("yoyo", 100, { metric: "xp" });
          assert.deepEqual(
            up.events.filter(isLevelUp).map((e) => [e.previousLevel, e.level]),
            [[1, 2]],
          );
        }));

      test("a second user's levels are independent of the first's", () =>
        withEngine({ levels: { xp: levels.table([0, 100, 200, 300]) } }, async (gk) => {
          const a = await gk.addPoints("first", 250, { metric: "xp" });
          const b = await gk.addPoints("second", 150, { metric: "xp" });
          assert.deepEqual(
            a.events.filter(isLevelUp).map((e) => e.level),
            [2, 3],
          );
          assert.deepEqual(
            b.events.filter(isLevelUp).map((e) => [e.userId, e.previousLevel, e.level]),
            [["second", 1, 2]],
          );
          assert.equal((await gk.getUser("first"))?.levels.xp, 3);
          assert.equal((await gk.getUser("second"))?.levels.xp, 2);
        }));
    });

    describe("idempotency", () => {
      test(`${m} concurrent calls with one idempotency key apply the award once`, () =>
        withEngine({}, async (gk, storage) => {
          const results = await Promise.all(range(m).map(() => gk.addPoints("idem", 7, { idempotencyKey: "order-1" })));
          assert.equal(results.filter((r) => !r.replayed).length, 1, "exactly one call applies");
          for (const r of results) {
            assert.equal(r.delta, 7);
            assert.equal(r.previousTotal, 0);
            assert.equal(r.total, 7);
          }
          assert.equal((await gk.getUser("idem"))?.points.points, 7);
          assert.equal(await storage.countEvents("idem", { type: "points_added" }), 1);
        }));

      test("a later call with a used key is replayed: the first outcome, replayed: true, nothing applied", () =>
        withEngine({}, async (gk) => {
          const first = await gk.addPoints("retry", 10, { idempotencyKey: "k-1" });
          assert.equal(first.replayed, false);
          await gk.addPoints("retry", 5);
          const again = await gk.addPoints("retry", 10, { idempotencyKey: "k-1" });
          assert.equal(again.replayed, true);
          assert.equal(again.delta, 10);
          assert.equal(again.previousTotal, 0);
          assert.equal(again.total, 10);
          assert.equal((await gk.getUser("retry"))?.points.points, 15);
          assert.equal((await allEvents(gk, "retry")).length, 2);
        }));

      test("different idempotency keys apply separately", () =>
        withEngine({}, async (gk) => {
          const a = await gk.addPoints("keys", 10, { idempotencyKey: "k-1" });
          const b = await gk.addPoints("keys", 10, { idempotencyKey: "k-2" });
          assert.equal(a.replayed, false);
          assert.equal(b.replayed, false);
          assert.equal(b.total, 20);
          assert.equal((await gk.getUser("keys"))?.points.points, 20);
        }));

      test("idempotency keys are scoped per user: one key applies once to each user", () =>
        withEngine({}, async (gk) => {
          const [a, b] = await Promise.all([
            gk.addPoints("ann", 10, { idempotencyKey: "signup-bonus" }),
            gk.addPoints("ben", 10, { idempotencyKey: "signup-bonus" }),
          ]);
          assert.equal(a.replayed, false);
          assert.equal(b.replayed, false);
          assert.equal((await gk.getUser("ann"))?.points.points, 10);
          assert.equal((await gk.getUser("ben"))?.points.points, 10);
        }));

      test("removePoints honours idempotency keys", () =>
        withEngine({}, async (gk) => {
          const first = await gk.removePoints("spender", 3, { idempotencyKey: "refund-1" });
          const again = await gk.removePoints("spender", 3, { idempotencyKey: "refund-1" });
          assert.equal(first.replayed, false);
          assert.equal(again.replayed, true);
          assert.equal(again.delta, -3);
          assert.equal(again.total, -3);
          assert.equal((await gk.getUser("spender"))?.points.points, -3);
        }));
    });

    describe("badges", () => {
      test(`${m} concurrent awardBadge calls award the badge exactly once`, () =>
        withEngine({}, async (gk) => {
          const heard: GamifyEvent[] = [];
          gk.on("badge_awarded", (e) => {
            heard.push(e);
          });
          const results = await Promise.all(range(m).map(() => gk.awardBadge("hero", "first-win")));
          await flush();
          assert.equal(results.filter((r) => r.awarded).length, 1, "exactly one call awards");
          const awardedAt = results.find((r) => r.awarded)?.awardedAt;
          for (const r of results) assert.equal(r.awardedAt, awardedAt, "every call reports the one award time");
          assert.equal(results.flatMap((r) => r.events).filter((e) => e.type === "badge_awarded").length, 1);
          assert.equal(heard.length, 1);
          assert.equal((await gk.getUser("hero"))?.badges["first-win"]?.awardedAt, awardedAt);
          assert.equal((await allEvents(gk, "hero")).filter((e) => e.type === "badge_awarded").length, 1);
        }));

      test("a revoked badge can be awarded again", () =>
        withEngine({}, async (gk) => {
          assert.equal((await gk.awardBadge("rev", "streak")).awarded, true);
          const revoked = await gk.revokeBadge("rev", "streak");
          assert.equal(revoked.revoked, true);
          assert.deepEqual(
            revoked.events.map((e) => e.type),
            ["badge_revoked"],
          );
          assert.equal((await gk.getUser("rev"))?.badges.streak, undefined);
          assert.equal((await gk.awardBadge("rev", "streak")).awarded, true);
          assert.ok((await gk.getUser("rev"))?.badges.streak);
          assert.deepEqual(
            (await allEvents(gk, "rev")).map((e) => e.type),
            ["badge_awarded", "badge_revoked", "badge_awarded"],
          );
        }));

      test("revoking a badge the user does not hold returns revoked: false and changes nothing", () =>
        withEngine({}, async (gk) => {
          const heard: GamifyEvent[] = [];
          gk.on("badge_revoked", (e) => {
            heard.push(e);
          });
          const unknown = await gk.revokeBadge("ghost", "anything");
          assert.equal(unknown.revoked, false);
          assert.deepEqual(unknown.events, []);
          assert.equal(await gk.getUser("ghost"), null, "revoking does not create the user");
          await gk.awardBadge("holder", "gold");
          const before = await snapshot(gk, "holder");
          const other = await gk.revokeBadge("holder", "silver");
          assert.equal(other.revoked, false);
          assert.deepEqual(await snapshot(gk, "holder"), before);
          await flush();
          assert.equal(heard.length, 0);
        }));
    });

    describe("deductions and floors", () => {
      test("without a floor removePoints may take the total below zero", () =>
        withEngine({}, async (gk) => {
          const r = await gk.removePoints("debtor", 5);
          assert.equal(r.delta, -5);
          assert.equal(r.previousTotal, 0);
          assert.equal(r.total, -5);
          const event = r.events.find((e) => e.type === "points_removed");
          assert.ok(event && event.type === "points_removed");
          assert.equal(event.delta, 5, "points_removed carries the points removed, as a positive number");
          assert.equal(event.total, -5);
          assert.equal((await gk.getUser("debtor"))?.points.points, -5);
        }));

      test("a floor clamps a deduction: delta is the applied amount and the total stops at the floor", () =>
        withEngine({ metrics: { coins: { floor: 0 } } }, async (gk) => {
          await gk.addPoints("saver", 30, { metric: "coins" });
          const r = await gk.removePoints("saver", 50, { metric: "coins" });
          assert.equal(r.delta, -30);
          assert.equal(r.previousTotal, 30);
          assert.equal(r.total, 0);
          const event = r.events.find((e) => e.type === "points_removed");
          assert.ok(event && event.type === "points_removed");
          assert.equal(event.delta, 30);
          assert.equal(event.total, 0);
          const atFloor = await gk.removePoints("saver", 10, { metric: "coins" });
          assertSameNumber(atFloor.delta, 0, "nothing left to remove");
          assert.equal(atFloor.total, 0);
          assert.deepEqual(
            (await allEvents(gk, "saver")).map((e) => e.type),
            ["points_added", "points_removed"],
            "a deduction that removed nothing is not logged",
          );
          const fresh = await gk.removePoints("newcomer", 10, { metric: "coins" });
          assertSameNumber(fresh.delta, 0);
          assert.equal(fresh.total, 0);
          assert.equal((await gk.getUser("saver"))?.points.coins, 0);
          // Metrics without a floor are unaffected.
          assert.equal((await gk.removePoints("saver", 10)).total, -10);
        }));

      test(`${n} concurrent additions and deductions against a floor never cross it and sum exactly`, () =>
        withEngine({ metrics: { coins: { floor: 0 } } }, async (gk) => {
          await gk.addPoints("wallet", 100, { metric: "coins" });
          const results = await Promise.all(
            range(n).map((i) => (i % 4 === 3 ? gk.addPoints("wallet", 2, { metric: "coins" }) : gk.removePoints("wallet", 1, { metric: "coins" }))),
          );
          for (const r of results) {
            assert.ok(r.total >= 0, `total ${r.total} below the floor`);
            assert.equal(r.total, r.previousTotal + r.delta);
            if (r.delta === 0) assert.equal(r.previousTotal, 0, "only a deduction at the floor is clamped to nothing");
          }
          const applied = results.reduce((sum, r) => sum + r.delta, 0);
          assert.equal((await gk.getUser("wallet"))?.points.coins, 100 + applied);
        }));
    });

    describe("safe-integer range", () => {
      test("an award past Number.MAX_SAFE_INTEGER is rejected with OUT_OF_RANGE and changes nothing", () =>
        withEngine({}, async (gk) => {
          assert.equal((await gk.addPoints("whale", MAX)).total, MAX);
          const before = await snapshot(gk, "whale");
          await expectGamifyError(gk.addPoints("whale", 1), "OUT_OF_RANGE");
          await expectGamifyError(gk.addPoints("whale", MAX, { idempotencyKey: "k-big" }), "OUT_OF_RANGE");
          assert.deepEqual(await snapshot(gk, "whale"), before);
          // A rejected award does not use up its idempotency key.
          await gk.removePoints("whale", 1);
          const retry = await gk.addPoints("whale", 1, { idempotencyKey: "k-big" });
          assert.equal(retry.replayed, false);
          assert.equal(retry.total, MAX);
        }));

      test("a deduction past Number.MIN_SAFE_INTEGER is rejected with OUT_OF_RANGE and changes nothing", () =>
        withEngine({}, async (gk) => {
          assert.equal((await gk.removePoints("sink", MAX)).total, -MAX);
          const before = await snapshot(gk, "sink");
          await expectGamifyError(gk.removePoints("sink", 1), "OUT_OF_RANGE");
          assert.deepEqual(await snapshot(gk, "sink"), before);
        }));

      test("applyAwards rejects the whole request list with OUT_OF_RANGE when one request would overflow", () =>
        withStorage(async (storage) => {
          const now = Date.now();
          await storage.applyAwards(
            "raw",
            [
              { metric: "a", delta: 5, event: pointsEvent("e1", "raw", "a", 5, now) },
              { metric: "b", delta: MAX, event: pointsEvent("e2", "raw", "b", MAX, now) },
            ],
            now,
          );
          const before = { user: await storage.getUser("raw"), log: await storage.readEvents("raw", { limit: 100 }) };
          await expectGamifyError(
            storage.applyAwards(
              "raw",
              [
                { metric: "a", delta: 1, event: pointsEvent("e3", "raw", "a", 1, now + 1) },
                { metric: "b", delta: 1, event: pointsEvent("e4", "raw", "b", 1, now + 1) },
              ],
              now + 1,
            ),
            "OUT_OF_RANGE",
          );
          assert.deepEqual({ user: await storage.getUser("raw"), log: await storage.readEvents("raw", { limit: 100 }) }, before);
        }));
    });

    describe("batch", () => {
      test("batch results follow input order and each user's awards apply in sequence", () =>
        withEngine({}, async (gk) => {
          const results = await gk.batch([
            { userId: "a", amount: 5, metric: "xp" },
            { userId: "b", amount: 3 },
            { userId: "a", amount: 2, metric: "xp", type: "remove" },
            { userId: "c", amount: 1, metric: "coins" },
            { userId: "a", amount: 10, metric: "xp" },
            { userId: "b", amount: 4, type: "add" },
          ]);
          assert.deepEqual(
            results.map((r) => [r.userId, r.metric, r.delta, r.previousTotal, r.total]),
            [
              ["a", "xp", 5, 0, 5],
              ["b", "points", 3, 0, 3],
              ["a", "xp", -2, 5, 3],
              ["c", "coins", 1, 0, 1],
              ["a", "xp", 10, 3, 13],
              ["b", "points", 4, 3, 7],
            ],
          );
          assert.equal((await gk.getUser("a"))?.points.xp, 13);
          assert.equal((await gk.getUser("b"))?.points.points, 7);
          assert.equal((await gk.getUser("c"))?.points.coins, 1);
        }));

      test("a user's batch group that would overflow applies nothing for that user and the call rejects with OUT_OF_RANGE", () =>
        withEngine({}, async (gk) => {
          await gk.addPoints("a", MAX - 5, { metric: "xp" });
          const before = await snapshot(gk, "a");
          await expectGamifyError(
            gk.batch([
              { userId: "a", amount: 1, metric: "xp" },
              { userId: "b", amount: 3, metric: "xp" },
              { userId: "a", amount: 10, metric: "xp" },
            ]),
            "OUT_OF_RANGE",
          );
          assert.deepEqual(await snapshot(gk, "a"), before);
        }));

      test("a batch with one invalid entry is rejected with INVALID_ARGUMENT and applies nothing", () =>
        withEngine({}, async (gk) => {
          await expectGamifyError(
            gk.batch([
              { userId: "a", amount: 5 },
              { userId: "b", amount: 0 },
            ]),
            "INVALID_ARGUMENT",
          );
          await expectGamifyError(
            gk.batch([
              { userId: "a", amount: 5 },
              { userId: "not valid", amount: 1 },
            ]),
            "INVALID_ARGUMENT",
          );
          assert.equal(await gk.getUser("a"), null);
          assert.equal(await gk.getUser("b"), null);
        }));

      test(`${n} awards in concurrent batches of 10 give exact totals`, () =>
        withEngine({}, async (gk) => {
          const users = userIds("bulk", 7);
          const expected = new Map<string, number>();
          const items = range(n).map((i) => {
            const userId = users[i % users.length] as string;
            const amount = (i % 5) + 1;
            expected.set(userId, (expected.get(userId) ?? 0) + amount);
            return { userId, amount };
          });
          const chunks = range(Math.ceil(n / 10)).map((c) => items.slice(c * 10, c * 10 + 10));
          const results = await Promise.all(chunks.map((chunk) => gk.batch(chunk)));
          assert.equal(results.flat().length, n);
          for (const [userId, total] of expected) assert.equal((await gk.getUser(userId))?.points.points, total, userId);
        }));

      test("an idempotency key repeated within one batch applies once", () =>
        withEngine({}, async (gk) => {
          const [first, second, other] = await gk.batch([
            { userId: "a", amount: 5, idempotencyKey: "k-1" },
            { userId: "a", amount: 5, idempotencyKey: "k-1" },
            { userId: "b", amount: 5, idempotencyKey: "k-1" },
          ]);
          assert.equal(first?.replayed, false);
          assert.equal(second?.replayed, true);
          assert.equal(second?.total, 5);
          assert.equal(other?.replayed, false, "the same key for another user applies");
          assert.equal((await gk.getUser("a"))?.points.points, 5);
          assert.equal((await gk.getUser("b"))?.points.points, 5);
        }));

      test("batch entries with a used idempotency key are replayed", () =>
        withEngine({}, async (gk) => {
          await gk.addPoints("a", 5, { idempotencyKey: "k-1" });
          const [replayed, fresh] = await gk.batch([
            { userId: "a", amount: 5, idempotencyKey: "k-1" },
            { userId: "a", amount: 1 },
          ]);
          assert.equal(replayed?.replayed, true);
          assert.equal(replayed?.total, 5);
          assert.equal(fresh?.replayed, false);
          assert.equal(fresh?.total, 6);
          assert.equal((await gk.getUser("a"))?.points.points, 6);
        }));
    });

    describe("event log", () => {
      test("events() returns the user's events oldest first, and only theirs", () => {
        let now = Date.now() - 60_000;
        const tick = () => (now += 1000);
        return withEngine({ clock: () => now }, async (gk) => {
          const ids: string[] = [];
          const idsOf = (r: { events: readonly GamifyEvent[] }) => ids.push(...r.events.map((e) => e.id));
          idsOf(await gk.addPoints("logger", 1));
          tick();
          await gk.addPoints("other", 100);
          tick();
          idsOf(await gk.addPoints("logger", 2, { metric: "xp" }));
          tick();
          idsOf(await gk.awardBadge("logger", "starter"));
          tick();
          idsOf(await gk.removePoints("logger", 1));
          tick();
          ids.push((await gk.track("logger", "login")).id);
          tick();
          idsOf(await gk.revokeBadge("logger", "starter"));
          const events = await allEvents(gk, "logger");
          assert.deepEqual(
            events.map((e) => e.type),
            ["points_added", "points_added", "badge_awarded", "points_removed", "action", "badge_revoked"],
          );
          assert.deepEqual(
            events.map((e) => e.id),
            ids,
          );
          for (const e of events) assert.equal(e.userId, "logger");
          for (let i = 1; i < events.length; i++) assert.ok((events[i]?.at ?? 0) > (events[i - 1]?.at ?? 0), "event times follow the clock");
          assert.deepEqual(
            (await allEvents(gk, "other")).map((e) => e.type),
            ["points_added"],
          );
        });
      });

      test("points events in the log match the results: metric, positive delta, total, reason and metadata", () =>
        withEngine({}, async (gk) => {
          const metadata = { quest: "q-1", n: 3, nested: { ok: true, list: [1, "two"] } };
          const added = await gk.addPoints("scribe", 10, { metric: "xp", reason: "quest complete", metadata });
          const removed = await gk.removePoints("scribe", 4, { metric: "xp", reason: "penalty" });
          const events = await allEvents(gk, "scribe");
          assert.deepEqual(events, [...added.events, ...removed.events]);
          const [first, second] = events;
          assert.ok(first?.type === "points_added" && second?.type === "points_removed");
          assert.equal(first.metric, "xp");
          assert.equal(first.delta, 10);
          assert.equal(first.total, 10);
          assert.equal(first.reason, "quest complete");
          assert.deepEqual(first.metadata, metadata);
          assert.equal(second.delta, 4);
          assert.equal(second.total, 6);
          assert.equal(second.reason, "penalty");
        }));

      test("paging events() with a limit visits all 25 events once each, in order", () =>
        withEngine({}, async (gk, storage) => {
          for (const i of range(25)) await gk.addPoints("pager", i + 1);
          const expectedTotals = range(25).map((i) => ((i + 1) * (i + 2)) / 2);
          for (const limit of [7, 5, 1, 25, 100]) {
            const seen: GamifyEvent[] = [];
            let cursor: string | undefined;
            let pages = 0;
            do {
              const page = await gk.events("pager", cursor === undefined ? { limit } : { cursor, limit });
              assert.ok(page.events.length <= limit, `a page holds at most ${limit} events`);
              seen.push(...page.events);
              cursor = page.nextCursor ?? undefined;
              pages++;
              assert.ok(pages <= 26 + 1, "paging terminates");
            } while (cursor !== undefined);
            assertUnique(
              seen.map((e) => e.id),
              `no event repeats with limit ${limit}`,
            );
            assert.deepEqual(
              seen.map((e) => (e.type === "points_added" ? e.total : null)),
              expectedTotals,
              `every event once, oldest first, with limit ${limit}`,
            );
          }
          const raw = await storage.readEvents("pager", { limit: 10 });
          assert.equal(raw.events.length, 10);
          assert.notEqual(raw.nextCursor, null);
          assert.deepEqual(await storage.readEvents("nobody", { limit: 10 }), { events: [], nextCursor: null });
        }));

      test("appendEvents appends to each user's log in order", () =>
        withStorage(async (storage) => {
          const at = Date.now() - 1000;
          const action = (id: string, userId: string, name: string): GamifyEvent => ({ id, type: "action", userId, at, action: name, metadata: { id } });
          const a1 = action("a1", "ua", "login");
          const b1 = action("b1", "ub", "login");
          const a2 = action("a2", "ua", "share");
          const a3 = action("a3", "ua", "login");
          await storage.appendEvents([a1, b1, a2]);
          await storage.appendEvents([a3]);
          assert.deepEqual((await storage.readEvents("ua", { limit: 10 })).events, [a1, a2, a3]);
          assert.deepEqual((await storage.readEvents("ub", { limit: 10 })).events, [b1]);
        }));

      test("countEvents counts a user's events by type, by action name and since an inclusive time", () => {
        const now = Date.now() - 1000;
        return withEngine({ clock: () => now }, async (gk, storage) => {
          await gk.track("counter", "login", { at: now - 3 * DAY });
          await gk.track("counter", "purchase", { at: now - 2 * DAY });
          await gk.track("counter", "login", { at: now - DAY });
          await gk.track("counter", "login", { at: now });
          await gk.track("someone-else", "login", { at: now });
          await gk.addPoints("counter", 5);
          assert.equal(await storage.countEvents("counter", { type: "action", action: "login" }), 3);
          assert.equal(await storage.countEvents("counter", { type: "action", action: "login", since: now - DAY }), 2, "since is inclusive");
          assert.equal(await storage.countEvents("counter", { type: "action", action: "login", since: now - DAY + 1 }), 1);
          assert.equal(await storage.countEvents("counter", { type: "action" }), 4, "without an action name every action counts");
          assert.equal(await storage.countEvents("counter", { type: "action", since: now - 2 * DAY }), 3);
          assert.equal(await storage.countEvents("counter", { type: "action", action: "logout" }), 0);
          assert.equal(await storage.countEvents("counter", { type: "points_added" }), 1);
          assert.equal(await storage.countEvents("counter", { type: "badge_awarded" }), 0);
          assert.equal(await storage.countEvents("nobody", { type: "action" }), 0);
        });
      });
    });

    describe("deleteUser", () => {
      test("deleteUser removes state, badges, events and idempotency records; a new award starts from zero", () =>
        withEngine({}, async (gk, storage) => {
          await gk.addPoints("leaver", 10, { idempotencyKey: "k-1" });
          await gk.awardBadge("leaver", "gold");
          await gk.track("leaver", "login");
          await gk.addPoints("stayer", 3);
          assert.equal(await gk.deleteUser("leaver"), true);
          assert.equal(await gk.getUser("leaver"), null);
          assert.deepEqual(await gk.events("leaver"), { events: [], nextCursor: null });
          assert.equal(await storage.countEvents("leaver", { type: "action" }), 0);
          assert.equal(await gk.deleteUser("leaver"), false, "a second delete finds nothing");
          assert.ok(!(await allUsers(storage)).includes("leaver"), "listUsers no longer lists the user");
          const again = await gk.addPoints("leaver", 10, { idempotencyKey: "k-1" });
          assert.equal(again.replayed, false, "the idempotency key was forgotten");
          assert.equal(again.previousTotal, 0);
          assert.equal(again.total, 10);
          assert.deepEqual({ ...(await gk.getUser("leaver"))?.badges }, {});
          assert.equal((await gk.getUser("stayer"))?.points.points, 3, "other users are untouched");
        }));

      test("deleteUser of an unknown user returns false", () =>
        withEngine({}, async (gk) => {
          assert.equal(await gk.deleteUser("never-seen"), false);
        }));
    });

    describe("raw storage", () => {
      test("listUsers pages through every user exactly once, in a stable order", () =>
        withEngine({}, async (gk, storage) => {
          assert.deepEqual(await storage.listUsers({ limit: 10 }), { userIds: [], nextCursor: null });
          const users = userIds("lister", 30);
          await Promise.all(users.map((u, i) => gk.addPoints(u, i + 1)));
          await gk.deleteUser("lister-13");
          const expected = users.filter((u) => u !== "lister-13").sort();
          const paged = await allUsers(storage, 7);
          assertUnique(paged, "no user repeats across pages");
          assert.deepEqual([...paged].sort(), expected);
          assert.deepEqual(await allUsers(storage, 7), paged, "the order is stable");
          assert.deepEqual(await allUsers(storage, 1000), paged, "the order does not depend on the page size");
        }));

      test("listUsers and events() paging neither skip nor repeat while users and events are being added", () =>
        withEngine({}, async (gk, storage) => {
          const early = userIds("early", 20);
          for (const u of early) await gk.addPoints(u, 1);
          for (const i of range(20)) await gk.addPoints("busy", i + 1);
          let writing = true;
          const writer = (async () => {
            for (const [i, u] of userIds("late", 40).entries()) {
              await gk.addPoints(u, 1);
              await gk.addPoints("busy", 100 + i);
            }
            writing = false;
          })();
          const listed: string[] = [];
          const logged: GamifyEvent[] = [];
          let userCursor: string | undefined;
          let eventCursor: string | undefined;
          let usersDone = false;
          let eventsDone = false;
          for (let round = 0; round < 1000 && !(usersDone && eventsDone); round++) {
            if (!usersDone) {
              const page = await storage.listUsers({ cursor: userCursor, limit: 3 });
              listed.push(...page.userIds);
              userCursor = page.nextCursor ?? undefined;
              usersDone = page.nextCursor === null;
            }
            if (!eventsDone) {
              const page = await gk.events("busy", eventCursor === undefined ? { limit: 3 } : { cursor: eventCursor, limit: 3 });
              logged.push(...page.events);
              eventCursor = page.nextCursor ?? undefined;
              eventsDone = page.nextCursor === null;
            }
          }
          await writer;
          assert.equal(writing, false);
          assertUnique(listed, "no user listed twice");
          for (const u of [...early, "busy"]) assert.ok(listed.includes(u), `${u} existed before paging began and was listed`);
          const final = await allEvents(gk, "busy");
          assertUnique(
            logged.map((e) => e.id),
            "no event read twice",
          );
          assert.ok(logged.length >= 20, "every event written before paging began was read");
          assert.deepEqual(logged, final.slice(0, logged.length), "the pages read are the start of the log, in order");
        }));

      test(`claimOnce returns true once per user and key, also under ${m} concurrent claims, until the user is deleted`, () =>
        withStorage(async (storage) => {
          const at = Date.now();
          assert.equal(await storage.claimOnce("claimer", "rule:a", at), true);
          assert.equal(await storage.claimOnce("claimer", "rule:a", at), false);
          assert.equal(await storage.claimOnce("claimer", "rule:b", at), true);
          assert.equal(await storage.claimOnce("another", "rule:a", at), true);
          const claims = await Promise.all(range(m).map(() => storage.claimOnce("claimer", "rule:c", at)));
          assert.equal(claims.filter(Boolean).length, 1);
          await storage.deleteUser("claimer");
          assert.equal(await storage.claimOnce("claimer", "rule:a", at), true);
        }));

      test("applyAwards returns outcomes in request order, clamps at floors, sets levels and logs events with the applied values", () =>
        withStorage(async (storage) => {
          const now = Date.now();
          const curve = levels.linear({ step: 100 });
          const level = { levelFor: (p: number) => curve.levelFor(p), pointsFor: (l: number) => curve.pointsFor(l), followDown: false };
          const requests: AwardRequest[] = [
            { metric: "xp", delta: 5, event: pointsEvent("r1", "raw", "xp", 5, now) },
            { metric: "xp", delta: -3, floor: 0, event: pointsEvent("r2", "raw", "xp", -3, now) },
            { metric: "coins", delta: 2, event: pointsEvent("r3", "raw", "coins", 2, now) },
            { metric: "xp", delta: -10, floor: 0, event: pointsEvent("r4", "raw", "xp", -10, now) },
            { metric: "lvl", delta: 250, level, event: pointsEvent("r5", "raw", "lvl", 250, now) },
          ];
          const outcomes = await storage.applyAwards("raw", requests, now);
          assert.deepEqual(
            outcomes.map((o) => [o.replayed, o.delta, o.previousTotal, o.total, o.previousLevel, o.level]),
            [
              [false, 5, 0, 5, 0, 0],
              [false, -3, 5, 2, 0, 0],
              [false, 2, 0, 2, 0, 0],
              [false, -2, 2, 0, 0, 0],
              [false, 250, 0, 250, 1, 3],
            ],
          );
          const log = (await storage.readEvents("raw", { limit: 100 })).events;
          const pointsLog = log.filter((e) => e.type === "points_added" || e.type === "points_removed");
          assert.deepEqual(
            pointsLog.map((e) => [e.id, e.type, (e as AwardRequest["event"]).delta, (e as AwardRequest["event"]).total]),
            [
              ["r1", "points_added", 5, 5],
              ["r2", "points_removed", 3, 2],
              ["r3", "points_added", 2, 2],
              ["r4", "points_removed", 2, 0],
              ["r5", "points_added", 250, 250],
            ],
          );
          assert.deepEqual(
            outcomes.map((o) => o.event),
            pointsLog,
          );
          // Level events are logged in the same atomic step, right after their points event.
          assert.deepEqual(
            log.map((e) => e.id),
            ["r1", "r2", "r3", "r4", "r5", "r5:level:2", "r5:level:3"],
          );
          assert.deepEqual(log.slice(5), levelEvents(pointsEvent("r5", "raw", "lvl", 250, now), "lvl", 1, 3));
          const state = await storage.getUser("raw");
          assert.deepEqual({ ...state?.points }, { xp: 0, coins: 2, lvl: 250 });
          assert.equal(state?.levels.lvl, 3);
          // A metric that gained levels after it had points starts from levelFor(previous total).
          await storage.applyAwards("raw", [{ metric: "late", delta: 250, event: pointsEvent("r6", "raw", "late", 250, now) }], now);
          const [late] = await storage.applyAwards("raw", [{ metric: "late", delta: 1, level, event: pointsEvent("r7", "raw", "late", 1, now) }], now);
          assert.deepEqual([late?.previousTotal, late?.previousLevel, late?.level], [250, 3, 3]);
        }));
    });

    describe("input validation", () => {
      const long = "x".repeat(129);
      const badNames: unknown[] = ["", "a b", long, "bad/name", "ümlaut", "tab\t", 42, null, undefined, {}];
      const badAmounts: unknown[] = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, "5", null, undefined];
      const as = <T>(value: unknown) => value as T;

      /** An engine with a reference user whose state and log must survive every bad call. */
      const withReference = (fn: (gk: Gamify, check: () => Promise<void>) => Promise<void>) =>
        withEngine({}, async (gk, storage) => {
          await gk.addPoints("ref", 10);
          await gk.awardBadge("ref", "gold");
          const before = { ref: await snapshot(gk, "ref"), users: await allUsers(storage) };
          await fn(gk, async () => {
            assert.deepEqual({ ref: await snapshot(gk, "ref"), users: await allUsers(storage) }, before, "nothing changed");
          });
        });

      test("invalid user ids are rejected with INVALID_ARGUMENT and change nothing", () =>
        withReference(async (gk, check) => {
          for (const bad of badNames) {
            const id = as<string>(bad);
            const label = `userId ${String(bad)}`;
            await expectGamifyError(() => gk.addPoints(id, 1), "INVALID_ARGUMENT", `addPoints ${label}`);
            await expectGamifyError(() => gk.removePoints(id, 1), "INVALID_ARGUMENT", `removePoints ${label}`);
            await expectGamifyError(() => gk.awardBadge(id, "gold"), "INVALID_ARGUMENT", `awardBadge ${label}`);
            await expectGamifyError(() => gk.revokeBadge(id, "gold"), "INVALID_ARGUMENT", `revokeBadge ${label}`);
            await expectGamifyError(() => gk.track(id, "login"), "INVALID_ARGUMENT", `track ${label}`);
            await expectGamifyError(() => gk.getUser(id), "INVALID_ARGUMENT", `getUser ${label}`);
            await expectGamifyError(() => gk.events(id), "INVALID_ARGUMENT", `events ${label}`);
            await expectGamifyError(() => gk.deleteUser(id), "INVALID_ARGUMENT", `deleteUser ${label}`);
            await expectGamifyError(() => gk.batch([{ userId: id, amount: 1 }]), "INVALID_ARGUMENT", `batch ${label}`);
          }
          await check();
        }));

      test("invalid metric names are rejected with INVALID_ARGUMENT and change nothing", () =>
        withReference(async (gk, check) => {
          // An omitted metric (undefined) means the default metric, so it is not in this list.
          for (const bad of badNames.filter((b) => b !== undefined && b !== null)) {
            const metric = as<string>(bad);
            const label = `metric ${String(bad)}`;
            await expectGamifyError(() => gk.addPoints("ref", 1, { metric }), "INVALID_ARGUMENT", `addPoints ${label}`);
            await expectGamifyError(() => gk.removePoints("ref", 1, { metric }), "INVALID_ARGUMENT", `removePoints ${label}`);
            await expectGamifyError(() => gk.batch([{ userId: "ref", amount: 1, metric }]), "INVALID_ARGUMENT", `batch ${label}`);
          }
          await check();
        }));

      test("invalid badge names are rejected with INVALID_ARGUMENT and change nothing", () =>
        withReference(async (gk, check) => {
          for (const bad of badNames) {
            const badge = as<string>(bad);
            await expectGamifyError(() => gk.awardBadge("ref", badge), "INVALID_ARGUMENT", `awardBadge ${String(bad)}`);
            await expectGamifyError(() => gk.revokeBadge("ref", badge), "INVALID_ARGUMENT", `revokeBadge ${String(bad)}`);
          }
          await check();
        }));

      test("amounts that are not positive safe integers (0, -1, 1.5, NaN, ±Infinity, 2**53, strings) are rejected with INVALID_ARGUMENT and change nothing", () =>
        withReference(async (gk, check) => {
          for (const bad of badAmounts) {
            const amount = as<number>(bad);
            const label = `amount ${String(bad)}`;
            await expectGamifyError(() => gk.addPoints("ref", amount), "INVALID_ARGUMENT", `addPoints ${label}`);
            await expectGamifyError(() => gk.removePoints("ref", amount), "INVALID_ARGUMENT", `removePoints ${label}`);
            await expectGamifyError(() => gk.batch([{ userId: "ref", amount }]), "INVALID_ARGUMENT", `batch ${label}`);
          }
          await check();
        }));

      test("invalid idempotency keys are rejected with INVALID_ARGUMENT and change nothing", () =>
        withReference(async (gk, check) => {
          for (const bad of ["", "a b", long, "key/1", 42, null, {}]) {
            const idempotencyKey = as<string>(bad);
            const label = `idempotencyKey ${String(bad)}`;
            await expectGamifyError(() => gk.addPoints("ref", 1, { idempotencyKey }), "INVALID_ARGUMENT", `addPoints ${label}`);
            await expectGamifyError(() => gk.removePoints("ref", 1, { idempotencyKey }), "INVALID_ARGUMENT", `removePoints ${label}`);
          }
          await check();
        }));

      test("ids, metric and badge names of 128 characters drawn from A-Z a-z 0-9 _ . : @ | - are accepted", () =>
        withEngine({}, async (gk) => {
          const alphabet = "ABCXYZabcxyz0189_.:@|-";
          const name = (seed: number) => range(128).map((i) => alphabet[(i + seed) % alphabet.length]).join("");
          const [userId, metric, badge, key] = [name(0), name(1), name(2), name(3)];
          const r = await gk.addPoints(userId, 1, { metric, idempotencyKey: key });
          assert.equal(r.total, 1);
          assert.equal((await gk.awardBadge(userId, badge)).awarded, true);
          const state = await gk.getUser(userId);
          assert.equal(state?.points[metric], 1);
          assert.ok(state?.badges[badge]);
          assert.equal((await gk.addPoints(userId, 1, { metric, idempotencyKey: key })).replayed, true);
          assert.equal((await allEvents(gk, userId)).length, 2);
        }));
    });

    describe("backdated awards", () => {
      test("an award with `at` last week lands on last week's board and not on this week's", () => {
        const now = Date.now();
        return withEngine({ clock: () => now, leaderboards: [{ metric: "xp", periods: ["week"] }] }, async (gk) => {
          const r = await gk.addPoints("past", 10, { metric: "xp", at: now - WEEK });
          await gk.addPoints("present", 5, { metric: "xp" });
          assert.equal(r.events[0]?.at, now - WEEK, "the event carries the backdated time");
          const thisWeek = gk.leaderboard("xp", { period: "week", at: now });
          const lastWeek = gk.leaderboard("xp", { period: "week", at: now - WEEK });
          assert.equal(await thisWeek.rank("past"), null);
          assert.equal((await thisWeek.rank("present"))?.score, 5);
          assert.equal((await lastWeek.rank("past"))?.score, 10);
          assert.equal(await lastWeek.rank("present"), null);
          const allTime = gk.leaderboard("xp");
          assert.equal((await allTime.rank("past"))?.score, 10);
          assert.equal((await allTime.rank("present"))?.score, 5);
          assert.equal((await gk.getUser("past"))?.points.xp, 10);
        });
      });
    });
  });
}

