import type { LeaderboardPeriod } from "./types.js";

/** Fields every event carries. */
export interface EventBase<T extends string> {
  /** Unique id (a UUID, or derived from the award that caused it). */
  readonly id: string;
  readonly type: T;
  readonly userId: string;
  /** When it happened, epoch milliseconds (backdated awards carry their `at`). */
  readonly at: number;
}

/** Why an award happened, as given by the caller. */
export interface AwardContext {
  readonly reason?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Set when a rule caused the award. */
  readonly ruleId?: string;
}

export interface PointsAddedEvent extends EventBase<"points_added">, AwardContext {
  readonly metric: string;
  /** Points added (positive). */
  readonly delta: number;
  readonly total: number;
  /** The leaderboard scopes (teams, groups, tenants) the award counted toward; absent when none. */
  readonly scopes?: readonly string[];
}

export interface PointsRemovedEvent extends EventBase<"points_removed">, AwardContext {
  readonly metric: string;
  /** Points actually removed (positive; less than asked when a floor clamped it). */
  readonly delta: number;
  readonly total: number;
  /** The leaderboard scopes the deduction counted toward; absent when none. */
  readonly scopes?: readonly string[];
}

export interface BadgeAwardedEvent extends EventBase<"badge_awarded">, AwardContext {
  readonly badge: string;
}

export interface BadgeRevokedEvent extends EventBase<"badge_revoked">, AwardContext {
  readonly badge: string;
}

export interface LevelUpEvent extends EventBase<"level_up"> {
  readonly metric: string;
  /** The level reached. A jump over several levels emits one event per level, in order. */
  readonly level: number;
  readonly previousLevel: number;
}

export interface LevelDownEvent extends EventBase<"level_down"> {
  readonly metric: string;
  readonly level: number;
  readonly previousLevel: number;
}

/** Something the user did, recorded with `gk.track()`; rules can count these. */
export interface ActionEvent extends EventBase<"action"> {
  readonly action: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The user and everything stored about them were removed. */
export type UserDeletedEvent = EventBase<"user_deleted">;

/** Where a leaderboard event happened: one board of a metric. */
export interface BoardRef {
  readonly metric: string;
  /** `all`, `day`, `week`, `month` or `season`. */
  readonly period: LeaderboardPeriod;
  /** The period's key: `all`, `2026-11-25`, `2026-W48`, `2026-11`, or a season id. */
  readonly key: string;
  /** The scope (team, group, tenant) of a scoped board; absent for the metric's main board. */
  readonly scope?: string;
  /** The board's id in the leaderboard store, e.g. `xp/week/2026-W48` or `xp/week/2026-W48/team-7`. */
  readonly board: string;
}

/**
 * A period board closed (its end plus the configured `finishAfter` passed) and its standings are
 * final. Emitted once per board across every engine sharing the storage (claimed through
 * `Storage.claimOnce`), and appended to the log of the reserved user {@link LEADERBOARD_USER_ID}.
 * `userId` is that reserved id; the winners are in `winners`.
 */
export interface LeaderboardFinishedEvent extends EventBase<"leaderboard_finished">, BoardRef {
  /** The period's bounds, epoch ms, `[start, end)`. */
  readonly start: number;
  readonly end: number;
  /** The best entries (up to the configured `winners`), ranked by the board's mode. */
  readonly winners: readonly { readonly userId: string; readonly score: number; readonly rank: number }[];
  /** Users on the board when it finished. */
  readonly count: number;
}

/**
 * A user's rank on a watched board (`watch: { top: N }`) changed: they entered the top N, left it,
 * or moved within it, by their own award or because another user's award displaced them. Emitted
 * to listeners only (not stored in the user's log).
 */
export interface LeaderboardRankChangedEvent extends EventBase<"leaderboard_rank_changed">, BoardRef {
  /** The new rank, or null when the user left the top N. */
  readonly rank: number | null;
  /** The rank before, or null when the user was not in the top N. */
  readonly previousRank: number | null;
  /** The user's score on the board now. */
  readonly score: number;
  /** The watched N. */
  readonly top: number;
  /** The user whose award caused the change (equal to `userId` for their own awards). */
  readonly causedBy: string;
}

/**
 * The reserved user id that owns board-level events (`leaderboard_finished`) and the claims that
 * make them happen once. It contains `#`, which user ids cannot, so it never collides with a user.
 */
export const LEADERBOARD_USER_ID = "#leaderboards";

/** Every event the engine emits, keyed by type. */
export interface GamifyEventMap {
  points_added: PointsAddedEvent;
  points_removed: PointsRemovedEvent;
  badge_awarded: BadgeAwardedEvent;
  badge_revoked: BadgeRevokedEvent;
  level_up: LevelUpEvent;
  level_down: LevelDownEvent;
  action: ActionEvent;
  user_deleted: UserDeletedEvent;
  leaderboard_finished: LeaderboardFinishedEvent;
  leaderboard_rank_changed: LeaderboardRankChangedEvent;
}

export type GamifyEventType = keyof GamifyEventMap;
export type GamifyEvent = GamifyEventMap[GamifyEventType];

/** All event types, in a stable order. */
export const EVENT_TYPES: readonly GamifyEventType[] = [
  "points_added",
  "points_removed",
  "badge_awarded",
  "badge_revoked",
  "level_up",
  "level_down",
  "action",
  "user_deleted",
  "leaderboard_finished",
  "leaderboard_rank_changed",
];

/** Reported on the `error` channel when a listener throws or a background task fails. */
export interface ListenerErrorEvent {
  readonly error: unknown;
  /** The event being delivered when the listener threw, if any. */
  readonly event?: GamifyEvent;
}
