import { checkTimeZone, periodKey, periodKeysBetween, type AnalyticsBucket, type AnalyticsStore, type GamifyEvent, type Granularity } from "@gamifykit/core";
import { sql } from "kysely";
import { Lifecycle, SqlHandle, num } from "./connection.js";
import { insertIgnore, upsert } from "./dialect.js";
import type { SqlAnalyticsOptions } from "./options.js";

/** In the order rows are locked, the same in every transaction. */
const GRANULARITIES: readonly Granularity[] = ["day", "month", "week"];
/** Period keys per IN list when aggregating a long range. */
const CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * An {@link AnalyticsStore} on PostgreSQL or MySQL/MariaDB. Each event upserts counters in its
 * day, ISO-week and month buckets and records the user in each bucket's set of active users
 * (exact distinct counts), all in one transaction. Buckets are keyed by time zone too, so stores
 * with different zones can share tables without mixing their buckets.
 *
 * @example
 * const analytics = sqlAnalytics({ url: process.env.DATABASE_URL!, timeZone: "Europe/Berlin" });
 */
export function sqlAnalytics(options: SqlAnalyticsOptions): AnalyticsStore {
  const timeZone = checkTimeZone(options.timeZone ?? "UTC");
  return createSqlAnalytics(new SqlHandle(options), timeZone);
}

/** Builds the store on a shared handle (used by {@link sqlStores}). */
export function createSqlAnalytics(handle: SqlHandle, timeZone: string): AnalyticsStore {
  const { dialect, tables: t } = handle;
  const life = new Lifecycle(handle, "analytics store");

  return {
    name: `sql-${dialect}`,

    async record(event: GamifyEvent): Promise<void> {
      life.check();
      const keys = GRANULARITIES.map((granularity) => ({ zone: timeZone, granularity, period: periodKey(granularity, event.at, timeZone) }));
      const badge = event.type === "badge_awarded" ? 1 : 0;
      await handle.transaction("analytics record", async (trx) => {
        await upsert(
          dialect,
          t.analyticsBuckets,
          trx.insertInto(t.analyticsBuckets).values(keys.map((k) => ({ ...k, events: 1, badges: badge }))),
          ["zone", "granularity", "period"],
          (incoming, stored) => ({
            events: sql`${stored("events")} + ${incoming("events")}`,
            badges: sql`${stored("badges")} + ${incoming("badges")}`,
          }),
        ).execute();
        if (event.type === "points_added" || event.type === "points_removed") {
          const added = event.type === "points_added" ? event.delta : 0;
          const removed = event.type === "points_removed" ? event.delta : 0;
          await upsert(
            dialect,
            t.analyticsPoints,
            trx.insertInto(t.analyticsPoints).values(keys.map((k) => ({ ...k, metric: event.metric, added, removed }))),
            ["zone", "granularity", "period", "metric"],
            (incoming, stored) => ({
              added: sql`${stored("added")} + ${incoming("added")}`,
              removed: sql`${stored("removed")} + ${incoming("removed")}`,
            }),
          ).execute();
        }
        await insertIgnore(dialect, trx.insertInto(t.analyticsUsers).values(keys.map((k) => ({ ...k, user_id: event.userId })))).execute();
      });
    },

    async aggregate({ granularity, from, to }): Promise<AnalyticsBucket[]> {
      life.check();
      const keys = periodKeysBetween(granularity, from, to, timeZone);
      if (keys.length === 0) return [];
      return handle.run("analytics aggregate", async (db) => {
        const buckets = new Map<string, { events: number; badges: number }>();
        const points = new Map<string, Record<string, { added: number; removed: number }>>();
        const active = new Map<string, number>();
        for (const part of chunks(keys, CHUNK)) {
          const scope = { zone: timeZone, granularity };
          const rows = await db
            .selectFrom(t.analyticsBuckets)
            .select(["period", "events", "badges"])
            .where("zone", "=", scope.zone)
            .where("granularity", "=", scope.granularity)
            .where("period", "in", part)
            .execute();
          if (rows.length === 0) continue;
          for (const row of rows) buckets.set(String(row.period), { events: num(row.events), badges: num(row.badges) });
          const sums = await db
            .selectFrom(t.analyticsPoints)
            .select(["period", "metric", "added", "removed"])
            .where("zone", "=", scope.zone)
            .where("granularity", "=", scope.granularity)
            .where("period", "in", part)
            .execute();
          for (const row of sums) {
            const period = String(row.period);
            const byMetric = points.get(period) ?? {};
            byMetric[String(row.metric)] = { added: num(row.added), removed: num(row.removed) };
            points.set(period, byMetric);
          }
          const users = await db
            .selectFrom(t.analyticsUsers)
            .select(["period", (eb) => eb.fn.countAll().as("n")])
            .where("zone", "=", scope.zone)
            .where("granularity", "=", scope.granularity)
            .where("period", "in", part)
            .groupBy("period")
            .execute();
          for (const row of users) active.set(String(row.period), num(row.n));
        }
        const result: AnalyticsBucket[] = [];
        for (const period of keys) {
          const bucket = buckets.get(period);
          if (bucket === undefined) continue;
          result.push({ period, activeUsers: active.get(period) ?? 0, events: bucket.events, badgesAwarded: bucket.badges, points: points.get(period) ?? {} });
        }
        return result;
      });
    },

    async activeUsers({ granularity, at }): Promise<number> {
      life.check();
      const period = periodKey(granularity, at, timeZone);
      return handle.run("analytics activeUsers", async (db) => {
        const row = await db
          .selectFrom(t.analyticsUsers)
          .select((eb) => eb.fn.countAll().as("n"))
          .where("zone", "=", timeZone)
          .where("granularity", "=", granularity)
          .where("period", "=", period)
          .executeTakeFirst();
        return num(row?.n);
      });
    },

    async forgetUser(userId: string): Promise<void> {
      life.check();
      await handle.run("analytics forgetUser", (db) => db.deleteFrom(t.analyticsUsers).where("user_id", "=", userId).execute());
    },

    async close(): Promise<void> {
      await life.close();
    },
  };
}
