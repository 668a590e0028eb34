import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GamifyError } from "../src/errors.js";
import { levels, toLevelCurve, type LevelCurve } from "../src/levels.js";

const MAX = Number.MAX_SAFE_INTEGER;

/** Asserts that `fn` throws a GamifyError with `code`. */
function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, "expected a throw").toBeInstanceOf(GamifyError);
  expect((thrown as GamifyError).code).toBe(code);
}

/**
 * The highest level n (capped at MAX_SAFE_INTEGER) whose threshold is still a safe integer total,
 * found from `pointsFor` alone (which is non-decreasing), so it does not depend on `levelFor`.
 */
function maxSafeLevel(curve: LevelCurve): number {
  let lo = 1;
  let hi = 2;
  while (hi < MAX && curve.pointsFor(hi) <= MAX) {
    lo = hi;
    hi = Math.min(MAX, hi * 2);
  }
  if (curve.pointsFor(hi) <= MAX) return hi;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (curve.pointsFor(mid) <= MAX) lo = mid;
    else hi = mid;
  }
  return lo;
}

// Parameters for which every level boundary is at least 1 point past the previous one, so both
// `pointsFor(n)` and `pointsFor(n) - 1` are meaningful totals.
const stepArb = fc.double({ min: 1, max: 1e9, noNaN: true, noDefaultInfinity: true });
const baseArb = fc.double({ min: 1, max: 1e9, noNaN: true, noDefaultInfinity: true });
const factorArb = fc.double({ min: 1 + 1e-9, max: 1000, noNaN: true, noDefaultInfinity: true });
const tableArb = fc
  .uniqueArray(fc.integer({ min: 1, max: MAX }), { minLength: 1, maxLength: 60 })
  .map((rest) => [0, ...rest.sort((a, b) => a - b)]);

interface NamedCurve {
  readonly label: string;
  readonly curve: LevelCurve;
}

const curveArb: fc.Arbitrary<NamedCurve> = fc.oneof(
  tableArb.map((t) => ({ label: `table(${JSON.stringify(t)})`, curve: levels.table(t) })),
  stepArb.map((step) => ({ label: `linear({ step: ${step} })`, curve: levels.linear({ step }) })),
  baseArb.map((base) => ({ label: `quadratic({ base: ${base} })`, curve: levels.quadratic({ base }) })),
  fc
    .tuple(baseArb, factorArb)
    .map(([base, factor]) => ({ label: `exponential({ base: ${base}, factor: ${factor} })`, curve: levels.exponential({ base, factor }) })),
  fc.integer({ min: 1, max: 1_000_000 }).map((step) => ({
    label: `custom(p => max(1, floor(p / ${step}) + 1))`,
    curve: levels.custom((p) => Math.max(1, Math.floor(p / step) + 1)),
  })),
);

