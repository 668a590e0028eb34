import { planAwards } from "../award-math.js";
import { GamifyError } from "../errors.js";
import type { GamifyEvent } from "../events.js";
import type { AwardOutcome, AwardRequest, EventPage, Storage, UserPage, UserState } from "../types.js";

/** Options for {@link memoryStorage}. */
export interface MemoryStorageOptions {
  /** How long an idempotency key is remembered, in milliseconds. Default: 24 hours. */
  idempotencyTtlMs?: number;
}

interface UserRecord {
  /** Position in the listing order, for stable `listUsers` cursors. */
  readonly seq: number;
  readonly points: Map<string, number>;
  // Created on first use: most users never hold a badge, a level, a claim or a key, and an empty
  // Map still costs a few hundred bytes.
  badges?: Map<string, number>;
  levels?: Map<string, number>;
  /** keys claimed with claimOnce */
  claims?: Set<string>;
  readonly events: GamifyEvent[];
  /** idempotency key → outcome and when it expires */
  idempotency?: Map<string, { outcome: AwardOutcome; expiresAt: number }>;
  readonly createdAt: number;
  updatedAt: number;
}

const DAY_MS = 86_400_000;

/**
 * The in-memory {@link Storage}: the default, the reference for the conformance suites, and a
 * good fit for tests and single-process demos. Every method does its work synchronously inside
 * one call, so interleaved async awards never lose an update. Nothing survives a restart.
 *
 * @example
 * const gk = createGamify({ storage: memoryStorage() });
 */
export function memoryStorage(options: MemoryStorageOptions = {}): Storage {
  const ttl = options.idempotencyTtlMs ?? DAY_MS;
  const users = new Map<string, UserRecord>();
  // Listing order; deleted users leave holes that listing skips, so cursors stay valid.
  const order: string[] = [];
  let closed = false;

  const open = (): void => {
    if (closed) throw new GamifyError("CLOSED", "This memory storage was closed; create a new one.");
  };

  const record = (userId: string, now: number): UserRecord => {
    let user = users.get(userId);
    if (!user) {
      user = {
        seq: order.length,
        points: new Map(),
        events: [],
        createdAt: now,
        updatedAt: now,
      };
      order.push(userId);
      users.set(userId, user);
    }
    return user;
  };

  return {
    name: "memory",

    async applyAwards(userId: string, requests: readonly AwardRequest[], now: number): Promise<AwardOutcome[]> {
      open();
      const existing = users.get(userId);
      const plan = planAwards(userId, requests, {
        total: (metric) => existing?.points.get(metric),
        level: (metric) => existing?.levels?.get(metric),
        replay: (key) => liveKey(existing, key, now)?.outcome,
      });
      // A call made only of replays changes nothing, not even updatedAt.
      if (plan.totals.size === 0 && existing) return plan.outcomes;
      const user = existing ?? record(userId, now);
      user.updatedAt = now;
      plan.totals.forEach((total, metric) => user.points.set(metric, total));
      if (plan.levels.size > 0) {
        const levels = (user.levels ??= new Map());
        plan.levels.forEach((level, metric) => levels.set(metric, level));
      }
      user.events.push(...plan.events);
      if (plan.keys.size > 0) {
        // Sweep this user's expired keys now and then, so a busy user's map stays bounded by the TTL.
        const keys = (user.idempotency ??= new Map());
        if (keys.size >= 64) sweepExpired(keys, now);
        plan.keys.forEach((outcome, key) => keys.set(key, { outcome, expiresAt: now + ttl }));
      }
      return plan.outcomes;
    },

    async getUser(userId: string): Promise<UserState | null> {
      open();
      const user = users.get(userId);
      if (!user) return null;
      return {
        userId,
        points: Object.fromEntries(user.points),
        badges: Object.fromEntries([...(user.badges ?? [])].map(([badge, awardedAt]) => [badge, { awardedAt }])),
        levels: Object.fromEntries(user.levels ?? []),
        createdAt: user.createdAt,
        updatedAt: user.updatedAt,
      };
    },

    async awardBadge(userId: string, badge: string, event: GamifyEvent) {
      open();
      const held = users.get(userId)?.badges?.get(badge);
      if (held !== undefined) return { awarded: false, awardedAt: held };
      const user = record(userId, event.at);
      (user.badges ??= new Map()).set(badge, event.at);
      user.updatedAt = Math.max(user.updatedAt, event.at);
      user.events.push(event);
      return { awarded: true, awardedAt: event.at };
    },

    async revokeBadge(userId: string, badge: string, event: GamifyEvent) {
      open();
      const user = users.get(userId);
      if (!user?.badges?.delete(badge)) return false;
      user.updatedAt = Math.max(user.updatedAt, event.at);
      user.events.push(event);
      return true;
    },

    async claimOnce(userId: string, key: string, at: number) {
      open();
      const user = record(userId, at);
      const claims = (user.claims ??= new Set());
      if (claims.has(key)) return false;
      claims.add(key);
      return true;
    },

    async appendEvents(events: readonly GamifyEvent[]) {
      open();
      for (const event of events) record(event.userId, event.at).events.push(event);
    },

    async readEvents(userId: string, { cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<EventPage> {
      open();
      const events = users.get(userId)?.events ?? [];
      const start = cursor === undefined ? 0 : parseCursor(cursor);
      const page = events.slice(start, start + limit);
      const next = start + page.length;
      return { events: page, nextCursor: next < events.length ? String(next) : null };
    },

    async countEvents(userId, { type, action, since }) {
      open();
      let count = 0;
      for (const event of users.get(userId)?.events ?? []) {
        if (event.type !== type) continue;
        if (action !== undefined && (event.type !== "action" || event.action !== action)) continue;
        if (since !== undefined && event.at < since) continue;
        count++;
      }
      return count;
    },

    async deleteUser(userId: string) {
      open();
      return users.delete(userId);
    },

    async listUsers({ cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<UserPage> {
      open();
      const userIds: string[] = [];
      let i = cursor === undefined ? 0 : parseCursor(cursor);
      for (; i < order.length && userIds.length < limit; i++) {
        const userId = order[i] as string;
        if (users.get(userId)?.seq === i) userIds.push(userId);
      }
      return { userIds, nextCursor: i < order.length ? String(i) : null };
    },

    async health() {
      open();
    },

    async close() {
      closed = true;
      users.clear();
      order.length = 0;
    },
  };
}

function sweepExpired(keys: NonNullable<UserRecord["idempotency"]>, now: number): void {
  for (const [key, entry] of keys) if (entry.expiresAt <= now) keys.delete(key);
}

function liveKey(user: UserRecord | undefined, key: string, now: number) {
  const entry = user?.idempotency?.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= now) {
    user?.idempotency?.delete(key);
    return undefined;
  }
  return entry;
}

function parseCursor(cursor: string): number {
  const n = Number(cursor);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new GamifyError("INVALID_ARGUMENT", `cursor ${JSON.stringify(cursor)} is not one this storage returned; pass nextCursor from the previous page.`, {
      details: { field: "cursor" },
    });
  }
  return n;
}
