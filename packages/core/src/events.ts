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
}

export interface PointsRemovedEvent extends EventBase<"points_removed">, AwardContext {
  readonly metric: string;
  /** Points actually removed (positive; less than asked when a floor clamped it). */
  readonly delta: number;
  readonly total: number;
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
];

/** Reported on the `error` channel when a listener throws or a background task fails. */
export interface ListenerErrorEvent {
  readonly error: unknown;
  /** The event being delivered when the listener threw, if any. */
  readonly event?: GamifyEvent;
}
