import { GamifyError, checkTimeZone, periodKey, periodKeysBetween, periodRange, type AnalyticsBucket, type AnalyticsStore, type GamifyEvent, type Granularity } from "@gamifykit/core";
import { closedError, createConnection, type Connection } from "./connection.js";
import { analyticsUserKey, bucketKeys } from "./keys.js";
import type { RedisAnalyticsOptions } from "./options.js";
import { aggregateScript, forgetUserScript, recordScript } from "./scripts/analytics.js";

const GRANULARITIES: readonly Granularity[] = ["day", "week", "month"];

/**
 * An {@link AnalyticsStore} on Redis: per day, ISO week and month (in `timeZone`), a set of
 * active user ids (exact distinct counts that `forgetUser` can edit, unlike HyperLogLog) and a
 * hash of counters. `record` is one script call.
 *
 * @example
 * const gk = createGamify({ analytics: redisAnalytics({ url: "redis://localhost:6379", timeZone: "Europe/Berlin" }) });
 */
export function redisAnalytics(options: RedisAnalyticsOptions): AnalyticsStore {
  return createRedisAnalytics(createConnection(options, "redisAnalytics"), options);
}

/** The store on a given connection; {@link redisStores} shares one connection among stores. */
export function createRedisAnalytics(connection: Connection, options: Pick<RedisAnalyticsOptions, "timeZone" | "bucketTtlMs">): AnalyticsStore {
  const timeZone = checkTimeZone(options.timeZone ?? "UTC");
  const { bucketTtlMs } = options;
  if (bucketTtlMs !== undefined && (typeof bucketTtlMs !== "number" || !Number.isSafeInteger(bucketTtlMs) || bucketTtlMs <= 0)) {
    throw new GamifyError("INVALID_ARGUMENT", `bucketTtlMs must be a positive integer; got ${String(bucketTtlMs)}.`, { details: { field: "bucketTtlMs" } });
  }
  const { prefix } = connection;
  let closed = false;
  connection.acquire();

  const open = (): void => {
    if (closed) throw closedError("analytics store");
  };

  return {
    name: "redis",

    async record(event: GamifyEvent) {
      open();
      const keys: string[] = [];
      const ids: string[] = [];
      const expiries: (string | number)[] = [];
      for (const granularity of GRANULARITIES) {
        const period = periodKey(granularity, event.at, timeZone);
        const k = bucketKeys(prefix, granularity, period);
        keys.push(k.users, k.counters);
        ids.push(`${granularity}:${period}`);
        expiries.push(bucketTtlMs === undefined ? "" : periodRange(granularity, period, timeZone).end + bucketTtlMs);
      }
      keys.push(analyticsUserKey(prefix, event.userId));
      const points = event.type === "points_added" || event.type === "points_removed";
      await connection.eval(recordScript, keys, [event.userId, event.type, points ? event.metric : "", points ? event.delta : "", ...ids, ...expiries]);
    },

    async aggregate({ granularity, from, to }): Promise<AnalyticsBucket[]> {
      open();
      const periods = periodKeysBetween(granularity, from, to, timeZone);
      if (periods.length === 0) return [];
      const keys = periods.flatMap((period) => {
        const k = bucketKeys(prefix, granularity, period);
        return [k.users, k.counters];
      });
      const reply = (await connection.eval(aggregateScript, keys, [])) as [string[], number][];
      const buckets: AnalyticsBucket[] = [];
      reply.forEach(([flat, activeUsers], i) => {
        if (flat.length === 0) return; // nothing recorded: omitted, like an empty bucket
        let events = 0;
        let badgesAwarded = 0;
        const points: Record<string, { added: number; removed: number }> = {};
        for (let f = 0; f < flat.length; f += 2) {
          const field = flat[f] as string;
          const value = Number(flat[f + 1]);
          if (field === "e") events = value;
          else if (field === "b") badgesAwarded = value;
          else {
            const metric = field.slice(2);
            const sums = (points[metric] ??= { added: 0, removed: 0 });
            if (field.startsWith("a:")) sums.added = value;
            else if (field.startsWith("r:")) sums.removed = value;
          }
        }
        buckets.push({ period: periods[i] as string, activeUsers, events, points, badgesAwarded });
      });
      return buckets;
    },

    async activeUsers({ granularity, at }) {
      open();
      return connection.run("SCARD", (c) => c.scard(bucketKeys(prefix, granularity, periodKey(granularity, at, timeZone)).users));
    },

    async forgetUser(userId: string) {
      open();
      await connection.eval(forgetUserScript, [analyticsUserKey(prefix, userId)], [userId, connection.scriptPrefix]);
    },

    async close() {
      if (closed) return;
      closed = true;
      await connection.release();
    },
  };
}
