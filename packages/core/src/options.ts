import type { LevelDefinition } from "./levels.js";
import type { Rule } from "./rules.js";
import type { AnalyticsStore, LeaderboardStore, Period, RankMode, Storage } from "./types.js";

/** Per-metric behaviour. */
export interface MetricOptions {
  /** The lowest total a deduction can leave (e.g. 0 for coins); deductions past it are clamped. */
  floor?: number;
  /** When true, levels drop with the total after deductions (emitting `level_down`). Default false. */
  levelsFollowDown?: boolean;
}

/** Which boards to keep for a metric. An all-time board is always kept. */
export interface LeaderboardConfig {
  metric: string;
  /** Default `["all"]`. */
  periods?: readonly Period[];
  /** IANA zone for day/week/month boundaries. Default `UTC`. */
  timeZone?: string;
  /** Default ranking mode for queries. Default `standard`. */
  mode?: RankMode;
  /** How long a finished period's board stays readable, in ms. Default 30 days. */
  keepFinishedFor?: number;
}

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
