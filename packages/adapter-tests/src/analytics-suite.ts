import assert from "node:assert/strict";
import type { AnalyticsBucket, AnalyticsStore, GamifyEvent } from "@gamifykit/core";
import { concurrencyOf, range, suiteTitle, userIds, withCleanup, type SuiteOptions, type SuiteRunner } from "./helpers.js";

/** An instant written as an ISO 8601 string with an explicit offset (`Z`, `-05:00`, …). */
const t = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test date ${iso}`);
  return ms;
};

/** A bucket with metrics that saw no points left out, for comparison. */
function normalise(bucket: AnalyticsBucket) {
  const points: Record<string, { added: number; removed: number }> = {};
  for (const [metric, sums] of Object.entries(bucket.points)) {
    if (sums.added !== 0 || sums.removed !== 0) points[metric] = { added: sums.added, removed: sums.removed };
  }
  return { period: bucket.period, activeUsers: bucket.activeUsers, events: bucket.events, points, badgesAwarded: bucket.badgesAwarded };
}

type Expected = ReturnType<typeof normalise>;
const bucket = (period: string, activeUsers: number, events: number, points: Expected["points"] = {}, badgesAwarded = 0): Expected => ({
  period,
  activeUsers,
  events,
  points,
  badgesAwarded,
});

/**
 * The conformance suite for an {@link AnalyticsStore}. It records hand-made events and reads the
 * day, ISO-week and month buckets back.
 *
 * `factory` is called once per test (sometimes twice, for two time zones) and must return an
 * empty store, isolated from every other one, that buckets by the given IANA time zone.
 */
export function analyticsSuite(
  runner: SuiteRunner,
  factory: (opts: { timeZone: string }) => AnalyticsStore | Promise<AnalyticsStore>,
  options: SuiteOptions = {},
): void {
  const { describe, test } = runner;
  const n = concurrencyOf(options);
  let seq = 0;
  const id = () => `evt-${++seq}`;

  const added = (userId: string, at: number, metric: string, delta: number): GamifyEvent => ({
    id: id(),
    type: "points_added",
    userId,
    at,
    metric,
    delta,
    total: delta,
  });
  const removed = (userId: string, at: number, metric: string, delta: number): GamifyEvent => ({
    id: id(),
    type: "points_removed",
    userId,
    at,
    metric,
    delta,
    total: -delta,
  });
  const badge = (userId: string, at: number, name: string): GamifyEvent => ({ id: id(), type: "badge_awarded", userId, at, badge: name });
  const action = (userId: string, at: number, name: string): GamifyEvent => ({ id: id(), type: "action", userId, at, action: name });

  const withStores = async (timeZones: readonly string[], fn: (...stores: AnalyticsStore[]) => Promise<void>): Promise<void> => {
    const stores: AnalyticsStore[] = [];
    const closeAll = async () => {
      for (const store of stores) await store.close();
    };
    try {
      for (const timeZone of timeZones) stores.push(await factory({ timeZone }));
    } catch (error) {
      await closeAll().catch(() => undefined);
      throw error;
    }
    await withCleanup(stores, closeAll, (s) => fn(...s));
  };
  const withStore = (timeZone: string, fn: (store: AnalyticsStore) => Promise<void>) =>
    withStores([timeZone], (store) => fn(store as AnalyticsStore));

  const recordAll = async (store: AnalyticsStore, events: readonly GamifyEvent[]) => {
    for (const event of events) await store.record(event);
  };
  const aggregate = async (store: AnalyticsStore, granularity: "day" | "week" | "month", from: number, to: number) =>
    (await store.aggregate({ granularity, from, to })).map(normalise);

  describe(suiteTitle("analytics", options), () => {
    test("day buckets count distinct active users, events, points added and removed per metric, and badges", () =>
      withStore("UTC", async (store) => {
        await recordAll(store, [
          added("u1", t("2026-11-24T09:00:00Z"), "xp", 10),
          added("u1", t("2026-11-24T10:00:00Z"), "xp", 5),
          removed("u2", t("2026-11-24T11:00:00Z"), "xp", 3),
          badge("u2", t("2026-11-24T12:00:00Z"), "gold"),
          action("u1", t("2026-11-25T00:00:00Z"), "login"),
          added("u3", t("2026-11-25T23:59:59.999Z"), "coins", 7),
          removed("u3", t("2026-11-25T23:59:59.999Z"), "xp", 2),
          badge("u1", t("2026-11-25T08:00:00Z"), "silver"),
          badge("u3", t("2026-11-25T08:00:00Z"), "gold"),
        ]);
        assert.deepEqual(await aggregate(store, "day", t("2026-11-24T00:00:00Z"), t("2026-11-26T00:00:00Z")), [
          bucket("2026-11-24", 2, 4, { xp: { added: 15, removed: 3 } }, 1),
          bucket("2026-11-25", 2, 5, { coins: { added: 7, removed: 0 }, xp: { added: 0, removed: 2 } }, 2),
        ]);
      }));

    test("week buckets are ISO 8601 weeks (Monday to Sunday) keyed like 2026-W48; month buckets are keyed like 2026-11", () =>
      withStore("UTC", async (store) => {
        await recordAll(store, [
          added("u1", t("2026-11-23T00:00:00Z"), "xp", 1), // Monday, 2026-W48
          added("u2", t("2026-11-29T23:59:59.999Z"), "xp", 2), // Sunday, 2026-W48
          added("u3", t("2026-11-30T00:00:00Z"), "xp", 4), // Monday, 2026-W49
          added("u1", t("2026-12-01T12:00:00Z"), "xp", 8), // 2026-W49, December
        ]);
        assert.deepEqual(await aggregate(store, "week", t("2026-11-23T00:00:00Z"), t("2026-12-07T00:00:00Z")), [
          bucket("2026-W48", 2, 2, { xp: { added: 3, removed: 0 } }),
          bucket("2026-W49", 2, 2, { xp: { added: 12, removed: 0 } }),
        ]);
        assert.deepEqual(await aggregate(store, "month", t("2026-11-01T00:00:00Z"), t("2027-01-01T00:00:00Z")), [
          bucket("2026-11", 3, 3, { xp: { added: 7, removed: 0 } }),
          bucket("2026-12", 1, 1, { xp: { added: 8, removed: 0 } }),
        ]);
      }));

    test("week keys use the ISO week-year: 2027-01-02 falls in 2026-W53 and 2027-01-04 starts 2027-W01", () =>
      withStore("UTC", async (store) => {
        await recordAll(store, [
          action("u1", t("2026-12-31T12:00:00Z"), "login"),
          action("u2", t("2027-01-02T12:00:00Z"), "login"),
          action("u3", t("2027-01-04T00:00:00Z"), "login"),
        ]);
        assert.deepEqual(await aggregate(store, "week", t("2026-12-28T00:00:00Z"), t("2027-01-11T00:00:00Z")), [
          bucket("2026-W53", 2, 2),
          bucket("2027-W01", 1, 1),
        ]);
        assert.deepEqual(await aggregate(store, "month", t("2026-12-01T00:00:00Z"), t("2027-02-01T00:00:00Z")), [
          bucket("2026-12", 1, 1),
          bucket("2027-01", 2, 2),
        ]);
        assert.deepEqual(
          (await aggregate(store, "day", t("2026-12-31T00:00:00Z"), t("2027-01-05T00:00:00Z"))).map((b) => b.period),
          ["2026-12-31", "2027-01-02", "2027-01-04"],
        );
      }));

    test("aggregate returns the buckets intersecting [from, to), oldest first, omitting empty ones", () =>
      withStore("UTC", async (store) => {
        await recordAll(store, [
          action("u1", t("2026-11-25T00:00:00Z"), "login"), // recorded first, returned last
          action("u1", t("2026-11-20T12:00:00Z"), "login"),
          action("u2", t("2026-11-22T12:00:00Z"), "login"),
          action("u3", t("2026-11-22T13:00:00Z"), "login"),
        ]);
        const days = async (from: string, to: string) => (await aggregate(store, "day", t(from), t(to))).map((b) => b.period);
        assert.deepEqual(await days("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"), ["2026-11-20", "2026-11-22", "2026-11-25"]);
        assert.deepEqual(await days("2026-11-22T00:00:00Z", "2026-11-25T00:00:00Z"), ["2026-11-22"], "to is exclusive");
        assert.deepEqual(await days("2026-11-22T12:30:00Z", "2026-11-24T00:00:00Z"), ["2026-11-22"], "a bucket starting before from intersects");
        assert.deepEqual(await days("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"), [], "only empty buckets");
        assert.deepEqual(await days("2026-11-26T00:00:00Z", "2026-11-26T00:00:00Z"), [], "an empty interval");
        assert.deepEqual(
          (await aggregate(store, "month", t("2026-11-15T00:00:00Z"), t("2026-11-16T00:00:00Z"))).map((b) => [b.period, b.events]),
          [["2026-11", 4]],
          "a month intersecting a one-day interval",
        );
      }));

    test("buckets follow the store's time zone: 03:00 UTC is the previous day in America/New_York", () =>
      withStores(["America/New_York", "UTC", "Asia/Tokyo"], async (ny, utc, tokyo) => {
        const events = [
          added("u1", t("2026-11-25T03:00:00Z"), "xp", 1), // NY: Tue 24 Nov 22:00; Tokyo: Wed 25 Nov 12:00
          added("u2", t("2026-11-30T03:00:00Z"), "xp", 2), // NY: Sun 29 Nov (W48); UTC: Mon 30 Nov (W49)
          added("u3", t("2026-12-01T03:00:00Z"), "xp", 4), // NY: 30 Nov (November); UTC: 1 Dec
          added("u4", t("2026-11-24T15:00:00Z"), "xp", 8), // Tokyo: Wed 25 Nov 00:00
        ];
        for (const store of [ny, utc, tokyo] as AnalyticsStore[]) await recordAll(store, events);
        const periods = async (store: AnalyticsStore, granularity: "day" | "week" | "month") =>
          (await aggregate(store, granularity, t("2026-11-01T00:00:00Z"), t("2027-01-01T00:00:00Z"))).map((b) => [b.period, b.activeUsers]);

        assert.deepEqual(await periods(ny as AnalyticsStore, "day"), [
          ["2026-11-24", 2],
          ["2026-11-29", 1],
          ["2026-11-30", 1],
        ]);
        assert.deepEqual(await periods(utc as AnalyticsStore, "day"), [
          ["2026-11-24", 1],
          ["2026-11-25", 1],
          ["2026-11-30", 1],
          ["2026-12-01", 1],
        ]);
        assert.deepEqual(await periods(tokyo as AnalyticsStore, "day"), [
          ["2026-11-25", 2],
          ["2026-11-30", 1],
          ["2026-12-01", 1],
        ]);
        assert.deepEqual(await periods(ny as AnalyticsStore, "week"), [
          ["2026-W48", 3],
          ["2026-W49", 1],
        ]);
        assert.deepEqual(await periods(utc as AnalyticsStore, "week"), [
          ["2026-W48", 2],
          ["2026-W49", 2],
        ]);
        assert.deepEqual(await periods(ny as AnalyticsStore, "month"), [["2026-11", 4]]);
        assert.deepEqual(await periods(utc as AnalyticsStore, "month"), [
          ["2026-11", 3],
          ["2026-12", 1],
        ]);
        // Local day boundaries bound the interval too: [24 Nov 00:00, 25 Nov 00:00) New York time.
        assert.deepEqual(await aggregate(ny as AnalyticsStore, "day", t("2026-11-24T00:00:00-05:00"), t("2026-11-25T00:00:00-05:00")), [
          bucket("2026-11-24", 2, 2, { xp: { added: 9, removed: 0 } }),
        ]);
        assert.equal(await (ny as AnalyticsStore).activeUsers({ granularity: "day", at: t("2026-11-25T03:00:00Z") }), 2);
        assert.equal(await (utc as AnalyticsStore).activeUsers({ granularity: "day", at: t("2026-11-25T03:00:00Z") }), 1);
      }));

    test("the 25-hour day when New York leaves daylight saving time is one bucket", () =>
      withStore("America/New_York", async (store) => {
        await recordAll(store, [
          action("early", t("2026-11-01T00:30:00-04:00"), "login"),
          action("repeat1", t("2026-11-01T01:30:00-04:00"), "login"),
          action("repeat2", t("2026-11-01T01:30:00-05:00"), "login"),
          action("late", t("2026-11-01T23:30:00-05:00"), "login"),
          action("before", t("2026-10-31T23:59:59.999-04:00"), "login"),
          action("after", t("2026-11-02T00:00:00-05:00"), "login"),
        ]);
        assert.deepEqual(
          (await aggregate(store, "day", t("2026-10-31T00:00:00-04:00"), t("2026-11-03T00:00:00-05:00"))).map((b) => [b.period, b.activeUsers]),
          [
            ["2026-10-31", 1],
            ["2026-11-01", 4],
            ["2026-11-02", 1],
          ],
        );
        // 26 Oct (Monday, EDT) to 1 Nov (Sunday, EST) is one ISO week, 2026-W44.
        assert.deepEqual(
          (await aggregate(store, "week", t("2026-10-26T00:00:00-04:00"), t("2026-11-09T00:00:00-05:00"))).map((b) => [b.period, b.activeUsers]),
          [
            ["2026-W44", 5],
            ["2026-W45", 1],
          ],
        );
      }));

    test("activeUsers counts distinct users in the day, week or month containing `at`", () =>
      withStore("UTC", async (store) => {
        await recordAll(store, [
          action("u1", t("2026-11-23T10:00:00Z"), "login"), // Monday
          action("u2", t("2026-11-24T10:00:00Z"), "login"), // Tuesday
          action("u1", t("2026-11-24T11:00:00Z"), "login"),
          action("u1", t("2026-11-24T12:00:00Z"), "share"),
          action("u3", t("2026-12-01T10:00:00Z"), "login"),
        ]);
        const active = (granularity: "day" | "week" | "month", iso: string) => store.activeUsers({ granularity, at: t(iso) });
        assert.equal(await active("day", "2026-11-23T23:00:00Z"), 1);
        assert.equal(await active("day", "2026-11-24T00:00:00Z"), 2);
        assert.equal(await active("day", "2026-11-25T12:00:00Z"), 0);
        assert.equal(await active("week", "2026-11-29T23:59:59.999Z"), 2);
        assert.equal(await active("week", "2026-11-30T00:00:00Z"), 1);
        assert.equal(await active("month", "2026-11-01T00:00:00Z"), 2);
        assert.equal(await active("month", "2026-12-31T23:59:59.999Z"), 1);
        assert.equal(await active("month", "2027-01-01T00:00:00Z"), 0);
      }));

    test(`${n} concurrent records are counted exactly`, () =>
      withStore("UTC", async (store) => {
        const users = userIds("r", Math.min(50, n));
        const base = t("2026-11-25T12:00:00Z");
        let points = 0;
        let badges = 0;
        await Promise.all(
          range(n).map((i) => {
            const userId = users[i % users.length] as string;
            if (i % 10 === 9) {
              badges++;
              return store.record(badge(userId, base + i, `b${i}`));
            }
            points += (i % 7) + 1;
            return store.record(added(userId, base + i, "xp", (i % 7) + 1));
          }),
        );
        const expected = bucket("", users.length, n, points > 0 ? { xp: { added: points, removed: 0 } } : {}, badges);
        for (const [granularity, period] of [
          ["day", "2026-11-25"],
          ["week", "2026-W48"],
          ["month", "2026-11"],
        ] as const) {
          assert.deepEqual(await aggregate(store, granularity, t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z")), [{ ...expected, period }], granularity);
          assert.equal(await store.activeUsers({ granularity, at: base }), users.length, granularity);
        }
      }));

    test("forgetUser drops the user from distinct-user counts but keeps the totals", () =>
      withStore("UTC", async (store) => {
        const at = t("2026-11-25T12:00:00Z");
        await recordAll(store, [added("u1", at, "xp", 5), added("u2", at + 1, "xp", 7), badge("u1", at + 2, "gold")]);
        await store.forgetUser("u1");
        await store.forgetUser("never-seen");
        for (const granularity of ["day", "week", "month"] as const) {
          assert.equal(await store.activeUsers({ granularity, at }), 1, granularity);
        }
        assert.deepEqual(await aggregate(store, "day", t("2026-11-25T00:00:00Z"), t("2026-11-26T00:00:00Z")), [
          bucket("2026-11-25", 1, 3, { xp: { added: 12, removed: 0 } }, 1),
        ]);
        await store.record(action("u1", at + 3, "login"));
        assert.equal(await store.activeUsers({ granularity: "day", at }), 2, "a forgotten user who comes back counts again");
      }));

    test("an empty store aggregates to nothing, and close() is idempotent", async () => {
      const store = await factory({ timeZone: "UTC" });
      try {
        assert.deepEqual(await store.aggregate({ granularity: "day", from: t("2026-11-01T00:00:00Z"), to: t("2026-12-01T00:00:00Z") }), []);
        assert.equal(await store.activeUsers({ granularity: "week", at: t("2026-11-25T00:00:00Z") }), 0);
      } finally {
        await store.close();
        await store.close();
      }
    });
  });
}
