import type { LevelDefinition } from "./levels.js";
import type { Rule } from "./rules.js";
import type { AnalyticsStore, LeaderboardPeriod, LeaderboardStore, Period, RankMode, Storage } from "./types.js";

/** Per-metric behaviour. */
export interface MetricOptions {
  /** The lowest total a deduction can leave (e.g. 0 for coins); deductions past it are clamped. */
  floor?: number;
  /** When true, levels drop with the total after deductions (emitting `level_down`). Default false. */
  levelsFollowDown?: boolean;
}

/**
 * A custom period with fixed bounds, e.g. a competition season. Its board id is
 * `<metric>/season/<id>`; awards whose `at` falls in `[start, end)` count toward it.
 */
export interface SeasonConfig {
  /** 1-32 characters from A-Z a-z 0-9 _ - . ; the season's key (`at: "<id>"` reads its board). */
  id: string;
  /**
   * First instant: a date `"2026-09-01"` (00:00 of that day in the leaderboard's `timeZone`),
   * epoch milliseconds or a Date.
   */
  start: string | number | Date;
  /** End, exclusive, in the same forms as `start`. */
  end: string | number | Date;
}

/** Which boards to keep for a metric. An all-time board is always kept. */
export interface LeaderboardConfig {
  metric: string;
  /** Default `["all"]`. */
  periods?: readonly Period[];
  /** Custom periods with fixed bounds (non-overlapping); queried with `period: "season"`. */
  seasons?: readonly SeasonConfig[];
  /** IANA zone for day/week/month boundaries and season dates. Default `UTC`. */
  timeZone?: string;
  /** Default ranking mode for queries. Default `standard`. */
  mode?: RankMode;
  /**
   * Milliseconds after a period's end when the period is finished: its boards stop taking
   * (backdated) awards and one `leaderboard_finished` event announces the winners. Omit to never
   * finish periods (boards keep taking backdated awards until they expire, and no event is sent).
   */
  finishAfter?: number;
  /** How many top entries `leaderboard_finished` carries. Default 3; needs `finishAfter`. */
  winners?: number;
  /**
   * How long a finished period's boards stay readable, in ms after the period's end plus
   * `finishAfter`, or `"forever"` (the boards never expire). Default 30 days.
   */
  keepFinishedFor?: number | "forever";
  /**
   * Emit `leaderboard_rank_changed` for users entering, leaving or moving within the top `top`
   * of this metric's boards (all periods, or only `periods`; scoped boards included). Costs one
   * board read per watched board an award moves.
   */
  watch?: { top: number; periods?: readonly LeaderboardPeriod[] };
}

/** When the engine looks for finished periods; see {@link GamifyOptions.finishLeaderboards}. */
export type FinishMode = "lazy" | "manual" | { readonly intervalMs: number };

/** Options for {@link createGamify}. Every field is optional. */
export interface GamifyOptions {
  /** Where user state lives. Default: `memoryStorage()`. */
  storage?: Storage;
  /** Where leaderboards live. Default: the storage's own `leaderboards`, else `memoryLeaderboards()`. */
  leaderboardStore?: LeaderboardStore;
  /** Where analytics live, or `false` to record none. Default: `memoryAnalytics()` in UTC. */
  analytics?: AnalyticsStore | false;
  /** Level curves per metric. */
  levels?: Readonly<Record<string, LevelDefinition>>;
  /** Per-metric options. */
  metrics?: Readonly<Record<string, MetricOptions>>;
  /** Period leaderboards. */
  leaderboards?: readonly LeaderboardConfig[];
  /**
   * The leaderboard scopes (teams, groups, tenants) a user's awards count toward, in addition to
   * an award's own `scopes`. Called once per award (also for rule awards); may be async.
   */
  scopesOf?: (userId: string, metric: string) => readonly string[] | Promise<readonly string[]>;
  /**
   * When finished periods are detected (for configs with `finishAfter`):
   * - `"lazy"` (default): checked on awards and leaderboard reads, at most once per period end;
   * - `"manual"`: only by `gk.finishLeaderboards()` (e.g. from a cron job);
   * - `{ intervalMs }`: lazily, plus a timer the engine runs until `close()`.
   */
  finishLeaderboards?: FinishMode;
  /** Declarative rules evaluated after every event. */
  rules?: readonly (Rule | readonly Rule[])[];
  /** The metric used when a call names none. Default `points`. */
  defaultMetric?: string;
  /** Milliseconds since the epoch; injectable for tests and backfills. Default `Date.now`. */
  clock?: () => number;
  /** Event id generator. Default: `crypto.randomUUID()`. */
  generateId?: () => string;
}

/** Options shared by point awards. */
export interface AwardOptions {
  /** Default: the engine's `defaultMetric`. */
  metric?: string;
  reason?: string;
  metadata?: Record<string, unknown>;
  /** The award applies once per user and key; retries return the first result with `replayed: true`. */
  idempotencyKey?: string;
  /** When it happened (backdating); period boards use it. Default: now. */
  at?: number | Date;
  /**
   * Scoped boards the award also counts toward (e.g. `["team-7", "tenant-a"]`): each scope gets a
   * board per period of the metric, read with `gk.leaderboard(metric, { scope })`. Up to 16 names
   * of 1-64 characters from A-Z a-z 0-9 _ - . : @ |. Recorded on the points event.
   */
  scopes?: readonly string[];
}

/** Options for badge calls. */
export interface BadgeOptions {
  reason?: string;
  metadata?: Record<string, unknown>;
  at?: number | Date;
}

/** One item of {@link Gamify.batch}. */
export interface BatchAward extends AwardOptions {
  userId: string;
  amount: number;
  /** Default `add`. */
  type?: "add" | "remove";
}
