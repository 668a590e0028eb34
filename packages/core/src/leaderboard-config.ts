import { invalidArgument } from "./errors.js";
import type { LeaderboardConfig, SeasonConfig } from "./options.js";
import { checkTimeZone, periodRange } from "./periods.js";
import type { LeaderboardPeriod, Period, RankMode } from "./types.js";
import { PERIODS } from "./types.js";
import { checkCount, checkMetric, checkRankMode, describe } from "./validate.js";

/** A season with its bounds resolved to instants. */
export interface Season {
  readonly id: string;
  readonly start: number;
  readonly end: number;
}

/** One metric's validated leaderboard configuration. */
export interface BoardSettings {
  readonly metric: string;
  /** Calendar periods, `all` first. */
  readonly periods: readonly Period[];
  /** Seasons sorted by start; empty when the metric has none. */
  readonly seasons: readonly Season[];
  readonly timeZone: string;
  readonly mode: RankMode;
  /** Grace after a period's end before it finishes; undefined: periods never finish. */
  readonly finishAfter: number | undefined;
  readonly winners: number;
  /** Retention after the finish time; undefined: forever. */
  readonly keep: number | undefined;
  readonly watch: { readonly top: number; readonly periods: ReadonlySet<LeaderboardPeriod> } | undefined;
}

export const DEFAULT_KEEP_MS = 30 * 86_400_000;
const DEFAULT_WINNERS = 3;
const SEASON_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_MS = Number.MAX_SAFE_INTEGER;

/** The settings of a metric nobody configured: an all-time board only. */
export function defaultSettings(metric: string): BoardSettings {
  return { metric, periods: ["all"], seasons: [], timeZone: "UTC", mode: "standard", finishAfter: undefined, winners: DEFAULT_WINNERS, keep: DEFAULT_KEEP_MS, watch: undefined };
}

/** Validates the `leaderboards` option; every failure is INVALID_ARGUMENT naming the field. */
export function parseLeaderboardConfigs(configs: readonly LeaderboardConfig[]): Map<string, BoardSettings> {
  if (!Array.isArray(configs)) throw invalidArgument("leaderboards must be an array of { metric, periods, ... } objects.", { field: "leaderboards" });
  const settings = new Map<string, BoardSettings>();
  for (const config of configs) {
    if (config === null || typeof config !== "object") throw invalidArgument(`each leaderboards entry must be an object; got ${describe(config)}.`, { field: "leaderboards" });
    const metric = checkMetric(config.metric);
    if (settings.has(metric)) throw invalidArgument(`leaderboards lists metric "${metric}" twice; give each metric one entry with all its periods.`, { field: "metric" });
    const given = config.periods ?? ["all"];
    if (!Array.isArray(given)) throw invalidArgument(`leaderboards[${metric}].periods must be an array; got ${describe(given)}.`, { field: "periods" });
    for (const period of given) {
      if (!PERIODS.includes(period)) {
        throw invalidArgument(`leaderboard period must be one of ${PERIODS.join(", ")} (custom periods go in seasons); got ${describe(period)}.`, { field: "periods" });
      }
    }
    const timeZone = checkTimeZone(config.timeZone ?? "UTC");
    const finishAfter = config.finishAfter === undefined ? undefined : checkCount(config.finishAfter, "finishAfter", { max: MAX_MS });
    if (config.winners !== undefined && finishAfter === undefined) {
      throw invalidArgument(`leaderboards[${metric}].winners needs finishAfter: winners are announced when a period finishes.`, { field: "winners" });
    }
    const keep = config.keepFinishedFor ?? DEFAULT_KEEP_MS;
    const periods = [...new Set<Period>(["all", ...given])];
    const seasons = parseSeasons(metric, config.seasons, timeZone);
    settings.set(metric, {
      metric,
      periods,
      seasons,
      timeZone,
      mode: checkRankMode(config.mode ?? "standard"),
      finishAfter,
      winners: checkCount(config.winners ?? DEFAULT_WINNERS, "winners", { min: 1, max: 1000 }),
      keep: keep === "forever" ? undefined : checkCount(keep, "keepFinishedFor", { max: MAX_MS }),
      watch: parseWatch(metric, config.watch, periods, seasons.length > 0),
    });
  }
  return settings;
}

