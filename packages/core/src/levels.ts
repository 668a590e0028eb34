import { invalidArgument } from "./errors.js";
import { describe } from "./validate.js";

/**
 * A level curve: level 1 at 0 points, non-decreasing in points. Negative totals are level 1.
 */
export interface LevelCurve {
  /** The level a total reaches. */
  levelFor(points: number): number;
  /** The fewest points that reach `level` (1 → 0); Infinity when the curve never reaches it. */
  pointsFor(level: number): number;
}

/** A curve, or a plain function from points to level. */
export type LevelDefinition = LevelCurve | ((points: number) => number);

/** Curves stop here unless told otherwise, so one huge award cannot emit millions of `level_up` events. */
export const DEFAULT_MAX_LEVEL = 1000;

function checkAtLeastOne(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1) {
    throw invalidArgument(`${name} must be a finite number of at least 1; got ${describe(value)}.`, { field: name });
  }
  return value;
}

function checkMaxLevel(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_LEVEL;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > 1_000_000) {
    throw invalidArgument(`maxLevel must be an integer from 1 to 1000000; got ${describe(value)}.`, { field: "maxLevel" });
  }
  return value;
}

/** Rounds a threshold up to whole points, forgiving floating-point noise such as 210.00000000000003. */
function wholePoints(value: number): number {
  const nearest = Math.round(value);
  return Math.abs(value - nearest) <= 1e-9 * Math.max(1, Math.abs(value)) ? nearest : Math.ceil(value);
}

/**
 * Builds a curve from a non-decreasing threshold function, finding levels by binary search over
 * `[1, maxLevel]` so that `levelFor` agrees exactly with `pointsFor` at every boundary.
 */
function fromThresholds(threshold: (level: number) => number, maxLevel: number): LevelCurve {
  const pointsFor = (level: number): number => (level <= 1 ? 0 : level > maxLevel ? Infinity : threshold(level));
  return {
    pointsFor,
    levelFor(points) {
      let lo = 1; // pointsFor(lo) <= points, or lo = 1
      let hi = maxLevel;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (pointsFor(mid) <= points) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    },
  };
}

/** Ready-made level curves. */
export const levels = {
  /**
   * Explicit thresholds: `thresholds[i]` is the fewest points for level `i + 1`, so the first must
   * be 0. Past the last threshold the level stays at `thresholds.length`.
   * @example levels.table([0, 100, 250, 500]) // 250 points → level 3
   */
  table(thresholds: readonly number[]): LevelCurve {
    if (!Array.isArray(thresholds) || thresholds.length === 0 || thresholds[0] !== 0) {
      throw invalidArgument("levels.table needs a non-empty array whose first threshold is 0 (level 1).", {
        field: "thresholds",
      });
    }
    thresholds.forEach((t, i) => {
      if (!Number.isSafeInteger(t) || (i > 0 && t <= (thresholds[i - 1] as number))) {
        throw invalidArgument(`levels.table thresholds must be strictly increasing safe integers; index ${i} is ${t}.`, {
          field: "thresholds",
          index: i,
        });
      }
    });
    const sorted = [...thresholds];
    return {
      pointsFor: (level) => (level <= 1 ? 0 : (sorted[level - 1] ?? Infinity)),
      levelFor(points) {
        // Number of thresholds <= points, by binary search.
        let lo = 0;
        let hi = sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((sorted[mid] as number) <= points) lo = mid + 1;
          else hi = mid;
        }
        return Math.max(1, lo);
      },
    };
  },

  /**
   * One level every `step` points: level = floor(points / step) + 1.
   * @example levels.linear({ step: 100 }) // 250 points → level 3
   */
  linear(options: { step: number; maxLevel?: number }): LevelCurve {
    const step = checkAtLeastOne("step", options?.step);
    return fromThresholds((level) => wholePoints((level - 1) * step), checkMaxLevel(options.maxLevel));
  },

  /**
   * Each level costs more than the last: level n needs `base * (n - 1)^2` points.
   * @example levels.quadratic({ base: 100 }) // 100 → 2, 400 → 3, 900 → 4
   */
  quadratic(options: { base: number; maxLevel?: number }): LevelCurve {
    const base = checkAtLeastOne("base", options?.base);
    return fromThresholds((level) => wholePoints(base * (level - 1) ** 2), checkMaxLevel(options.maxLevel));
  },

  /**
   * Each level costs `factor` times the previous one, the first costing `base`:
   * level n needs `base * (factor^(n-1) - 1) / (factor - 1)` points.
   * @example levels.exponential({ base: 100, factor: 2 }) // 100 → 2, 300 → 3, 700 → 4
   */
  exponential(options: { base: number; factor: number; maxLevel?: number }): LevelCurve {
    const base = checkAtLeastOne("base", options?.base);
    const factor = options.factor;
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 1) {
      throw invalidArgument(`factor must be a finite number greater than 1; got ${describe(factor)}.`, { field: "factor" });
    }
    // Each level costs at least `base` >= 1 point more than the last, so thresholds strictly increase.
    return fromThresholds((level) => wholePoints((base * (factor ** (level - 1) - 1)) / (factor - 1)), checkMaxLevel(options.maxLevel));
  },

  /**
   * A custom function from points to level. It must return an integer ≥ 1 and never decrease as
   * points grow; the engine checks the integer part on every call. Levels above `maxLevel`
   * (default 1000) are capped there.
   */
  custom(fn: (points: number) => number, options: { maxLevel?: number } = {}): LevelCurve {
    if (typeof fn !== "function") throw invalidArgument("levels.custom needs a function (points) => level.");
    const maxLevel = checkMaxLevel(options.maxLevel);
    return {
      levelFor(points) {
        const level = fn(points);
        if (!Number.isSafeInteger(level) || level < 1) {
          throw invalidArgument(`custom level function returned ${String(level)} for ${points} points; it must return an integer >= 1.`);
        }
        return Math.min(level, maxLevel);
      },
      pointsFor(level) {
        if (level <= 1) return 0;
        if (level > maxLevel) return Infinity;
        // Exponential then binary search over points; the function is non-decreasing.
        let hi = 1;
        while (fn(hi) < level) {
          if (hi > Number.MAX_SAFE_INTEGER / 2) return Infinity;
          hi *= 2;
        }
        let lo = Math.floor(hi / 2);
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          if (fn(mid) >= level) hi = mid;
          else lo = mid;
        }
        return fn(lo) >= level ? lo : hi;
      },
    };
  },
};

/** Normalises a {@link LevelDefinition} to a curve. */
export function toLevelCurve(definition: LevelDefinition): LevelCurve {
  return typeof definition === "function" ? levels.custom(definition) : definition;
}