describe("documented examples", () => {
  test("levels.table([0, 100, 250, 500])", () => {
    const curve = levels.table([0, 100, 250, 500]);
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.levelFor(99)).toBe(1);
    expect(curve.levelFor(100)).toBe(2);
    expect(curve.levelFor(249)).toBe(2);
    expect(curve.levelFor(250)).toBe(3);
    expect(curve.levelFor(499)).toBe(3);
    expect(curve.levelFor(500)).toBe(4);
    expect(curve.levelFor(10 ** 9)).toBe(4);
    expect([1, 2, 3, 4].map((n) => curve.pointsFor(n))).toEqual([0, 100, 250, 500]);
  });

  test("a table stays at its last level and never reaches the next one", () => {
    const curve = levels.table([0, 100, 250, 500]);
    expect(curve.levelFor(MAX)).toBe(4);
    expect(curve.pointsFor(5)).toBe(Infinity);
    expect(curve.pointsFor(100)).toBe(Infinity);

    const single = levels.table([0]);
    expect(single.levelFor(0)).toBe(1);
    expect(single.levelFor(MAX)).toBe(1);
    expect(single.pointsFor(2)).toBe(Infinity);
  });

  test("a table keeps its own copy of the thresholds", () => {
    const thresholds = [0, 100, 250];
    const curve = levels.table(thresholds);
    thresholds[1] = 200;
    thresholds.push(300);
    expect(curve.levelFor(150)).toBe(2);
    expect(curve.levelFor(1000)).toBe(3);
    expect(curve.pointsFor(2)).toBe(100);
  });

  test("levels.linear({ step: 100 })", () => {
    const curve = levels.linear({ step: 100 });
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.levelFor(99)).toBe(1);
    expect(curve.levelFor(100)).toBe(2);
    expect(curve.levelFor(250)).toBe(3);
    expect(curve.pointsFor(1)).toBe(0);
    expect(curve.pointsFor(3)).toBe(200);
  });

  test("levels.quadratic({ base: 100 })", () => {
    const curve = levels.quadratic({ base: 100 });
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.levelFor(99)).toBe(1);
    expect(curve.levelFor(100)).toBe(2);
    expect(curve.levelFor(399)).toBe(2);
    expect(curve.levelFor(400)).toBe(3);
    expect(curve.levelFor(899)).toBe(3);
    expect(curve.levelFor(900)).toBe(4);
    expect([1, 2, 3, 4].map((n) => curve.pointsFor(n))).toEqual([0, 100, 400, 900]);
  });

  test("levels.exponential({ base: 100, factor: 2 })", () => {
    const curve = levels.exponential({ base: 100, factor: 2 });
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.levelFor(99)).toBe(1);
    expect(curve.levelFor(100)).toBe(2);
    expect(curve.levelFor(299)).toBe(2);
    expect(curve.levelFor(300)).toBe(3);
    expect(curve.levelFor(699)).toBe(3);
    expect(curve.levelFor(700)).toBe(4);
    expect([1, 2, 3, 4, 5].map((n) => curve.pointsFor(n))).toEqual([0, 100, 300, 700, 1500]);
  });

  test("pointsFor(level <= 1) is 0 for every curve", () => {
    const curves = [
      levels.table([0, 10]),
      levels.linear({ step: 7 }),
      levels.quadratic({ base: 3 }),
      levels.exponential({ base: 5, factor: 1.5 }),
      levels.custom((p) => Math.floor(p / 10) + 1),
    ];
    for (const curve of curves) {
      expect(curve.pointsFor(1)).toBe(0);
      expect(curve.pointsFor(0)).toBe(0);
      expect(curve.pointsFor(-3)).toBe(0);
    }
  });
});

describe("negative totals", () => {
  test.each([
    ["table", levels.table([0, 100, 250, 500])],
    ["linear", levels.linear({ step: 100 })],
    ["linear (fractional step)", levels.linear({ step: 1.5 })],
    ["quadratic", levels.quadratic({ base: 100 })],
    ["exponential", levels.exponential({ base: 100, factor: 2 })],
  ])("%s: negative totals are level 1", (_name, curve) => {
    for (const points of [-1, -99, -100, -1_000_000, Number.MIN_SAFE_INTEGER, -Infinity]) {
      expect(curve.levelFor(points)).toBe(1);
    }
  });

  test("property: any negative total is level 1 on any curve", () => {
    fc.assert(
      fc.property(curveArb, fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 }), (c, points) => {
        expect(c.curve.levelFor(points), c.label).toBe(1);
      }),
    );
  });
});

describe("level 1 at 0 points", () => {
  // Parameters below one point per level would put several levels at 0 points; they are refused.
  test.each([
    ["linear({ step: 0.5 })", () => levels.linear({ step: 0.5 }), "step"],
    ["quadratic({ base: 0.01 })", () => levels.quadratic({ base: 0.01 }), "base"],
    ["exponential({ base: 0.6, factor: 1.5 })", () => levels.exponential({ base: 0.6, factor: 1.5 }), "base"],
    ["exponential({ base: 0.1, factor: 2 })", () => levels.exponential({ base: 0.1, factor: 2 }), "base"],
  ])("%s is rejected with INVALID_ARGUMENT naming %s", (_name, make, field) => {
    expectCode(make, "INVALID_ARGUMENT");
    try {
      make();
    } catch (error) {
      expect((error as GamifyError).details["field"]).toBe(field);
    }
  });

  test.each([
    ["linear({ step: 1 })", levels.linear({ step: 1 })],
    ["quadratic({ base: 1 })", levels.quadratic({ base: 1 })],
    ["exponential({ base: 1, factor: 1.5 })", levels.exponential({ base: 1, factor: 1.5 })],
  ])("%s.levelFor(0) === 1", (_name, curve) => {
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.pointsFor(2)).toBeGreaterThan(0);
  });
});