function parseSeasons(metric: string, seasons: readonly SeasonConfig[] | undefined, timeZone: string): Season[] {
  if (seasons === undefined) return [];
  if (!Array.isArray(seasons)) throw invalidArgument(`leaderboards[${metric}].seasons must be an array; got ${describe(seasons)}.`, { field: "seasons" });
  const out: Season[] = [];
  for (const season of seasons as readonly unknown[]) {
    if (season === null || typeof season !== "object") throw invalidArgument(`each season must be { id, start, end }; got ${describe(season)}.`, { field: "seasons" });
    const { id, start, end } = season as Record<string, unknown>;
    if (typeof id !== "string" || !SEASON_ID.test(id)) {
      throw invalidArgument(`season id must be 1-32 characters from A-Z a-z 0-9 _ - . (got ${describe(id)}).`, { field: "seasons.id" });
    }
    const from = seasonInstant(start, timeZone, "seasons.start");
    const to = seasonInstant(end, timeZone, "seasons.end");
    if (!(from < to)) throw invalidArgument(`season "${id}" must end after it starts.`, { field: "seasons.end", season: id });
    if (out.some((s) => s.id === id)) throw invalidArgument(`season id "${id}" appears twice for metric "${metric}".`, { field: "seasons.id" });
    out.push({ id, start: from, end: to });
  }
  out.sort((a, b) => a.start - b.start);
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1] as Season;
    const next = out[i] as Season;
    if (next.start < prev.end) {
      throw invalidArgument(`seasons "${prev.id}" and "${next.id}" of metric "${metric}" overlap; an award belongs to at most one season.`, { field: "seasons" });
    }
  }
  return out;
}

/** A season bound: a `YYYY-MM-DD` date (local midnight in the zone), epoch ms or a Date. */
function seasonInstant(value: unknown, timeZone: string, field: string): number {
  if (typeof value === "string" && DATE.test(value)) {
    try {
      return periodRange("day", value, timeZone).start;
    } catch {
      // fall through to the error below
    }
  }
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms === "number" && Number.isSafeInteger(ms) && ms >= 0) return ms;
  throw invalidArgument(`${field} must be a date "YYYY-MM-DD", epoch milliseconds or a Date; got ${describe(value)}.`, { field });
}

function parseWatch(metric: string, watch: LeaderboardConfig["watch"], periods: readonly Period[], hasSeasons: boolean): BoardSettings["watch"] {
  if (watch === undefined) return undefined;
  if (watch === null || typeof watch !== "object") throw invalidArgument(`leaderboards[${metric}].watch must be { top, periods? }; got ${describe(watch)}.`, { field: "watch" });
  const top = checkCount(watch.top, "watch.top", { min: 1, max: 100 });
  const kept: LeaderboardPeriod[] = hasSeasons ? [...periods, "season"] : [...periods];
  const chosen = watch.periods ?? kept;
  if (!Array.isArray(chosen)) throw invalidArgument(`watch.periods must be an array; got ${describe(chosen)}.`, { field: "watch.periods" });
  for (const period of chosen) {
    if (!kept.includes(period)) {
      throw invalidArgument(`watch.periods may only name periods kept for "${metric}" (${kept.join(", ")}); got ${describe(period)}.`, { field: "watch.periods" });
    }
  }
  return { top, periods: new Set(chosen) };
}

/** The season containing `at`, if any. */
export function seasonAt(seasons: readonly Season[], at: number): Season | undefined {
  for (const season of seasons) if (at >= season.start && at < season.end) return season;
  return undefined;
}
