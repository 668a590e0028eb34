import { GamifyError, invalidArgument } from "./errors.js";
import type { LeaderboardConfig } from "./options.js";
import { checkTimeZone, periodKey, periodRange } from "./periods.js";
import type { BoardUpdate, LeaderboardStore, Period, RankedEntry, RankMode } from "./types.js";
import { PERIODS } from "./types.js";
import { checkCount, checkMetric, checkRankMode, checkTimestamp, checkUserId, describe } from "./validate.js";

/** Which board to read. */
export interface LeaderboardQuery {
  /** Default `all`. */
  period?: Period;
  /** Any instant inside the wanted period (e.g. last week). Default: now. */
  at?: number | Date;
  /** Overrides the board's configured ranking mode. */
  mode?: RankMode;
}

/** Read access to one board. */
export interface LeaderboardView {
  /** The board's id in the leaderboard store, e.g. `xp/week/2026-W48`. */
  readonly board: string;
  /** Best first. Default `limit` 10, `offset` 0. */
  top(options?: { limit?: number; offset?: number }): Promise<RankedEntry[]>;
  /** The user's entry, or null when the user is not on the board. */
  rank(userId: string): Promise<RankedEntry | null>;
  /** The window of `2 * radius + 1` entries around the user (default radius 5), kept full at the edges. */
  around(userId: string, options?: { radius?: number }): Promise<RankedEntry[]>;
  /** Users on the board. */
  count(): Promise<number>;
  /** The share of the board (0–100) scoring at or below the user; null when absent. */
  percentile(userId: string): Promise<number | null>;
}

interface BoardSettings {
  readonly periods: readonly Period[];
  readonly timeZone: string;
  readonly mode: RankMode;
  readonly keepFinishedFor: number;
}

const DEFAULT_SETTINGS: BoardSettings = { periods: ["all"], timeZone: "UTC", mode: "standard", keepFinishedFor: 30 * 86_400_000 };

/** The board id for a metric's period bucket. `/` cannot appear in metric names, so ids never collide. */
export function boardId(metric: string, period: Period, key: string): string {
  return `${metric}/${period}/${key}`;
}

/** Leaderboard bookkeeping for the engine: which boards an award touches, and read views. */
export function createLeaderboards(store: LeaderboardStore, configs: readonly LeaderboardConfig[], clock: () => number) {
  const settings = new Map<string, BoardSettings>();
  for (const config of configs) {
    const metric = checkMetric(config.metric);
    if (settings.has(metric)) throw invalidArgument(`leaderboards lists metric "${metric}" twice; give each metric one entry with all its periods.`);
    const periods = config.periods ?? ["all"];
    for (const period of periods) {
      if (!PERIODS.includes(period)) throw invalidArgument(`leaderboard period must be one of ${PERIODS.join(", ")}; got ${describe(period)}.`, { field: "periods" });
    }
    settings.set(metric, {
      periods: [...new Set<Period>(["all", ...periods])],
      timeZone: checkTimeZone(config.timeZone ?? "UTC"),
      mode: checkRankMode(config.mode ?? "standard"),
      keepFinishedFor: checkCount(config.keepFinishedFor ?? DEFAULT_SETTINGS.keepFinishedFor, "keepFinishedFor", { max: Number.MAX_SAFE_INTEGER }),
    });
  }
  const settingsFor = (metric: string): BoardSettings => settings.get(metric) ?? DEFAULT_SETTINGS;

  return {
    /** The boards an award of `metric` at `at` moves: all-time and each configured period's bucket. */
    updatesFor(metric: string, at: number): BoardUpdate[] {
      const { periods, timeZone, keepFinishedFor } = settingsFor(metric);
      return periods.map((period) => {
        const key = periodKey(period, at, timeZone);
        const board = boardId(metric, period, key);
        return period === "all" ? { board } : { board, expiresAt: periodRange(period, key, timeZone).end + keepFinishedFor };
      });
    },

    /** A read view; `run` is the engine's guard that refuses calls after close. */
    view(metric: string, query: LeaderboardQuery, run: <T>(work: () => Promise<T>) => Promise<T>): LeaderboardView {
      const config = settingsFor(metric);
      const period = query.period ?? "all";
      if (!PERIODS.includes(period)) throw invalidArgument(`period must be one of ${PERIODS.join(", ")}; got ${describe(period)}.`, { field: "period" });
      if (!config.periods.includes(period)) {
        throw new GamifyError(
          "NOT_FOUND",
          `No "${period}" leaderboard is kept for metric "${metric}"; add { metric: "${metric}", periods: ["${period}"] } to the leaderboards option.`,
          { details: { metric, period } },
        );
      }
      const mode = checkRankMode(query.mode ?? config.mode);
      const at = query.at === undefined ? clock() : checkTimestamp(query.at);
      const board = boardId(metric, period, periodKey(period, at, config.timeZone));
      return {
        board,
        top: ({ limit = 10, offset = 0 } = {}) =>
          run(() =>
            store.top(board, {
              limit: checkCount(limit, "limit", { min: 1, max: 1000 }),
              offset: checkCount(offset, "offset", { max: Number.MAX_SAFE_INTEGER }),
              mode,
            }),
          ),
        rank: (userId) => run(() => store.rank(board, checkUserId(userId), mode)),
        around: (userId, { radius = 5 } = {}) =>
          run(() => store.around(board, checkUserId(userId), { radius: checkCount(radius, "radius", { max: 500 }), mode })),
        count: () => run(() => store.count(board)),
        percentile: (userId) =>
          run(async () => {
            const entry = await store.rank(board, checkUserId(userId), "standard");
            if (!entry) return null;
            const [count, { above }] = await Promise.all([store.count(board), store.countAround(board, entry.score)]);
            return count === 0 ? null : (100 * (count - above)) / count;
          }),
      };
    },
  };
}
