import { resolve } from "node:path";
import { GamifyError, checkTimeZone } from "@gamifykit/core";

/**
 * When an acknowledged write is safe:
 * - `fsync`: after `fdatasync(2)`; survives a process crash and a power loss. Writes arriving in
 *   the same tick (and while a sync is running) share one sync (group commit).
 * - `batch`: after `write(2)`; survives a process crash. The log is synced every
 *   `batchIntervalMs`, so a power loss or OS crash loses at most that window.
 * - `none`: after `write(2)`; survives a process crash, never synced except on `close()`.
 */
export type Durability = "fsync" | "batch" | "none";

/** Options for {@link fileStores}, {@link fileStorage}, {@link fileLeaderboards} and {@link fileAnalytics}. */
export interface FileStoreOptions {
  /** Directory holding the snapshot, the log segments and the lock file. Created when missing. */
  readonly directory: string;
  /** When a write is acknowledged; see {@link Durability}. Default `fsync`. */
  readonly durability?: Durability;
  /** Log records after which a snapshot is written and the log starts a new segment. Default 10,000. */
  readonly compactEvery?: number;
  /** With `durability: "batch"`: milliseconds between syncs of the log. Default 100. */
  readonly batchIntervalMs?: number;
  /** How long an idempotency key is remembered, in milliseconds. Default 24 hours. */
  readonly idempotencyTtlMs?: number;
  /** IANA time zone of the analytics buckets. Default `UTC`. Fixed per directory once analytics exist. */
  readonly timeZone?: string;
  /** Milliseconds since the epoch, compared with leaderboards' `expiresAt`. Default `Date.now`. */
  readonly clock?: () => number;
}

/** {@link FileStoreOptions} with every default filled in. */
export interface ResolvedOptions {
  readonly directory: string;
  readonly durability: Durability;
  readonly compactEvery: number;
  readonly batchIntervalMs: number;
  readonly idempotencyTtlMs: number;
  readonly timeZone: string;
  readonly clock: () => number;
}

const DAY_MS = 86_400_000;

function invalid(field: string, message: string): GamifyError {
  return new GamifyError("INVALID_ARGUMENT", message, { details: { field } });
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(field, `${field} must be a positive integer; got ${String(value)}.`);
  }
  return value;
}

/** Validates options once, at construction (no I/O happens there). */
export function resolveOptions(options: FileStoreOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw invalid("options", "Pass options: { directory: string }.");
  const { directory, durability = "fsync" } = options;
  if (typeof directory !== "string" || directory === "") {
    throw invalid("directory", "directory must be a non-empty path where the file store keeps its data.");
  }
  if (durability !== "fsync" && durability !== "batch" && durability !== "none") {
    throw invalid("durability", `durability must be "fsync", "batch" or "none"; got ${String(durability)}.`);
  }
  if (options.clock !== undefined && typeof options.clock !== "function") throw invalid("clock", "clock must be a function returning epoch milliseconds.");
  return {
    // Absolute, so a later chdir() cannot move the store and messages show the real place.
    directory: resolve(directory),
    durability,
    compactEvery: positiveInteger(options.compactEvery, "compactEvery", 10_000),
    batchIntervalMs: positiveInteger(options.batchIntervalMs, "batchIntervalMs", 100),
    idempotencyTtlMs: positiveInteger(options.idempotencyTtlMs, "idempotencyTtlMs", DAY_MS),
    timeZone: checkTimeZone(options.timeZone ?? "UTC"),
    clock: options.clock ?? Date.now,
  };
}
