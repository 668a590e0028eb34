import { GamifyError } from "../errors.js";
import type { GamifyEvent } from "../events.js";
import { checkTimeZone, periodKey, periodKeysBetween } from "../periods.js";
import type { AnalyticsBucket, AnalyticsStore, Granularity } from "../types.js";

/** Options for {@link memoryAnalytics}. */
export interface MemoryAnalyticsOptions {
  /** IANA time zone for bucket boundaries. Default `UTC`. */
  timeZone?: string;
  /** Buckets kept per granularity; the oldest is dropped past it. Default 400. */
  maxBuckets?: number;
}

interface Bucket {
  readonly users: Set<string>;
  events: number;
  badgesAwarded: number;
  readonly points: Map<string, { added: number; removed: number }>;
}

const GRANULARITIES: readonly Granularity[] = ["day", "week", "month"];

/**
 * In-memory {@link AnalyticsStore}: per-day, ISO-week and month buckets of active users, points
 * and badges. Memory grows with distinct users per bucket; `maxBuckets` bounds the history.
 */
export function memoryAnalytics(options: MemoryAnalyticsOptions = {}): AnalyticsStore {
  const timeZone = checkTimeZone(options.timeZone ?? "UTC");
  const maxBuckets = options.maxBuckets ?? 400;
  const buckets = new Map<Granularity, Map<string, Bucket>>(GRANULARITIES.map((g) => [g, new Map()]));
  let closed = false;

  const open = (): void => {
    if (closed) throw new GamifyError("CLOSED", "This memory analytics store was closed; create a new one.");
  };

  const bucketFor = (granularity: Granularity, key: string): Bucket => {
    const byKey = buckets.get(granularity) as Map<string, Bucket>;
    let bucket = byKey.get(key);
    if (!bucket) {
      bucket = { users: new Set(), events: 0, badgesAwarded: 0, points: new Map() };
      byKey.set(key, bucket);
      if (byKey.size > maxBuckets) {
        // Keys sort chronologically as strings (YYYY-MM-DD, YYYY-Www, YYYY-MM).
        let oldest = key;
        for (const k of byKey.keys()) if (k < oldest) oldest = k;
        byKey.delete(oldest);
      }
    }
    return bucket;
  };

  return {
    name: "memory",

    async record(event: GamifyEvent) {
      open();
      for (const granularity of GRANULARITIES) {
        const bucket = bucketFor(granularity, periodKey(granularity, event.at, timeZone));
        bucket.users.add(event.userId);
        bucket.events++;
        if (event.type === "badge_awarded") bucket.badgesAwarded++;
        if (event.type === "points_added" || event.type === "points_removed") {
          let sums = bucket.points.get(event.metric);
          if (!sums) bucket.points.set(event.metric, (sums = { added: 0, removed: 0 }));
          if (event.type === "points_added") sums.added += event.delta;
          else sums.removed += event.delta;
        }
      }
    },

    async aggregate({ granularity, from, to }): Promise<AnalyticsBucket[]> {
      open();
      const byKey = buckets.get(granularity) as Map<string, Bucket>;
      const result: AnalyticsBucket[] = [];
      for (const key of periodKeysBetween(granularity, from, to, timeZone)) {
        const bucket = byKey.get(key);
        if (!bucket) continue;
        result.push({
          period: key,
          activeUsers: bucket.users.size,
          events: bucket.events,
          badgesAwarded: bucket.badgesAwarded,
          points: Object.fromEntries([...bucket.points].map(([metric, sums]) => [metric, { ...sums }])),
        });
      }
      return result;
    },

    async activeUsers({ granularity, at }) {
      open();
      const key = periodKey(granularity, at, timeZone); // validates the granularity first
      return buckets.get(granularity)?.get(key)?.users.size ?? 0;
    },

    async forgetUser(userId: string) {
      open();
      for (const byKey of buckets.values()) for (const bucket of byKey.values()) bucket.users.delete(userId);
    },

    async close() {
      closed = true;
      buckets.clear();
    },
  };
}
