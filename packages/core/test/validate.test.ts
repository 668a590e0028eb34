import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GAMIFY_ERROR_CODES, GamifyError, invalidArgument, isGamifyError, type GamifyErrorCode } from "../src/errors.js";
import {
  checkAmount,
  checkBadge,
  checkCount,
  checkIdempotencyKey,
  checkMetadata,
  checkMetric,
  checkTimestamp,
  checkUserId,
} from "../src/validate.js";

/** Returns what `fn` threw, failing when it returned. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable("expected a throw");
}

function expectInvalid(fn: () => unknown, field?: string): void {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(GamifyError);
  expect((error as GamifyError).code).toBe("INVALID_ARGUMENT");
  if (field !== undefined) expect((error as GamifyError).details["field"]).toBe(field);
}

const nameChecks = [
  ["checkUserId", checkUserId, "userId"],
  ["checkMetric", checkMetric, "metric"],
  ["checkBadge", checkBadge, "badge"],
  ["checkIdempotencyKey", checkIdempotencyKey, "idempotencyKey"],
] as const;

describe.each(nameChecks)("%s", (_name, check, field) => {
  test.each([
    "a",
    "alice",
    "User_42",
    "a.b-c_d:e@f|g",
    "user@example.com",
    "0",
    "x".repeat(128),
    "550e8400-e29b-41d4-a716-446655440000",
  ])("accepts %j and returns it", (value) => {
    expect(check(value)).toBe(value);
  });

  test.each([
    ["empty", ""],
    ["a space", "a b"],
    ["129 characters", "x".repeat(129)],
    ["a slash", "x/y"],
    ["a backslash", "x\\y"],
    ["a trailing newline", "alice\n"],
    ["a leading space", " alice"],
    ["a non-ASCII letter", "jos\u00e9"],
    ["an emoji", "\u{1F600}"],
    ["a question mark", "a?b"],
    ["a hash", "a#b"],
    ["a NUL", "a\u0000b"],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => check(value), field);
  });

  test.each([
    ["a number", 42],
    ["null", null],
    ["undefined", undefined],
    ["an object", { id: "alice" }],
    ["an array", ["alice"]],
    ["a boolean", true],
    ["a bigint", 1n],
    ["a String object", new String("alice")],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => check(value), field);
  });

  test("property: accepts exactly 1-128 characters from A-Z a-z 0-9 _ - . : @ |", () => {
    const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:@|";
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128, unit: fc.constantFrom(...allowed) }), (value) => {
        expect(check(value)).toBe(value);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (value) => {
        const valid = value.length >= 1 && value.length <= 128 && [...value].every((ch) => allowed.includes(ch));
        if (valid) expect(check(value)).toBe(value);
        else expectInvalid(() => check(value), field);
      }),
    );
  });
});

describe("checkAmount", () => {
  test.each([1, 2, 42, 1_000_000, Number.MAX_SAFE_INTEGER])("accepts %d", (value) => {
    expect(checkAmount(value)).toBe(value);
  });

  test.each([
    ["0", 0],
    ["-0", -0],
    ["-1", -1],
    ["1.5", 1.5],
    ["0.5", 0.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["2 ** 53", 2 ** 53],
    ["MIN_SAFE_INTEGER", Number.MIN_SAFE_INTEGER],
    ["a numeric string", "1"],
    ["a bigint", 1n],
    ["null", null],
    ["undefined", undefined],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => checkAmount(value), "amount");
  });

  test("property: accepts every positive safe integer, rejects other numbers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(checkAmount(value)).toBe(value);
      }),
    );
    fc.assert(
      fc.property(fc.double(), (value) => {
        if (Number.isSafeInteger(value) && value > 0) expect(checkAmount(value)).toBe(value);
        else expectInvalid(() => checkAmount(value), "amount");
      }),
    );
  });
});

describe("checkTimestamp", () => {
  test.each([0, 1, 1_700_000_000_000, Number.MAX_SAFE_INTEGER])("accepts %d", (value) => {
    expect(checkTimestamp(value)).toBe(value);
  });

  test("converts a Date to epoch milliseconds", () => {
    const date = new Date("2024-03-01T12:00:00.000Z");
    const ms = checkTimestamp(date);
    expect(ms).toBe(date.getTime());
    expect(typeof ms).toBe("number");
    expect(checkTimestamp(new Date(0))).toBe(0);
  });

  test.each([
    ["negative", -1],
    ["NaN", NaN],
    ["a fraction", 1.5],
    ["Infinity", Infinity],
    ["an unsafe integer", 2 ** 53],
    ["an ISO string", "2024-03-01T12:00:00.000Z"],
    ["an invalid Date", new Date(NaN)],
    ["a Date before 1970", new Date("1969-12-31T23:59:59.999Z")],
    ["null", null],
    ["undefined", undefined],
    ["a bigint", 1n],
    ["a date-like object", { getTime: (): number => 0 }],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => checkTimestamp(value), "at");
  });

  test("the error names the given field", () => {
    expectInvalid(() => checkTimestamp(-5, "since"), "since");
    expect(checkTimestamp(new Date(5), "until")).toBe(5);
  });
});

describe("checkCount", () => {
  test("defaults to 0..10000", () => {
    expect(checkCount(0, "limit")).toBe(0);
    expect(checkCount(1, "limit")).toBe(1);
    expect(checkCount(10_000, "limit")).toBe(10_000);
    expectInvalid(() => checkCount(-1, "limit"), "limit");
    expectInvalid(() => checkCount(10_001, "limit"), "limit");
  });

  test("honours min and max", () => {
    const opts = { min: 1, max: 5 };
    expect(checkCount(1, "radius", opts)).toBe(1);
    expect(checkCount(5, "radius", opts)).toBe(5);
    expectInvalid(() => checkCount(0, "radius", opts), "radius");
    expectInvalid(() => checkCount(6, "radius", opts), "radius");
    expect(checkCount(50_000, "offset", { max: 100_000 })).toBe(50_000);
    expectInvalid(() => checkCount(0, "page", { min: 1 }), "page");
  });

  test.each([
    ["a fraction", 1.5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["a numeric string", "10"],
    ["null", null],
    ["undefined", undefined],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => checkCount(value, "limit"), "limit");
  });

  test("property: accepts exactly the integers in [min, max]", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -2000, max: 2000 }), (a, b, value) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        if (value >= min && value <= max) expect(checkCount(value, "n", { min, max })).toBe(value);
        else expectInvalid(() => checkCount(value, "n", { min, max }), "n");
      }),
    );
  });
});

describe("checkMetadata", () => {
  test("undefined means no metadata", () => {
    expect(checkMetadata(undefined)).toBeUndefined();
  });

  test("accepts plain JSON objects", () => {
    expect(checkMetadata({})).toEqual({});
    const value = { source: "quiz", score: 9.5, tags: ["a", "b"], nested: { ok: true, none: null } };
    expect(checkMetadata(value)).toEqual(value);
  });

  test("returns a deep copy", () => {
    const value = { nested: { list: [1, 2, { deep: "x" }] }, n: 1 };
    const copy = checkMetadata(value);
    expect(copy).toEqual(value);
    expect(copy).not.toBe(value);
    expect(copy?.["nested"]).not.toBe(value.nested);
    (copy?.["nested"] as { list: unknown[] }).list.push(3);
    (copy as Record<string, unknown>)["n"] = 2;
    expect(value).toEqual({ nested: { list: [1, 2, { deep: "x" }] }, n: 1 });
    value.nested.list.push(4);
    expect((copy?.["nested"] as { list: unknown[] }).list).toEqual([1, 2, { deep: "x" }, 3]);
  });

  test("the copy is what JSON would store (undefined members dropped)", () => {
    expect(checkMetadata({ a: 1, b: undefined })).toEqual({ a: 1 });
    expect(Object.keys(checkMetadata({ a: 1, b: undefined }) ?? {})).toEqual(["a"]);
  });

  test.each([
    ["null", null],
    ["an array", [1, 2]],
    ["an empty array", []],
    ["a string", "meta"],
    ["a number", 1],
    ["a boolean", false],
    ["a function", () => ({})],
    ["a bigint", 1n],
  ])("rejects %s", (_label, value) => {
    expectInvalid(() => checkMetadata(value), "metadata");
  });

  test("rejects cycles", () => {
    const value: Record<string, unknown> = { a: 1 };
    value["self"] = value;
    expectInvalid(() => checkMetadata(value), "metadata");
    const deep: { child: { parent?: unknown } } = { child: {} };
    deep.child.parent = deep;
    expectInvalid(() => checkMetadata(deep), "metadata");
  });

  test("rejects BigInt members", () => {
    expectInvalid(() => checkMetadata({ n: 1n }), "metadata");
  });

  test("accepts up to 16 KiB of JSON, rejects more", () => {
    // {"s":"…"} is 8 characters plus the string.
    const atLimit = { s: "x".repeat(16_384 - 8) };
    expect(JSON.stringify(atLimit)).toHaveLength(16_384);
    expect(checkMetadata(atLimit)).toEqual(atLimit);
    expectInvalid(() => checkMetadata({ s: "x".repeat(16_384 - 7) }), "metadata");
    expectInvalid(() => checkMetadata({ s: "x".repeat(100_000) }), "metadata");
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`key${i}`, i]));
    expectInvalid(() => checkMetadata(many), "metadata");
  });

  // "Metadata must be a plain JSON object so every adapter can store it": whatever is accepted must
  // come back as a plain object, and whatever is refused must be refused with INVALID_ARGUMENT.
  test("an object whose toJSON returns undefined is rejected with INVALID_ARGUMENT", () => {
    expectInvalid(() => checkMetadata({ toJSON: () => undefined }), "metadata");
  });

  test("an object whose JSON is not an object (a Date) is rejected or returned as a plain object", () => {
    let result: unknown;
    try {
      result = checkMetadata(new Date(0));
    } catch (error) {
      expect(isGamifyError(error, "INVALID_ARGUMENT")).toBe(true);
      return;
    }
    expect(typeof result).toBe("object");
    expect(result).not.toBeNull();
    expect(Array.isArray(result)).toBe(false);
  });
});

describe("GamifyError", () => {
  test("carries name, code, message, details and cause", () => {
    const cause = new Error("driver failed");
    const error = new GamifyError("STORAGE_UNAVAILABLE", "storage is down", { cause, details: { retryAfter: 5 } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(GamifyError);
    expect(error.name).toBe("GamifyError");
    expect(error.code).toBe("STORAGE_UNAVAILABLE");
    expect(error.message).toBe("storage is down");
    expect(error.details).toEqual({ retryAfter: 5 });
    expect(error.cause).toBe(cause);
    expect(typeof error.stack).toBe("string");
  });

  test("details default to an empty object and cause is absent when not given", () => {
    const error = new GamifyError("NOT_FOUND", "no such user");
    expect(error.details).toEqual({});
    expect("cause" in error).toBe(false);
    expect(error.cause).toBeUndefined();
  });

  test("a falsy cause is kept", () => {
    expect(new GamifyError("INTERNAL", "x", { cause: 0 }).cause).toBe(0);
    expect("cause" in new GamifyError("INTERNAL", "x", { cause: null })).toBe(true);
  });

  test("String(error) starts with the name", () => {
    expect(String(new GamifyError("CONFLICT", "taken"))).toBe("GamifyError: taken");
  });

  test("invalidArgument builds an INVALID_ARGUMENT error with details", () => {
    const error = invalidArgument("bad", { field: "userId" });
    expect(error).toBeInstanceOf(GamifyError);
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.details).toEqual({ field: "userId" });
    expect(invalidArgument("bad").details).toEqual({});
  });
});

describe("isGamifyError", () => {
  const error = new GamifyError("NOT_FOUND", "missing");

  test("without a code: true for any GamifyError only", () => {
    expect(isGamifyError(error)).toBe(true);
    expect(isGamifyError(invalidArgument("x"))).toBe(true);
    expect(isGamifyError(new Error("x"))).toBe(false);
    expect(isGamifyError({ name: "GamifyError", code: "NOT_FOUND", message: "fake" })).toBe(false);
    expect(isGamifyError(null)).toBe(false);
    expect(isGamifyError(undefined)).toBe(false);
    expect(isGamifyError("NOT_FOUND")).toBe(false);
  });

  test("with a code: true only when the code matches", () => {
    expect(isGamifyError(error, "NOT_FOUND")).toBe(true);
    expect(isGamifyError(error, "INVALID_ARGUMENT")).toBe(false);
    expect(isGamifyError(new Error("x"), "NOT_FOUND")).toBe(false);
    for (const code of GAMIFY_ERROR_CODES) {
      expect(isGamifyError(new GamifyError(code, "x"), code)).toBe(true);
    }
  });

  test("narrows the type", () => {
    const value: unknown = error;
    if (isGamifyError(value)) {
      const code: GamifyErrorCode = value.code;
      expect(code).toBe("NOT_FOUND");
    } else {
      expect.unreachable("expected a GamifyError");
    }
  });
});

describe("GAMIFY_ERROR_CODES", () => {
  // A Record keyed by the union: the compiler fails this file when a code is added to or removed
  // from GamifyErrorCode without updating the list here.
  const every: Record<GamifyErrorCode, true> = {
    INVALID_ARGUMENT: true,
    NOT_FOUND: true,
    CONFLICT: true,
    OUT_OF_RANGE: true,
    UNAUTHENTICATED: true,
    PERMISSION_DENIED: true,
    RATE_LIMITED: true,
    PAYLOAD_TOO_LARGE: true,
    STORAGE_UNAVAILABLE: true,
    CLOSED: true,
    INTERNAL: true,
  };

  test("contains every code exactly once", () => {
    expect(new Set(GAMIFY_ERROR_CODES).size).toBe(GAMIFY_ERROR_CODES.length);
    expect([...GAMIFY_ERROR_CODES].sort()).toEqual(Object.keys(every).sort());
  });

  test("codes are SCREAMING_SNAKE_CASE strings", () => {
    for (const code of GAMIFY_ERROR_CODES) expect(code).toMatch(/^[A-Z]+(?:_[A-Z]+)*$/);
  });
});
