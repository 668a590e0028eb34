import { periodKey, periodKeysBetween, type AnalyticsBucket, type GamifyEvent, type Granularity } from "@gamifykit/core";
import type { AnalyticsRecord } from "./records.js";

interface Bucket {
  readonly users: Set<string>;
  events: number;
  badgesAwarded: number;
  readonly points: Map<string, { added: number; removed: number }>;
}

interface SavedBucket {
  readonly users: string[];
  readonly events: number;
  readonly badgesAwarded: number;
  readonly points: Record<string, { added: number; removed: number }>;
}

/** The analytics part of a snapshot. */
export interface SavedAnalytics {
  readonly timeZone: string;
  readonly day: [string, SavedBucket][];
  readonly week: [string, SavedBucket][];
  readonly month: [string, SavedBucket][];
}

const GRANULARITIES = ["day", "week", "month"] as const;

/** Buckets kept per granularity, as in core's memoryAnalytics; the oldest is dropped past it. */
const MAX_BUCKETS = 400;

/**
 * The in-memory state behind {@link fileAnalytics}: the same buckets as core's
 * `memoryAnalytics()`. Records carry their bucket keys, so replay never recomputes periods.
 */
export class AnalyticsModel {
  private buckets = new Map<Granularity, Map<string, Bucket>>(GRANULARITIES.map((g) => [g, new Map()]));

  constructor(readonly timeZone: string) {}

  /** The record for an event; throws INVALID_ARGUMENT (from periodKey) for a bad `at`. */
  plan(event: GamifyEvent): AnalyticsRecord {
    const keys = [periodKey("day", event.at, this.timeZone), periodKey("week", event.at, this.timeZone), periodKey("month", event.at, this.timeZone)] as const;
    if (event.type === "points_added" || event.type === "points_removed") {
      return { op: "analytics.record", userId: event.userId, keys, type: event.type, metric: event.metric, delta: event.delta };
    }
    return { op: "analytics.record", userId: event.userId, keys, type: event.type };
  }

  apply(record: AnalyticsRecord): void {
    if (record.op === "analytics.forget") {
      for (const byKey of this.buckets.values()) for (const bucket of byKey.values()) bucket.users.delete(record.userId);
      return;
    }
    GRANULARITIES.forEach((granularity, i) => {
      const bucket = this.bucketFor(granularity, record.keys[i] as string);
      bucket.users.add(record.userId);
      bucket.events++;
      if (record.type === "badge_awarded") bucket.badgesAwarded++;
      if (record.metric !== undefined && record.delta !== undefined) {
        let sums = bucket.points.get(record.metric);
        if (!sums) bucket.points.set(record.metric, (sums = { added: 0, removed: 0 }));
        if (record.type === "points_added") sums.added += record.delta;
        else sums.removed += record.delta;
      }
    });
  }

  aggregate(granularity: Granularity, from: number, to: number): AnalyticsBucket[] {
    const byKey = this.byKey(granularity);
    const result: AnalyticsBucket[] = [];
    for (const key of periodKeysBetween(granularity, from, to, this.timeZone)) {
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
  }

  activeUsers(granularity: Granularity, at: number): number {
    const key = periodKey(granularity, at, this.timeZone);
    return this.buckets.get(granularity)?.get(key)?.users.size ?? 0;
  }

  isEmpty(): boolean {
    return [...this.buckets.values()].every((byKey) => byKey.size === 0);
  }

  save(): SavedAnalytics {
    const saved = (granularity: Granularity): [string, SavedBucket][] =>
      [...this.byKey(granularity)].map(([key, b]) => [
        key,
        { users: [...b.users], events: b.events, badgesAwarded: b.badgesAwarded, points: Object.fromEntries(b.points) },
      ]);
    return { timeZone: this.timeZone, day: saved("day"), week: saved("week"), month: saved("month") };
  }

  load(saved: SavedAnalytics): void {
    for (const granularity of GRANULARITIES) {
      this.buckets.set(
        granularity,
        new Map(
          saved[granularity].map(([key, b]) => [
            key,
            {
              users: new Set(b.users),
              events: b.events,
              badgesAwarded: b.badgesAwarded,
              points: new Map(Object.entries(b.points).map(([metric, sums]) => [metric, { ...sums }])),
            },
          ]),
        ),
      );
    }
  }

  private byKey(granularity: Granularity): Map<string, Bucket> {
    return this.buckets.get(granularity) as Map<string, Bucket>;
  }

  private bucketFor(granularity: Granularity, key: string): Bucket {
    const byKey = this.byKey(granularity);
    let bucket = byKey.get(key);
    if (!bucket) {
      bucket = { users: new Set(), events: 0, badgesAwarded: 0, points: new Map() };
      byKey.set(key, bucket);
      if (byKey.size > MAX_BUCKETS) {
        // Keys sort chronologically as strings (YYYY-MM-DD, YYYY-Www, YYYY-MM).
        let oldest = key;
        for (const k of byKey.keys()) if (k < oldest) oldest = k;
        byKey.delete(oldest);
      }
    }
    return bucket;
  }
}
