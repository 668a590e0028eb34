import { GamifyError } from "@gamifykit/core";

/** A driver error's identifying fields (pg sets `code`, mysql2 sets `errno` and `code`). */
interface DriverError {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly message?: unknown;
}

function fields(error: unknown): DriverError {
  return typeof error === "object" && error !== null ? (error as DriverError) : {};
}

/**
 * True for errors a transaction may simply be retried after: deadlocks and serialization failures
 * (PostgreSQL 40001/40P01), deadlocks (MySQL 1213) and, once, lock wait timeouts (MySQL 1205).
 */
export function isRetryable(error: unknown, attempt: number): boolean {
  const { code, errno } = fields(error);
  // A lock wait timeout already waited long (50 s by default): one more try, not eight.
  if (errno === 1205) return attempt === 1;
  return code === "40001" || code === "40P01" || errno === 1213;
}

/**
 * True when the error says the award routine `name` does not exist (PostgreSQL 42883, MySQL
 * 1305): the tables were migrated by an older version, before migration 0003.
 */
export function isMissingRoutine(error: unknown, name: string): boolean {
  const { code, errno, message } = fields(error);
  return (code === "42883" || errno === 1305) && String(message).includes(name.replace(/["`]/g, ""));
}

/** True when the error says one of the adapter's tables does not exist. */
function isMissingTable(error: unknown): boolean {
  const { code, errno } = fields(error);
  return code === "42P01" || errno === 1146;
}

/**
 * Wraps a driver or connection error into `STORAGE_UNAVAILABLE`, saying what failed. A
 * GamifyError (OUT_OF_RANGE from the award arithmetic, INVALID_ARGUMENT) passes through.
 */
export function wrapError(error: unknown, what: string): GamifyError {
  if (error instanceof GamifyError) return error;
  const detail = String(fields(error).message ?? error);
  const hint = isMissingTable(error)
    ? "the adapter's tables are missing: run `gamifykit-sql migrate --url <url>` or `await migrate(options)` with the same tablePrefix first"
    : isRetryable(error, 0)
      ? "it kept conflicting with concurrent transactions after several retries; try again, or reduce contention on this user"
      : "check that the database is reachable, the credentials and database name are right, and the pool is not exhausted";
  return new GamifyError("STORAGE_UNAVAILABLE", `SQL ${what} failed (${detail}); ${hint}.`, { cause: error });
}

/** The error every method throws after `close()`. */
export function closedError(what: string): GamifyError {
  return new GamifyError("CLOSED", `This SQL ${what} was closed; create a new one.`);
}
