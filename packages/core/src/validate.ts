import { GamifyError, invalidArgument } from "./errors.js";
import type { RankMode } from "./types.js";

/** Ids, metric and badge names: 1–128 characters from a URL- and key-safe set. */
const NAME = /^[A-Za-z0-9_.:@|-]{1,128}$/;

function checkName(kind: string, value: unknown): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw invalidArgument(
      `${kind} must be a string of 1-128 characters from A-Z a-z 0-9 _ - . : @ | (got ${describe(value)}).`,
      { field: kind, value: typeof value === "string" ? value.slice(0, 200) : typeof value },
    );
  }
  return value;
}

/** Validates a user id. */
export const checkUserId = (value: unknown): string => checkName("userId", value);
/** Validates a metric name. */
export const checkMetric = (value: unknown): string => checkName("metric", value);
/** Validates a badge name. */
export const checkBadge = (value: unknown): string => checkName("badge", value);
/** Validates an idempotency key (same charset, up to 128 characters). */
export const checkIdempotencyKey = (value: unknown): string => checkName("idempotencyKey", value);

/** Validates an award amount: a positive safe integer. */
export function checkAmount(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw invalidArgument(
      `amount must be a positive safe integer (1 to ${Number.MAX_SAFE_INTEGER}); got ${describe(value)}. ` +
        "Use removePoints to deduct.",
      { field: "amount" },
    );
  }
  return value;
}

/** Validates a timestamp in epoch milliseconds (or a Date). */
export function checkTimestamp(value: unknown, field = "at"): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0) {
    throw invalidArgument(`${field} must be a Date or epoch milliseconds (a non-negative integer); got ${describe(value)}.`, {
      field,
    });
  }
  return ms;
}

/** Validates an optional human-readable reason: a string of at most 256 characters. */
export function checkReason(value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== "string" || value.length > 256)) {
    throw invalidArgument(`reason must be a string of at most 256 characters; got ${describe(value)}.`, { field: "reason" });
  }
  return value;
}

/** Validates a positive integer option such as `limit` or `radius`. */
export function checkCount(value: unknown, field: string, { min = 0, max = 10_000 } = {}): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${field} must be an integer from ${min} to ${max}; got ${describe(value)}.`, { field });
  }
  return value;
}

/** Validates a ranking mode. */
export function checkRankMode(mode: unknown): RankMode {
  if (mode !== "standard" && mode !== "dense" && mode !== "ordinal") {
    throw invalidArgument(`mode must be "standard", "dense" or "ordinal"; got ${describe(mode)}.`, { field: "mode" });
  }
  return mode;
}

/**
 * Validates a leaderboard score or delta: an integer (INVALID_ARGUMENT otherwise) inside the
 * safe-integer range (OUT_OF_RANGE otherwise). Returns 0 for -0.
 */
export function checkScore(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw invalidArgument(`${field} must be an integer; got ${describe(value)}.`, { field });
  }
  if (!Number.isSafeInteger(value)) {
    throw new GamifyError("OUT_OF_RANGE", `${field} would leave the safe-integer range (got ${value}).`, {
      details: { field, value, max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER },
    });
  }
  // -0 would otherwise be stored and handed back; it equals 0 everywhere except Object.is.
  return value === 0 ? 0 : value;
}

/** Metadata must be a plain JSON object so every adapter can store it. */
export function checkMetadata(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidArgument(`metadata must be a plain object; got ${describe(value)}.`, { field: "metadata" });
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw invalidArgument("metadata must be JSON-serialisable (no cycles, no BigInt).", { field: "metadata", cause: String(cause) });
  }
  if (json !== undefined && utf8Length(json) > 16_384) {
    throw invalidArgument(`metadata must serialise to at most 16 KiB of JSON; got ${utf8Length(json)} bytes.`, { field: "metadata" });
  }
  // A toJSON method can turn an object into a string, an array or nothing.
  const copy: unknown = json === undefined ? undefined : JSON.parse(json);
  if (copy === null || typeof copy !== "object" || Array.isArray(copy)) {
    throw invalidArgument("metadata must serialise to a JSON object (check its toJSON method).", { field: "metadata" });
  }
  return copy as Record<string, unknown>;
}

/** Short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  if (typeof value === "bigint") return `${value}n`;
  return Array.isArray(value) ? "an array" : typeof value;
}

/** UTF-8 byte length without TextEncoder, which core's type environment does not declare. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}
