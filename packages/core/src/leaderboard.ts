import { GamifyError, invalidArgument } from "./errors.js";
import type { BoardRef } from "./events.js";
import { defaultSettings, parseLeaderboardConfigs, seasonAt, type BoardSettings } from "./leaderboard-config.js";
import type { LeaderboardConfig } from "./options.js";
import { periodKey, periodRange, periodRangeAt } from "./periods.js";
import type { LeaderboardPeriod, LeaderboardStore, RankedEntry, RankMode } from "./types.js";
import { PERIODS } from "./types.js";
import { checkCount, checkRankMode, checkTimestamp, checkUserId, describe } from "./validate.js";

/** Which board to read. */
export interface LeaderboardQuery {
  /** Default `all`. `season` reads the configured seasons. */
  period?: LeaderboardPeriod;
  /**
   * Which bucket of the period: any instant inside it (e.g. last week), or its key
   * (`"2026-W47"`, `"2026-11-25"`, `"2026-11"`, a season id). Default: now.
   */
  at?: number | Date | string;
  /** A scoped board (team, group, tenant), as named in awards' `scopes`. Default: the metric's main board. */
  scope?: string;
  /** Overrides the board's configured ranking mode. */
  mode?: RankMode;
}

/** Read access to one board. */
export interface LeaderboardView {
  /** The board's id in the leaderboard store, e.g. `xp/week/2026-W48` or `xp/week/2026-W48/team-7`. */
  readonly board: string;
  readonly period: LeaderboardPeriod;
  /** The bucket's key: `all`, `2026-11-25`, `2026-W48`, `2026-11` or a season id. */
  readonly key: string;
  readonly scope: string | undefined;
  /** The bucket's bounds `[start, end)` in epoch ms (the safe-integer range for `all`). */
  readonly start: number;
  readonly end: number;
  /** True once the period ended plus `finishAfter` passed: its standings are final. */
  readonly finished: boolean;
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

/** A board with its bucket's bounds and its settings. */
export interface BoardInfo extends BoardRef {
  readonly period: LeaderboardPeriod;
  readonly start: number;
  readonly end: number;
  /** When the store may drop the board; undefined for all-time boards and boards kept forever. */
  readonly expiresAt: number | undefined;
  readonly settings: BoardSettings;
}

const SCOPE = /^[A-Za-z0-9_.:@|-]{1,64}$/;
const MAX_SCOPES = 16;
const ALL = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };

/**
 * The board id for a metric's period bucket, optionally scoped: `xp/week/2026-W48`,
 * `xp/week/2026-W48/team-7`. Metric, period, key and scope cannot contain `/`, so ids never collide.
 */
export function boardId(metric: string, period: LeaderboardPeriod, key: string, scope?: string): string {
  return scope === undefined ? `${metric}/${period}/${key}` : `${metric}/${period}/${key}/${scope}`;
}

/**
 * The board listing the scopes that have a board for one bucket (members `#<scope>`), so finishing
 * can find scoped boards. `#` cannot appear in user ids or scopes, so neither collides.
 */
export function scopeRegistryId(metric: string, period: LeaderboardPeriod, key: string): string {
  return `${metric}/${period}/${key}/#scopes`;
}

/** Validates a scope name: 1-64 characters from A-Z a-z 0-9 _ - . : @ |. */
export function checkScope(value: unknown, field = "scope"): string {
  if (typeof value !== "string" || !SCOPE.test(value)) {
    throw invalidArgument(`${field} must be a string of 1-64 characters from A-Z a-z 0-9 _ - . : @ | (got ${describe(value)}).`, { field });
  }
  return value;
}

/** Validates a list of scopes; returns them deduplicated in the given order. */
export function checkScopes(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_SCOPES) {
    throw invalidArgument(`scopes must be an array of at most ${MAX_SCOPES} scope names; got ${describe(value)}.`, { field: "scopes" });
  }
  return [...new Set(value.map((scope) => checkScope(scope, "scopes")))];
}