describe("maxLevel", () => {
  test("curves stop at 1000 by default, so one award cannot cross millions of levels", () => {
    expect(levels.linear({ step: 1 }).levelFor(10_000)).toBe(1000);
    expect(levels.linear({ step: 1 }).pointsFor(1001)).toBe(Infinity);
    expect(levels.custom((p) => p + 1).levelFor(5000)).toBe(1000);
  });

  test("maxLevel raises or lowers the cap", () => {
    expect(levels.linear({ step: 1, maxLevel: 5000 }).levelFor(10_000)).toBe(5000);
    expect(levels.quadratic({ base: 100, maxLevel: 3 }).levelFor(10_000)).toBe(3);
    expect(levels.exponential({ base: 100, factor: 2, maxLevel: 2 }).levelFor(700)).toBe(2);
    expect(levels.custom((p) => p + 1, { maxLevel: 7 }).pointsFor(8)).toBe(Infinity);
  });

  test.each([0, -1, 1.5, 1_000_001, Number.NaN])("maxLevel %s is rejected with INVALID_ARGUMENT", (maxLevel) => {
    expectCode(() => levels.linear({ step: 1, maxLevel }), "INVALID_ARGUMENT");
  });
});

describe("properties", () => {
  test("levelFor(pointsFor(n)) === n and levelFor(pointsFor(n) - 1) === n - 1 for n >= 2", () => {
    const arb = curveArb.chain((c) => {
      const max = Math.max(2, maxSafeLevel(c.curve));
      return fc.tuple(fc.constant(c), fc.integer({ min: 2, max }));
    });
    fc.assert(
      fc.property(arb, ([c, n]) => {
        const threshold = c.curve.pointsFor(n);
        if (!(threshold <= MAX)) return; // a table shorter than n never reaches it
        expect(c.curve.levelFor(threshold), `${c.label}: levelFor(pointsFor(${n}) = ${threshold})`).toBe(n);
        expect(c.curve.levelFor(threshold - 1), `${c.label}: levelFor(pointsFor(${n}) - 1 = ${threshold - 1})`).toBe(n - 1);
      }),
      { numRuns: 500 },
    );
  });

  test("the round trip holds at small levels too (where rounding and off-by-ones show)", () => {
    fc.assert(
      fc.property(curveArb, fc.integer({ min: 2, max: 40 }), (c, n) => {
        const threshold = c.curve.pointsFor(n);
        if (!(threshold <= MAX)) return;
        expect(c.curve.levelFor(threshold), c.label).toBe(n);
        expect(c.curve.levelFor(threshold - 1), c.label).toBe(n - 1);
      }),
      { numRuns: 500 },
    );
  });

  test("pointsFor is non-decreasing in the level", () => {
    fc.assert(
      fc.property(curveArb, fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 50 }), (c, n, gap) => {
        expect(c.curve.pointsFor(n + gap), c.label).toBeGreaterThanOrEqual(c.curve.pointsFor(n));
      }),
    );
  });

  test("levelFor is non-decreasing and returns an integer >= 1", () => {
    // Totals stay below MAX_SAFE_INTEGER here; the very top of the range is covered (out of
    // process, so a hang cannot stall the run) in "large totals" below.
    const points = fc.oneof(
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: MAX - 1 }),
      fc.integer({ min: -1000, max: 100_000 }),
    );
    fc.assert(
      fc.property(curveArb, points, points, (c, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const levelLo = c.curve.levelFor(lo);
        const levelHi = c.curve.levelFor(hi);
        expect(Number.isInteger(levelLo) && levelLo >= 1, `${c.label}: levelFor(${lo}) = ${levelLo}`).toBe(true);
        expect(levelHi, `${c.label}: levelFor(${lo}) <= levelFor(${hi})`).toBeGreaterThanOrEqual(levelLo);
      }),
      { numRuns: 500 },
    );
  });

  test("levelFor agrees with pointsFor: pointsFor(level) <= total < pointsFor(level + 1)", () => {
    fc.assert(
      fc.property(curveArb, fc.integer({ min: 0, max: 2 ** 50 }), (c, total) => {
        const level = c.curve.levelFor(total);
        expect(c.curve.pointsFor(level), c.label).toBeLessThanOrEqual(total);
        expect(c.curve.pointsFor(level + 1), c.label).toBeGreaterThan(total);
      }),
      { numRuns: 500 },
    );
  });

  test("linear matches floor(points / step) + 1 for integer steps", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 2 ** 50 }), (step, points) => {
        expect(levels.linear({ step, maxLevel: 1_000_000 }).levelFor(points)).toBe(Math.min(1_000_000, Math.floor(points / step) + 1));
      }),
    );
  });
});

