import { GamifyError } from "@gamifykit/core";

/** Wraps an I/O failure: says what failed and what to check. GamifyErrors pass through unchanged. */
export function unavailable(what: string, cause?: unknown): GamifyError {
  if (cause instanceof GamifyError) return cause;
  const reason = cause instanceof Error ? `: ${cause.message}` : "";
  return new GamifyError("STORAGE_UNAVAILABLE", `${what}${reason}`, cause === undefined ? {} : { cause });
}

/** The error every call on a closed store throws. */
export function closedError(kind: string): GamifyError {
  return new GamifyError("CLOSED", `This file ${kind} was closed; create a new one.`);
}

/** The errno code of a Node system error, if any. */
export function errnoOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
}
