/** Every code a {@link GamifyError} can carry. The HTTP layer maps each to a status. */
export type GamifyErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "OUT_OF_RANGE"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "RATE_LIMITED"
  | "PAYLOAD_TOO_LARGE"
  | "STORAGE_UNAVAILABLE"
  | "CLOSED"
  | "INTERNAL";

/** The codes, for exhaustive checks and for mapping tables. */
export const GAMIFY_ERROR_CODES: readonly GamifyErrorCode[] = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "CONFLICT",
  "OUT_OF_RANGE",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "RATE_LIMITED",
  "PAYLOAD_TOO_LARGE",
  "STORAGE_UNAVAILABLE",
  "CLOSED",
  "INTERNAL",
];

/** Options for {@link GamifyError}. */
export interface GamifyErrorOptions {
  /** The underlying error (a driver error, a failed parse). */
  cause?: unknown;
  /** Structured detail for programs: the offending field, the limit, the value. */
  details?: Readonly<Record<string, unknown>>;
}

// A global brand, so `instanceof GamifyError` holds across duplicate copies of core (ESM and CJS
// builds loaded side by side, or two installed versions).
const BRAND = Symbol.for("gamifykit.GamifyError");

/**
 * The one error class GamifyKit throws. Branch on `code`, never on the message:
 * messages are written for people and may be reworded.
 */
export class GamifyError extends Error {
  override readonly name = "GamifyError";
  readonly code: GamifyErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: GamifyErrorCode, message: string, options: GamifyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** True when `value` is a {@link GamifyError}, optionally with the given code. */
export function isGamifyError(value: unknown, code?: GamifyErrorCode): value is GamifyError {
  return value instanceof GamifyError && (code === undefined || value.code === code);
}

/** Shorthand for the most common error: a caller passed something unusable. */
export function invalidArgument(message: string, details?: Record<string, unknown>): GamifyError {
  return new GamifyError("INVALID_ARGUMENT", message, details ? { details } : {});
}
