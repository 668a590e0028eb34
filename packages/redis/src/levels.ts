import { createHash } from "node:crypto";
import { GamifyError, type LevelPolicy } from "@gamifykit/core";

/** Past this many levels a curve is taken to be unbounded (core caps curves at 1,000,000). */
const MAX_LEVELS = 1_000_000;
/** Members are zero-padded so that, among equal thresholds, the highest level sorts last. */
const LEVEL_WIDTH = 8;
/** Members per ZADD when loading a curve. */
const CHUNK = 5000;

/** A level curve as Redis sees it: the thresholds and a name derived from them. */
export interface LevelTable {
  /** `thresholds[i]` is the fewest points for level `i + 2`. */
  readonly thresholds: readonly number[];
  /** SHA1 of the thresholds: equal curves share one sorted set. */
  readonly digest: string;
}

// The engine builds one policy object per metric, so this runs once per metric and process.
const tables = new WeakMap<LevelPolicy, LevelTable>();

/**
 * The thresholds of a policy, from `pointsFor(2)` up to the first Infinity, checked against
 * `levelFor` so the Lua lookup agrees with the engine's curve at every boundary.
 */
export function levelTable(policy: LevelPolicy): LevelTable {
  const cached = tables.get(policy);
  if (cached !== undefined) return cached;
  const thresholds: number[] = [];
  for (let level = 2; ; level++) {
    const points = policy.pointsFor(level);
    if (points === Infinity) break;
    if (typeof points !== "number" || Number.isNaN(points) || level > MAX_LEVELS || (thresholds.length > 0 && points < (thresholds.at(-1) as number))) {
      throw inconsistent(`pointsFor(${level}) returned ${String(points)}`);
    }
    thresholds.push(points);
  }
  const lookup = (points: number): number => {
    // Highest level whose threshold is <= points (level 1 when none is).
    let lo = 0;
    let hi = thresholds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((thresholds[mid] as number) <= points) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  for (const t of thresholds) {
    for (const points of [t, t - 1]) {
      if (Number.isFinite(points) && policy.levelFor(points) !== lookup(points)) {
        throw inconsistent(`levelFor(${points}) is ${policy.levelFor(points)} but pointsFor puts ${points} points at level ${lookup(points)}`);
      }
    }
  }
  const table = { thresholds, digest: createHash("sha1").update(thresholds.join(",")).digest("hex") };
  tables.set(policy, table);
  return table;
}

function inconsistent(what: string): GamifyError {
  return new GamifyError(
    "INVALID_ARGUMENT",
    `The Redis storage computes levels from the curve's thresholds, but ${what}. pointsFor must be non-decreasing, reach Infinity within ${MAX_LEVELS} levels, and agree with levelFor.`,
    { details: { field: "level" } },
  );
}

/**
 * Commands that (re)create a curve's sorted set: loaded under a temporary name, then renamed, so
 * a script never sees half a curve. Level 1 sits at -inf, so the set is never empty and every
 * total finds a level.
 */
export function levelTableCommands(table: LevelTable, key: string): (string | number)[][] {
  const temp = `${key}:loading:${Math.random().toString(36).slice(2)}`;
  const members: (string | number)[] = ["-inf", pad(1)];
  table.thresholds.forEach((t, i) => members.push(t, pad(i + 2)));
  const commands: (string | number)[][] = [];
  for (let i = 0; i < members.length; i += 2 * CHUNK) commands.push(["zadd", temp, ...members.slice(i, i + 2 * CHUNK)]);
  commands.push(["rename", temp, key]);
  return commands;
}

const pad = (level: number): string => String(level).padStart(LEVEL_WIDTH, "0");