describe("levels.custom", () => {
  const perHundred = (p: number) => Math.floor(p / 100) + 1;

  test("levelFor is the function's result", () => {
    const curve = levels.custom(perHundred);
    expect(curve.levelFor(0)).toBe(1);
    expect(curve.levelFor(250)).toBe(3);
    expect(curve.levelFor(10_000)).toBe(101);
  });

  test("pointsFor inverts the function by search", () => {
    const curve = levels.custom(perHundred, { maxLevel: 1_000_000 });
    expect(curve.pointsFor(1)).toBe(0);
    expect(curve.pointsFor(2)).toBe(100);
    expect(curve.pointsFor(3)).toBe(200);
    expect(curve.pointsFor(101)).toBe(10_000);
    expect(curve.pointsFor(1_000_000)).toBe(99_999_900);
    expect(curve.pointsFor(1_000_001)).toBe(Infinity);
  });

  test("pointsFor of a jumping function is the first total reaching the level", () => {
    const curve = levels.custom((p) => (p >= 1000 ? 5 : 1));
    expect(curve.pointsFor(2)).toBe(1000);
    expect(curve.pointsFor(5)).toBe(1000);
    expect(curve.pointsFor(6)).toBe(Infinity);
  });

  test("pointsFor when the function starts above level 1 is 0", () => {
    const curve = levels.custom(() => 3);
    expect(curve.pointsFor(2)).toBe(0);
    expect(curve.pointsFor(3)).toBe(0);
    expect(curve.pointsFor(4)).toBe(Infinity);
  });

  test("pointsFor is Infinity for a level the function never reaches", () => {
    expect(levels.custom(() => 1).pointsFor(2)).toBe(Infinity);
    expect(levels.custom((p) => Math.min(10, perHundred(p))).pointsFor(11)).toBe(Infinity);
  });

  test("property: pointsFor(n) is exactly (n - 1) * step for floor(p / step) + 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 1_000_000 }), (step, n) => {
        fc.pre((n - 1) * step <= 2 ** 50);
        const curve = levels.custom((p) => Math.floor(p / step) + 1, { maxLevel: 1_000_000 });
        expect(curve.pointsFor(n)).toBe((n - 1) * step);
      }),
    );
  });

  test.each([
    ["a fraction", 1.5],
    ["zero", 0],
    ["a negative number", -1],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["an unsafe integer", 2 ** 53],
    ["a string", "2" as unknown as number],
    ["undefined", undefined as unknown as number],
  ])("levelFor throws INVALID_ARGUMENT when the function returns %s", (_name, value) => {
    const curve = levels.custom(() => value);
    expectCode(() => curve.levelFor(10), "INVALID_ARGUMENT");
  });

  test("the function's result is checked on every call", () => {
    const curve = levels.custom((p) => (p < 100 ? 1 : 0.5));
    expect(curve.levelFor(50)).toBe(1);
    expectCode(() => curve.levelFor(150), "INVALID_ARGUMENT");
  });

  test("levels.custom needs a function", () => {
    expectCode(() => levels.custom("level" as never), "INVALID_ARGUMENT");
    expectCode(() => levels.custom(undefined as never), "INVALID_ARGUMENT");
  });
});

describe("toLevelCurve", () => {
  test("a curve is returned as is", () => {
    const curve = levels.linear({ step: 10 });
    expect(toLevelCurve(curve)).toBe(curve);
  });

  test("a plain function becomes a checked custom curve", () => {
    const curve = toLevelCurve((p) => Math.floor(p / 10) + 1);
    expect(curve.levelFor(25)).toBe(3);
    expect(curve.pointsFor(3)).toBe(20);
    expectCode(() => toLevelCurve(() => 0).levelFor(5), "INVALID_ARGUMENT");
  });
});

