import { invalidArgument } from "./errors.js";

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

function checkPositive(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`${name} must be a positive finite number; got ${String(value)}.`, { field: name });
  }
  return value;
}

/**
 * Builds a curve from a threshold function, finding levels by galloping then binary search so
 * that `levelFor` agrees exactly with `pointsFor` at every boundary (no floating-point drift).
 */
function fromThresholds(pointsFor: (level: number) => number): LevelCurve {
  return {
    pointsFor: (level) => (level <= 1 ? 0 : pointsFor(level)),
    levelFor(points) {
      if (!(points >= pointsFor(2))) return 1;
      let hi = 2;
      while (pointsFor(hi * 2) <= points) hi *= 2;
      let lo = hi; // pointsFor(lo) <= points
      hi *= 2; // pointsFor(hi) > points
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (pointsFor(mid) <= points) lo = mid;
        else hi = mid;
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
  linear({ step }: { step: number }): LevelCurve {
    checkPositive("step", step);
    return fromThresholds((level) => (level - 1) * step);
  },

  /**
   * Each level costs more than the last: level n needs `base * (n - 1)^2` points.
   * @example levels.quadratic({ base: 100 }) // 100 → 2, 400 → 3, 900 → 4
   */
  quadratic({ base }: { base: number }): LevelCurve {
    checkPositive("base", base);
    return fromThresholds((level) => base * (level - 1) ** 2);
  },

  /**
   * Each level costs `factor` times the previous one, the first costing `base`:
   * level n needs `base * (factor^(n-1) - 1) / (factor - 1)` points.
   * @example levels.exponential({ base: 100, factor: 2 }) // 100 → 2, 300 → 3, 700 → 4
   */
  exponential({ base, factor }: { base: number; factor: number }): LevelCurve {
    checkPositive("base", base);
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 1) {
      throw invalidArgument(`factor must be a finite number greater than 1; got ${String(factor)}.`, { field: "factor" });
    }
    return fromThresholds((level) => Math.round((base * (factor ** (level - 1) - 1)) / (factor - 1)));
  },

  /**
   * A custom function from points to level. It must return an integer ≥ 1 and never decrease as
   * points grow; the engine checks the integer part on every call.
   */
  custom(fn: (points: number) => number): LevelCurve {
    if (typeof fn !== "function") throw invalidArgument("levels.custom needs a function (points) => level.");
    return {
      levelFor(points) {
        const level = fn(points);
        if (!Number.isSafeInteger(level) || level < 1) {
          throw invalidArgument(`custom level function returned ${String(level)} for ${points} points; it must return an integer >= 1.`);
        }
        return level;
      },
      pointsFor(level) {
        if (level <= 1) return 0;
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
