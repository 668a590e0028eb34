import assert from "node:assert/strict";
import { GamifyError, type GamifyErrorCode } from "@gamifykit/core";

/**
 * The two functions of a test runner the suites need. Vitest, Jest, Mocha (`it`), `node:test`
 * and Bun all fit: pass `{ describe, test }` (or `{ describe, test: it }`).
 */
export interface SuiteRunner {
  describe: (name: string, fn: () => void) => void;
  test: (name: string, fn: () => Promise<void> | void, timeout?: number) => void;
}

/** Options shared by every suite. */
export interface SuiteOptions {
  /** Shown in test names, e.g. `redis`. */
  name?: string;
  /** Concurrent awards in the concurrency tests. Default 500. */
  concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 500;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const WEEK = 7 * DAY;

/** The suite's title: `storage conformance (redis)`. */
export function suiteTitle(kind: string, options: SuiteOptions): string {
  return options.name === undefined || options.name === "" ? `${kind} conformance` : `${kind} conformance (${options.name})`;
}

/** The validated `concurrency` option. */
export function concurrencyOf(options: SuiteOptions): number {
  const n = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`concurrency must be a positive integer; got ${String(n)}.`);
  return n;
}

/**
 * Asserts that `action` (a promise, or a function that returns a value or a promise, so
 * synchronous throws count too) fails with a {@link GamifyError} of `code`. Returns the error.
 */
export async function expectGamifyError(action: Promise<unknown> | (() => unknown), code: GamifyErrorCode, what?: string): Promise<GamifyError> {
  const label = what === undefined ? "" : ` (${what})`;
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    const value = typeof action === "function" ? await action() : await action;
    outcome = { ok: true, value };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) {
    assert.fail(`expected a GamifyError with code ${code}${label}, but the call succeeded with ${safeJson(outcome.value)}`);
  }
  const { error } = outcome;
  if (!(error instanceof GamifyError)) {
    assert.fail(`expected a GamifyError with code ${code}${label}, but got ${error instanceof Error ? `${error.name}: ${error.message}` : safeJson(error)}`);
  }
  assert.equal(error.code, code, `expected error code ${code}${label}, got ${error.code}: ${error.message}`);
  return error;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Runs `fn`, then `cleanup` whatever happened; a cleanup failure never hides the test's own failure. */
export async function withCleanup<T>(resource: T, cleanup: (resource: T) => Promise<void>, fn: (resource: T) => Promise<void>): Promise<void> {
  try {
    await fn(resource);
  } catch (error) {
    await cleanup(resource).catch(() => undefined);
    throw error;
  }
  await cleanup(resource);
}

/** `[0, 1, …, n - 1]`. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** `prefix-00`, `prefix-01`, … (zero-padded so they sort in creation order). */
export function userIds(prefix: string, n: number): string[] {
  const width = String(Math.max(0, n - 1)).length;
  return range(n).map((i) => `${prefix}-${String(i).padStart(width, "0")}`);
}

/** Resolves after `ms` milliseconds (lets a store's clock move on between tie-break steps). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets listeners scheduled by the engine run before counting what they saw. */
export function flush(): Promise<void> {
  return sleep(0);
}

/** Epoch ms of a wall-clock time at a fixed UTC offset in hours (e.g. -5 for EST). */
export function wallTime(y: number, month: number, d: number, h = 0, mi = 0, s = 0, ms = 0, utcOffsetHours = 0): number {
  return Date.UTC(y, month - 1, d, h, mi, s, ms) - utcOffsetHours * HOUR;
}

/** Numbers compared with -0 treated as 0 (node:assert/strict tells them apart). */
export function assertSameNumber(actual: number, expected: number, message?: string): void {
  assert.equal(actual === 0 ? 0 : actual, expected === 0 ? 0 : expected, message);
}

/** Asserts `values` has no duplicates. */
export function assertUnique(values: readonly unknown[], message: string): void {
  assert.equal(new Set(values).size, values.length, message);
}
