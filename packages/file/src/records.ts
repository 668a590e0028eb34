import type { AwardOutcome, GamifyEvent } from "@gamifykit/core";

/**
 * The log records. Each is the outcome of one mutating call, not its request: replaying a record
 * sets what the call computed (totals, levels, events), so replay needs no level curves and is
 * deterministic. Live calls apply the same record through the same code as replay.
 */
export type StorageRecord =
  | {
      readonly op: "award";
      readonly userId: string;
      readonly now: number;
      /** New totals and levels of the metrics the call changed. */
      readonly points: Readonly<Record<string, number>>;
      readonly levels: Readonly<Record<string, number>>;
      /** Events to append, in order. */
      readonly events: readonly GamifyEvent[];
      /** [key, expiresAt, outcome] of every idempotency key the call used. */
      readonly idempotency: readonly (readonly [string, number, AwardOutcome])[];
    }
  | { readonly op: "badge"; readonly userId: string; readonly badge: string; readonly event: GamifyEvent }
  | { readonly op: "revoke"; readonly userId: string; readonly badge: string; readonly event: GamifyEvent }
  | { readonly op: "claim"; readonly userId: string; readonly key: string; readonly at: number }
  | { readonly op: "events"; readonly events: readonly GamifyEvent[] }
  | { readonly op: "deleteUser"; readonly userId: string };

/** One board update of an increment. */
export interface BoardUpdate {
  readonly board: string;
  readonly delta: number;
  readonly expiresAt?: number | undefined;
}

/** Leaderboard records carry the clock (`t`) so expiry decisions replay identically. */
export type BoardRecord =
  | { readonly op: "board.increment"; readonly t: number; readonly userId: string; readonly updates: readonly BoardUpdate[] }
  | { readonly op: "board.set"; readonly t: number; readonly board: string; readonly userId: string; readonly score: number }
  | { readonly op: "board.remove"; readonly t: number; readonly board: string; readonly userId: string }
  | { readonly op: "board.removeUser"; readonly t: number; readonly userId: string };

/** Analytics records carry their bucket keys, computed once in the store's time zone. */
export type AnalyticsRecord =
  | {
      readonly op: "analytics.record";
      readonly userId: string;
      /** Day, week and month keys. */
      readonly keys: readonly [string, string, string];
      readonly type: string;
      readonly metric?: string;
      readonly delta?: number;
    }
  | { readonly op: "analytics.forget"; readonly userId: string };

export type LogRecord = StorageRecord | BoardRecord | AnalyticsRecord;

const OPS = new Set<string>([
  "award",
  "badge",
  "revoke",
  "claim",
  "events",
  "deleteUser",
  "board.increment",
  "board.set",
  "board.remove",
  "board.removeUser",
  "analytics.record",
  "analytics.forget",
]);

/** True for a parsed line that names a known op (the fields are trusted: this store wrote them). */
export function isLogRecord(value: unknown): value is LogRecord {
  return typeof value === "object" && value !== null && typeof (value as { op?: unknown }).op === "string" && OPS.has((value as { op: string }).op);
}
