import { GamifyError, planAwards, type AwardOutcome, type AwardRequest, type EventPage, type GamifyEvent, type UserPage, type UserState } from "@gamifykit/core";
import type { StorageRecord } from "./records.js";

interface UserRecord {
  /** Position in the listing order, for stable `listUsers` cursors. */
  readonly seq: number;
  readonly points: Map<string, number>;
  readonly badges: Map<string, number>;
  readonly levels: Map<string, number>;
  readonly claims: Set<string>;
  readonly events: GamifyEvent[];
  readonly idempotency: Map<string, { readonly outcome: AwardOutcome; readonly expiresAt: number }>;
  readonly createdAt: number;
  updatedAt: number;
}

/** A user as stored in the snapshot. */
interface SavedUser {
  readonly seq: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly points: Record<string, number>;
  readonly levels: Record<string, number>;
  readonly badges: Record<string, number>;
  readonly claims: string[];
  readonly events: GamifyEvent[];
  readonly idempotency: [string, number, AwardOutcome][];
}

/** The storage part of a snapshot. */
export interface SavedStorage {
  readonly nextSeq: number;
  readonly users: [string, SavedUser][];
}

/**
 * The in-memory state behind {@link fileStorage}, the same model as core's `memoryStorage()`.
 * Each mutating method is split in two: `plan*` computes the record a call would write (pure, so
 * a call that fails or replays changes nothing), and {@link StorageModel.apply} applies a record,
 * both live and during replay. Everything is synchronous, so the order of records in the log is
 * the order in which they changed the state.
 */
export class StorageModel {
  private users = new Map<string, UserRecord>();
  /** Listing order; deleted users leave holes that listing skips, so cursors stay valid. */
  private order: (string | undefined)[] = [];
  /** The latest award time applied: the store's notion of "now" for expiring idempotency keys. */
  private latest = Number.NEGATIVE_INFINITY;

  constructor(private readonly idempotencyTtlMs: number) {}

  /** Computes the outcomes of an award call and the record that applies them (none when nothing changes). */
  planAwards(userId: string, requests: readonly AwardRequest[], now: number): { outcomes: AwardOutcome[]; record: StorageRecord | undefined } {
    const existing = this.users.get(userId);
    const plan = planAwards(userId, requests, {
      total: (metric) => existing?.points.get(metric),
      level: (metric) => existing?.levels.get(metric),
      replay: (key) => liveKey(existing, key, now),
    });
    // Only replays: nothing to write.
    if (plan.totals.size === 0) return { outcomes: plan.outcomes, record: undefined };
    const expiresAt = now + this.idempotencyTtlMs;
    return {
      outcomes: plan.outcomes,
      record: {
        op: "award",
        userId,
        now,
        points: Object.fromEntries(plan.totals),
        levels: Object.fromEntries(plan.levels),
        events: plan.events,
        idempotency: [...plan.keys].map(([key, outcome]) => [key, expiresAt, outcome] as const),
      },
    };
  }

  /** The badge a user holds, if any. */
  badgeTime(userId: string, badge: string): number | undefined {
    return this.users.get(userId)?.badges.get(badge);
  }

  hasClaim(userId: string, key: string): boolean {
    return this.users.get(userId)?.claims.has(key) ?? false;
  }

  hasUser(userId: string): boolean {
    return this.users.has(userId);
  }

  /** Applies a record: the one code path for live calls and replay. */
  apply(record: StorageRecord): void {
    switch (record.op) {
      case "award": {
        const user = this.user(record.userId, record.now);
        user.updatedAt = record.now;
        this.latest = Math.max(this.latest, record.now);
        for (const [metric, total] of Object.entries(record.points)) user.points.set(metric, total);
        for (const [metric, level] of Object.entries(record.levels)) user.levels.set(metric, level);
        user.events.push(...record.events);
        // Forget this user's expired keys here, where time is the record's: replay does the same.
        for (const [key, entry] of user.idempotency) if (entry.expiresAt <= record.now) user.idempotency.delete(key);
        for (const [key, expiresAt, outcome] of record.idempotency) user.idempotency.set(key, { outcome, expiresAt });
        return;
      }
      case "badge": {
        const user = this.user(record.userId, record.event.at);
        user.badges.set(record.badge, record.event.at);
        user.updatedAt = Math.max(user.updatedAt, record.event.at);
        user.events.push(record.event);
        return;
      }
      case "revoke": {
        const user = this.users.get(record.userId);
        if (!user?.badges.delete(record.badge)) return;
        user.updatedAt = Math.max(user.updatedAt, record.event.at);
        user.events.push(record.event);
        return;
      }
      case "claim":
        this.user(record.userId, record.at).claims.add(record.key);
        return;
      case "events":
        for (const event of record.events) this.user(event.userId, event.at).events.push(event);
        return;
      case "deleteUser": {
        const user = this.users.get(record.userId);
        if (!user) return;
        this.users.delete(record.userId);
        this.order[user.seq] = undefined;
        return;
      }
    }
  }