describe("invalid construction arguments throw INVALID_ARGUMENT", () => {
  test.each([
    ["empty", []],
    ["not starting at 0", [1, 100]],
    ["starting at a negative number", [-10, 0, 100]],
    ["repeated threshold", [0, 100, 100]],
    ["decreasing", [0, 250, 100]],
    ["a fraction", [0, 1.5]],
    ["NaN", [0, NaN]],
    ["Infinity", [0, Infinity]],
    ["an unsafe integer", [0, 2 ** 53]],
    ["a string", [0, "100"] as unknown as number[]],
  ])("table: %s", (_name, thresholds) => {
    expectCode(() => levels.table(thresholds), "INVALID_ARGUMENT");
  });

  test("table: not an array", () => {
    expectCode(() => levels.table(undefined as never), "INVALID_ARGUMENT");
    expectCode(() => levels.table(null as never), "INVALID_ARGUMENT");
    expectCode(() => levels.table("0,100" as never), "INVALID_ARGUMENT");
    expectCode(() => levels.table({ 0: 0, length: 1 } as never), "INVALID_ARGUMENT");
  });

  const badPositive: [string, unknown][] = [
    ["0", 0],
    ["-0", -0],
    ["negative", -100],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["a string", "100"],
    ["undefined", undefined],
  ];

  test.each(badPositive)("linear: step %s", (_name, step) => {
    expectCode(() => levels.linear({ step: step as number }), "INVALID_ARGUMENT");
  });

  test.each(badPositive)("quadratic: base %s", (_name, base) => {
    expectCode(() => levels.quadratic({ base: base as number }), "INVALID_ARGUMENT");
  });

  test.each(badPositive)("exponential: base %s", (_name, base) => {
    expectCode(() => levels.exponential({ base: base as number, factor: 2 }), "INVALID_ARGUMENT");
  });

  test.each([
    ["1", 1],
    ["below 1", 0.5],
    ["0", 0],
    ["negative", -2],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["a string", "2"],
    ["undefined", undefined],
  ])("exponential: factor %s", (_name, factor) => {
    expectCode(() => levels.exponential({ base: 100, factor: factor as number }), "INVALID_ARGUMENT");
  });

  test("the error names the offending field", () => {
    const cases: [() => unknown, string][] = [
      [() => levels.linear({ step: 0 }), "step"],
      [() => levels.quadratic({ base: -1 }), "base"],
      [() => levels.exponential({ base: 0, factor: 2 }), "base"],
      [() => levels.exponential({ base: 1, factor: 1 }), "factor"],
      [() => levels.table([0, 5, 5]), "thresholds"],
    ];
    for (const [fn, field] of cases) {
      try {
        fn();
        expect.unreachable(`expected a throw for ${field}`);
      } catch (error) {
        expect(error).toBeInstanceOf(GamifyError);
        expect((error as GamifyError).details["field"]).toBe(field);
      }
    }
  });

  test("valid edge arguments are accepted", () => {
    expect(levels.linear({ step: 1 }).levelFor(2)).toBe(3);
    expect(levels.quadratic({ base: 1 }).levelFor(4)).toBe(3);
    expect(levels.exponential({ base: 1, factor: 1.5 }).levelFor(0)).toBe(1);
    expect(levels.table([0, MAX]).levelFor(MAX)).toBe(2);
  });
});

describe("large totals near Number.MAX_SAFE_INTEGER", () => {
  // Run in a child process with a timeout: an endless loop inside levelFor would otherwise
  // freeze the test worker instead of failing the test.
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const levelsUrl = pathToFileURL(fileURLToPath(new URL("../src/levels.ts", import.meta.url))).href;
  const script = `
    const [, url, kind, params] = process.argv;
    const { levels } = await import(url);
    const curve = levels[kind](JSON.parse(params));
    const total = 2 ** 53 - 1;
    const level = curve.levelFor(total);
    const lower = curve.pointsFor(level);
    const upper = curve.pointsFor(level + 1);
    process.stdout.write(JSON.stringify({ level, bracketed: lower <= total && upper > total }));
  `;

  test.each([
    ["linear", { step: 100 }],
    ["linear", { step: 3 }],
    ["linear", { step: 1 }],
    ["quadratic", { base: 100 }],
    ["quadratic", { base: 1 }],
    ["exponential", { base: 100, factor: 2 }],
    ["exponential", { base: 1, factor: 1.0001 }],
  ])("%s(%j).levelFor(2 ** 53 - 1) returns a finite integer quickly", (kind, params) => {
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, levelsUrl, kind, JSON.stringify(params)], {
      cwd: root,
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(child.signal, `levelFor(2 ** 53 - 1) did not return within 10 s (killed by ${child.signal})`).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout) as { level: number; bracketed: boolean };
    expect(Number.isInteger(out.level) && Number.isFinite(out.level)).toBe(true);
    expect(out.level).toBeGreaterThan(1);
    expect(out.bracketed, "pointsFor(level) <= total < pointsFor(level + 1)").toBe(true);
  });
});