/** Leaderboard bookkeeping for the engine: which boards an award touches, and read views. */
export function createLeaderboards(store: LeaderboardStore, configs: readonly LeaderboardConfig[], clock: () => number) {
  const settings = parseLeaderboardConfigs(configs);
  const settingsFor = (metric: string): BoardSettings => settings.get(metric) ?? defaultSettings(metric);

  const info = (s: BoardSettings, period: LeaderboardPeriod, key: string, range: { start: number; end: number }, scope: string | undefined): BoardInfo => {
    const finite = period !== "all";
    const expiresAt = finite && s.keep !== undefined ? range.end + (s.finishAfter ?? 0) + s.keep : undefined;
    return {
      metric: s.metric,
      period,
      key,
      ...(scope === undefined ? {} : { scope }),
      board: boardId(s.metric, period, key, scope),
      start: range.start,
      end: range.end,
      expiresAt,
      settings: s,
    };
  };

  /** True when the bucket ending at `end` has finished by `now`. */
  const isFinished = (s: BoardSettings, period: LeaderboardPeriod, end: number, now: number): boolean =>
    period !== "all" && s.finishAfter !== undefined && end + s.finishAfter <= now;

  /**
   * The boards an award of `metric` at `at` moves: all-time, each configured period's bucket and
   * the season containing `at`, each also per scope. With `now`, finished buckets are left out.
   */
  const boardsAt = (metric: string, at: number, scopes: readonly string[], now: number | undefined): BoardInfo[] => {
    const s = settingsFor(metric);
    const out: BoardInfo[] = [];
    const add = (period: LeaderboardPeriod, key: string, range: { start: number; end: number }) => {
      if (now !== undefined && isFinished(s, period, range.end, now)) return;
      out.push(info(s, period, key, range, undefined));
      for (const scope of scopes) out.push(info(s, period, key, range, scope));
    };
    for (const period of s.periods) {
      if (period === "all") add("all", "all", ALL);
      else add(period, periodKey(period, at, s.timeZone), periodRangeAt(period, at, s.timeZone));
    }
    const season = seasonAt(s.seasons, at);
    if (season !== undefined) add("season", season.id, season);
    return out;
  };

  /** The bucket a query names, or throws NOT_FOUND / INVALID_ARGUMENT. */
  const resolve = (s: BoardSettings, period: LeaderboardPeriod, at: number | Date | string | undefined, scope: string | undefined): BoardInfo => {
    if (period === "season") {
      if (s.seasons.length === 0) {
        throw new GamifyError("NOT_FOUND", `No seasons are configured for metric "${s.metric}"; add seasons: [{ id, start, end }] to its leaderboards entry.`, {
          details: { metric: s.metric, period },
        });
      }
      const season =
        typeof at === "string" ? s.seasons.find((x) => x.id === at) : seasonAt(s.seasons, at === undefined ? clock() : checkTimestamp(at));
      if (season === undefined) {
        throw new GamifyError(
          "NOT_FOUND",
          typeof at === "string"
            ? `Metric "${s.metric}" has no season ${describe(at)}; its seasons are ${s.seasons.map((x) => x.id).join(", ")}.`
            : `No season of metric "${s.metric}" contains that time; pass at: "<season id>" (one of ${s.seasons.map((x) => x.id).join(", ")}).`,
          { details: { metric: s.metric, period } },
        );
      }
      return info(s, "season", season.id, season, scope);
    }
    if (!PERIODS.includes(period)) throw invalidArgument(`period must be one of ${PERIODS.join(", ")}, season; got ${describe(period)}.`, { field: "period" });
    if (!s.periods.includes(period)) {
      throw new GamifyError(
        "NOT_FOUND",
        `No "${period}" leaderboard is kept for metric "${s.metric}"; add { metric: "${s.metric}", periods: ["${period}"] } to the leaderboards option.`,
        { details: { metric: s.metric, period } },
      );
    }
    if (typeof at === "string") {
      let range: { start: number; end: number };
      try {
        range = periodRange(period, at, s.timeZone);
      } catch (error) {
        throw invalidArgument(`at must be an instant or a ${period} key such as ${exampleKey(period)}; got ${describe(at)}.`, { field: "at", cause: error });
      }
      return info(s, period, at, range, scope);
    }
    const t = at === undefined ? clock() : checkTimestamp(at);
    return info(s, period, period === "all" ? "all" : periodKey(period, t, s.timeZone), period === "all" ? ALL : periodRangeAt(period, t, s.timeZone), scope);
  };

  return {
    settingsFor,
    /** Every configured metric's settings. */
    configured: (): BoardSettings[] => [...settings.values()],
    isFinished,
    info,
    boardsAt,

    /**
     * A read view. `run` is the engine's guard that refuses calls after close; `touched` runs
     * before every read (the engine's lazy finish check).
     */
    view(metric: string, query: LeaderboardQuery, run: <T>(work: () => Promise<T>) => Promise<T>, touched: () => void): LeaderboardView {
      if (query === null || typeof query !== "object") throw invalidArgument(`query must be an object; got ${describe(query)}.`, { field: "query" });
      const s = settingsFor(metric);
      const mode = checkRankMode(query.mode ?? s.mode);
      const scope = query.scope === undefined ? undefined : checkScope(query.scope);
      const b = resolve(s, query.period ?? "all", query.at, scope);
      const board = b.board;
      const read = <T>(work: () => Promise<T>): Promise<T> =>
        run(() => {
          touched();
          return work();
        });
      return {
        board,
        period: b.period,
        key: b.key,
        scope,
        start: b.start,
        end: b.end,
        finished: isFinished(s, b.period, b.end, clock()),
        top: ({ limit = 10, offset = 0 } = {}) =>
          read(() =>
            store.top(board, { limit: checkCount(limit, "limit", { min: 1, max: 1000 }), offset: checkCount(offset, "offset", { max: Number.MAX_SAFE_INTEGER }), mode }),
          ),
        rank: (userId) => read(() => store.rank(board, checkUserId(userId), mode)),
        around: (userId, { radius = 5 } = {}) =>
          read(() => store.around(board, checkUserId(userId), { radius: checkCount(radius, "radius", { max: 500 }), mode })),
        count: () => read(() => store.count(board)),
        percentile: (userId) =>
          read(async () => {
            const entry = await store.rank(board, checkUserId(userId), "standard");
            if (!entry) return null;
            const [count, { above }] = await Promise.all([store.count(board), store.countAround(board, entry.score)]);
            return count === 0 ? null : (100 * (count - above)) / count;
          }),
      };
    },
  };
}

export type Leaderboards = ReturnType<typeof createLeaderboards>;

function exampleKey(period: LeaderboardPeriod): string {
  return period === "day" ? `"2026-11-25"` : period === "week" ? `"2026-W48"` : period === "month" ? `"2026-11"` : `"all"`;
}