  getUser(userId: string): UserState | null {
    const user = this.users.get(userId);
    if (!user) return null;
    return {
      userId,
      points: Object.fromEntries(user.points),
      badges: Object.fromEntries([...user.badges].map(([badge, awardedAt]) => [badge, { awardedAt }])),
      levels: Object.fromEntries(user.levels),
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
    };
  }

  readEvents(userId: string, cursor: string | undefined, limit: number): EventPage {
    const events = this.users.get(userId)?.events ?? [];
    const start = cursor === undefined ? 0 : parseCursor(cursor);
    const page = events.slice(start, start + limit);
    const next = start + page.length;
    return { events: page, nextCursor: next < events.length ? String(next) : null };
  }

  countEvents(userId: string, type: string, action: string | undefined, since: number | undefined): number {
    let count = 0;
    for (const event of this.users.get(userId)?.events ?? []) {
      if (event.type !== type) continue;
      if (action !== undefined && (event.type !== "action" || event.action !== action)) continue;
      if (since !== undefined && event.at < since) continue;
      count++;
    }
    return count;
  }

  listUsers(cursor: string | undefined, limit: number): UserPage {
    const userIds: string[] = [];
    let i = cursor === undefined ? 0 : parseCursor(cursor);
    for (; i < this.order.length && userIds.length < limit; i++) {
      const userId = this.order[i];
      if (userId !== undefined) userIds.push(userId);
    }
    return { userIds, nextCursor: i < this.order.length ? String(i) : null };
  }

  /** The state for a snapshot; keys expired as of the latest award are left out. */
  save(): SavedStorage {
    const now = this.latest;
    const users: [string, SavedUser][] = [];
    for (const [userId, u] of this.users) {
      users.push([
        userId,
        {
          seq: u.seq,
          createdAt: u.createdAt,
          updatedAt: u.updatedAt,
          points: Object.fromEntries(u.points),
          levels: Object.fromEntries(u.levels),
          badges: Object.fromEntries(u.badges),
          claims: [...u.claims],
          events: u.events,
          idempotency: [...u.idempotency].filter(([, e]) => e.expiresAt > now).map(([key, e]) => [key, e.expiresAt, e.outcome]),
        },
      ]);
    }
    return { nextSeq: this.order.length, users };
  }

  /** Replaces the state with a snapshot's. */
  load(saved: SavedStorage): void {
    this.users = new Map();
    this.order = new Array<string | undefined>(saved.nextSeq).fill(undefined);
    for (const [userId, u] of saved.users) {
      this.order[u.seq] = userId;
      this.users.set(userId, {
        seq: u.seq,
        createdAt: u.createdAt,
        updatedAt: u.updatedAt,
        points: new Map(Object.entries(u.points)),
        levels: new Map(Object.entries(u.levels)),
        badges: new Map(Object.entries(u.badges)),
        claims: new Set(u.claims),
        events: u.events,
        idempotency: new Map(u.idempotency.map(([key, expiresAt, outcome]) => [key, { outcome, expiresAt }])),
      });
    }
  }

  private user(userId: string, now: number): UserRecord {
    let user = this.users.get(userId);
    if (!user) {
      user = {
        seq: this.order.length,
        points: new Map(),
        badges: new Map(),
        levels: new Map(),
        claims: new Set(),
        events: [],
        idempotency: new Map(),
        createdAt: now,
        updatedAt: now,
      };
      this.order.push(userId);
      this.users.set(userId, user);
    }
    return user;
  }
}

function liveKey(user: UserRecord | undefined, key: string, now: number): AwardOutcome | undefined {
  const entry = user?.idempotency.get(key);
  return entry !== undefined && entry.expiresAt > now ? entry.outcome : undefined;
}

function parseCursor(cursor: string): number {
  const n = Number(cursor);
  if (typeof cursor !== "string" || !/^\d+$/.test(cursor) || !Number.isSafeInteger(n)) {
    throw new GamifyError("INVALID_ARGUMENT", `cursor ${JSON.stringify(cursor)} is not one this storage returned; pass nextCursor from the previous page.`, {
      details: { field: "cursor" },
    });
  }
  return n;
}
