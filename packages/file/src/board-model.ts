import { memoryLeaderboards, type LeaderboardStore } from "@gamifykit/core";
import type { BoardRecord } from "./records.js";

/** A board as stored in the snapshot: entries best first, ties in tie-break order. */
interface SavedBoard {
  readonly board: string;
  readonly expiresAt: number | null;
  readonly entries: [string, number][];
}

/** The leaderboard part of a snapshot. */
export interface SavedBoards {
  readonly boards: SavedBoard[];
}

/**
 * The in-memory state behind {@link fileLeaderboards}: core's `memoryLeaderboards()` (the
 * reference implementation) driven by a clock this class sets, so that expiry decisions made
 * live are made identically on replay (each record carries its time `t`).
 *
 * Mutations run one at a time ({@link BoardModel.exclusive}), so a record is appended to the log
 * before the next mutation starts and the log order is the apply order.
 */
export class BoardModel {
  private now = 0;
  private store: LeaderboardStore = memoryLeaderboards({ clock: () => this.now });
  /** Boards that may hold entries, and the expiry each was last given (mirrors the memory store). */
  private expiry = new Map<string, number | undefined>();
  private lock: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every earlier exclusive call has finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** The memory store, its clock set to `at`, for reads. */
  at(at: number): LeaderboardStore {
    this.now = at;
    return this.store;
  }

  /** Applies a record (call inside {@link BoardModel.exclusive}); returns what the call returns. */
  async apply(record: BoardRecord): Promise<number[] | boolean | undefined> {
    const store = this.store;
    switch (record.op) {
      case "board.increment": {
        // A board that is absent (never created, emptied, or expired) is recreated without expiry.
        for (const u of record.updates) {
          this.now = record.t;
          if ((await store.count(u.board)) === 0) this.expiry.set(u.board, undefined);
        }
        this.now = record.t;
        const totals = await store.increment(record.updates, record.userId);
        for (const u of record.updates) if (u.expiresAt !== undefined) this.expiry.set(u.board, u.expiresAt);
        return totals;
      }
      case "board.set": {
        this.now = record.t;
        if ((await store.count(record.board)) === 0) this.expiry.set(record.board, undefined);
        this.now = record.t;
        await store.set(record.board, record.userId, record.score);
        return undefined;
      }
      case "board.remove":
        this.now = record.t;
        return store.remove(record.board, record.userId);
      case "board.removeUser":
        this.now = record.t;
        await store.removeUser(record.userId);
        return undefined;
    }
  }

  /** Every live board (call inside {@link BoardModel.exclusive}). */
  async save(at: number): Promise<SavedBoards> {
    const boards: SavedBoard[] = [];
    for (const [board, expiresAt] of this.expiry) {
      this.now = at;
      const count = await this.store.count(board);
      if (count === 0) {
        this.expiry.delete(board);
        continue;
      }
      this.now = at;
      const entries = await this.store.top(board, { offset: 0, limit: count, mode: "ordinal" });
      boards.push({ board, expiresAt: expiresAt ?? null, entries: entries.map((e) => [e.userId, e.score]) });
    }
    return { boards };
  }

  /** Replaces the state with a snapshot's, taken at time `at`. */
  async load(saved: SavedBoards, at: number): Promise<void> {
    await this.store.close();
    this.store = memoryLeaderboards({ clock: () => this.now });
    this.expiry = new Map();
    for (const { board, expiresAt, entries } of saved.boards) {
      // Setting entries best first re-creates the tie-break order: among equal scores, first set ranks first.
      for (const [userId, score] of entries) {
        this.now = at;
        await this.store.set(board, userId, score);
      }
      const first = entries[0];
      if (expiresAt !== null && first !== undefined) {
        // A zero increment sets the expiry without changing a score or its tie-break time.
        this.now = at;
        await this.store.increment([{ board, delta: 0, expiresAt }], first[0]);
      }
      this.expiry.set(board, expiresAt ?? undefined);
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
