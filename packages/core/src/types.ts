import type { GamifyEvent } from "./events.js";

/** A leaderboard period. `all` is all-time. */
export type Period = "all" | "day" | "week" | "month";

/** A leaderboard's period: a calendar period, or `season` (the configured custom periods). */
export type LeaderboardPeriod = Period | "season";

/** The periods, in a stable order. */
export const PERIODS: readonly Period[] = ["all", "day", "week", "month"];

/**
 * How ties are numbered.
 * - `standard`: 1, 2, 2, 4 (competition ranking)
 * - `dense`: 1, 2, 2, 3
 * - `ordinal`: 1, 2, 3, 4; among equal scores, the user who reached the score first ranks first.
 */
export type RankMode = "standard" | "dense" | "ordinal";

/** A badge a user holds. */
export interface BadgeState {
  readonly awardedAt: number;
}

/** Everything stored about a user. */
export interface UserState {
  readonly userId: string;
  readonly points: Readonly<Record<string, number>>;
  readonly badges: Readonly<Record<string, BadgeState>>;
  readonly levels: Readonly<Record<string, number>>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** How a storage computes a metric's level inside an award. */
export interface LevelPolicy {
  /** The level for a total; non-decreasing in `points`, at least 1. */
  levelFor(points: number): number;
  /**
   * The fewest points for a level (1 → 0; Infinity past the curve's last level). Adapters that
   * cannot run JavaScript inside their atomic step (Redis) precompute the thresholds from it.
   */
  pointsFor(level: number): number;
  /** When true, the level follows the total down after deductions; otherwise it never decreases. */
  readonly followDown: boolean;
}

/** One change to one user's metric, as the engine hands it to a {@link Storage}. */
export interface AwardRequest {
  readonly metric: string;
  /** Signed, non-zero, safe integer. */
  readonly delta: number;
  /** The lowest total a deduction may leave; a deduction past it is clamped to it. */
  readonly floor?: number;
  /** Present when the metric has levels: the storage sets the level in the same atomic step. */
  readonly level?: LevelPolicy;
  /** Applied once; later requests with the same key return the first outcome with `replayed: true`. */
  readonly idempotencyKey?: string;
  /**
   * The points event the engine built for this award. The storage appends it to the user's event
   * log in the same atomic step, with `delta` and `total` replaced by the applied values (unless
   * the applied delta is 0), followed by the award's level events (core's `levelEvents`).
   */
  readonly event: GamifyEvent & { readonly type: "points_added" | "points_removed" };
  /**
   * Present only for a storage that declares {@link Storage.leaderboards} and is used with that
   * store: the boards to add the applied delta to, in the same atomic step as the award.
   */
  readonly boards?: readonly BoardUpdate[];
}

/** A board an award moves, and when a finished period's board may be dropped. */
export interface BoardUpdate {
  readonly board: string;
  readonly expiresAt?: number | undefined;
}

/** What a storage did with one {@link AwardRequest}. */
export interface AwardOutcome {
  readonly replayed: boolean;
  /** The applied change (differs from the request when a floor clamped it). */
  readonly delta: number;
  readonly previousTotal: number;
  readonly total: number;
  /** Level before and after; both equal 0 for a metric without levels. */
  readonly previousLevel: number;
  readonly level: number;
  /** The points event as stored (for a replay: the first call's event). */
  readonly event: GamifyEvent & { readonly type: "points_added" | "points_removed" };
}

/** A page of a user's event log, oldest first. */
export interface EventPage {
  readonly events: readonly GamifyEvent[];
  /** Pass as `cursor` to read the next page; null at the end. */
  readonly nextCursor: string | null;
}

/** A page of user ids. */
export interface UserPage {
  readonly userIds: readonly string[];
  readonly nextCursor: string | null;
}

/**
 * Where user state lives. Implementations make each method atomic: concurrent calls from
 * any number of engine instances never lose an update.
 */
export interface Storage {
  /** Short name for logs and errors, e.g. `memory`, `redis`. */
  readonly name: string;
  /**
   * A leaderboard store this storage updates inside `applyAwards` itself (e.g. Redis, in the same
   * script). When the engine's leaderboard store is this object, the engine passes
   * `AwardRequest.boards` and does not call `increment` for awards.
   */
  readonly leaderboards?: LeaderboardStore;
  /**
   * Applies awards to one user atomically: all of them, or (when one fails, e.g. it would leave
   * the safe-integer range) none. Requests whose idempotency key was seen before are replayed.
   * Throws `OUT_OF_RANGE` when a total would leave the safe-integer range.
   */
  applyAwards(userId: string, requests: readonly AwardRequest[], now: number): Promise<AwardOutcome[]>;
  /** The user's state, or null when the user has never been seen (or was deleted). */
  getUser(userId: string): Promise<UserState | null>;
  /**
   * Gives a badge once. Returns `awarded: false` (and the original time) when the user already
   * holds it. On award, appends `event` to the user's log in the same atomic step.
   */
  awardBadge(userId: string, badge: string, event: GamifyEvent): Promise<{ awarded: boolean; awardedAt: number }>;
  /** Takes a badge away; false when the user did not hold it. Appends `event` when it did. */
  revokeBadge(userId: string, badge: string, event: GamifyEvent): Promise<boolean>;
  /**
   * Records that `key` happened for the user, once: true the first time, false ever after
   * (until the user is deleted). Rules use it to fire once per user, also under concurrency.
   */
  claimOnce(userId: string, key: string, at: number): Promise<boolean>;
  /** Appends events to their users' logs (in order). */
  appendEvents(events: readonly GamifyEvent[]): Promise<void>;
  /** Reads a user's log, oldest first. */
  readEvents(userId: string, options: { cursor?: string | undefined; limit: number }): Promise<EventPage>;
  /** Counts a user's events of a type (for `action` events: of that action name) in `[since, now]`. */
  countEvents(userId: string, options: { type: string; action?: string | undefined; since?: number | undefined }): Promise<number>;
  /** Removes the user's state, badges, event log and idempotency records. False when unknown. */
  deleteUser(userId: string): Promise<boolean>;
  /** Lists user ids in a stable order, for backfills. */
  listUsers(options: { cursor?: string | undefined; limit: number }): Promise<UserPage>;
  /** Resolves when the storage can serve requests; throws `STORAGE_UNAVAILABLE` otherwise. */
  health(): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

/** One row of a leaderboard. */
export interface RankedEntry {
  readonly userId: string;
  readonly score: number;
  /** 1-based, numbered by the requested {@link RankMode}. */
  readonly rank: number;
}

/** Where leaderboards live. A board is an opaque id the engine derives from metric and period. */
export interface LeaderboardStore {
  readonly name: string;
  /**
   * Adds `delta` to the user's score on each board, atomically per board, and returns the new
   * scores in the same order. A user's tie-break time is the moment their score last changed.
   * `expiresAt` lets a store drop a finished period's board after that time.
   */
  increment(
    updates: readonly { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }[],
    userId: string,
  ): Promise<number[]>;
  /** Sets the user's score on a board. */
  set(board: string, userId: string, score: number): Promise<void>;
  /** Removes the user from a board; false when absent. */
  remove(board: string, userId: string): Promise<boolean>;
  /** Removes the user from every board. */
  removeUser(userId: string): Promise<void>;
  /** Entries ordered best first, skipping `offset`. */
  top(board: string, options: { offset: number; limit: number; mode: RankMode }): Promise<RankedEntry[]>;
  /** The user's entry, or null when the user is not on the board. */
  rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null>;
  /**
   * Up to `2 * radius + 1` entries centred on the user; at the top or bottom of the board the
   * window shifts so it stays full when the board has enough entries. Empty when the user is absent.
   */
  around(board: string, userId: string, options: { radius: number; mode: RankMode }): Promise<RankedEntry[]>;
  /** Number of users on the board. */
  count(board: string): Promise<number>;
  /** Number of users with a score strictly greater than `score`, and with exactly `score`. */
  countAround(board: string, score: number): Promise<{ above: number; equal: number }>;
  health(): Promise<void>;
  close(): Promise<void>;
}

/** A time bucket for analytics. */
export type Granularity = "day" | "week" | "month";

/** Aggregated activity in one bucket. */
export interface AnalyticsBucket {
  /** Bucket key: `2026-11-25`, `2026-W48` or `2026-11`. */
  readonly period: string;
  /** Distinct users with at least one event in the bucket. */
  readonly activeUsers: number;
  /** Number of events recorded. */
  readonly events: number;
  /** Points added and removed per metric. */
  readonly points: Readonly<Record<string, { readonly added: number; readonly removed: number }>>;
  /** Badges awarded. */
  readonly badgesAwarded: number;
}

/** Where analytics live. */
export interface AnalyticsStore {
  readonly name: string;
  /** Records an event in its day, week and month buckets (in the store's time zone). */
  record(event: GamifyEvent): Promise<void>;
  /** Buckets of one granularity whose period intersects `[from, to)`, oldest first; empty buckets are omitted. */
  aggregate(options: { granularity: Granularity; from: number; to: number }): Promise<AnalyticsBucket[]>;
  /** Distinct active users in the bucket containing `at`. */
  activeUsers(options: { granularity: Granularity; at: number }): Promise<number>;
  /** Forgets a user's contribution to distinct-user counts (totals already aggregated stay). */
  forgetUser(userId: string): Promise<void>;
  close(): Promise<void>;
}
