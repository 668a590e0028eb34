import { GamifyError } from "../errors.js";
import type { LeaderboardStore, RankMode, RankedEntry } from "../types.js";
import { checkCount, checkRankMode as checkMode, checkScore } from "../validate.js";
import { OrderedIndex } from "./ordered-index.js";

interface Board {
  readonly name: string;
  /** The entries, and the user → entry table (`index.handleOf`): one lookup finds a user's entry. */
  readonly index: OrderedIndex;
  expiresAt: number | undefined;
}

/** The boards a user is on: one board (the common case) without allocating a set. */
type UserBoards = Board | Set<Board>;

/** Expired boards are swept on writes at most this often; reads drop them lazily anyway. */
const SWEEP_INTERVAL_MS = 60_000;

/** Above this many updates in one call, repeated boards are found with a map instead of a scan. */
const LINEAR_SCAN_MAX = 8;

function checkExpiry(expiresAt: unknown): void {
  if (expiresAt !== undefined && (typeof expiresAt !== "number" || Number.isNaN(expiresAt))) {
    throw new GamifyError("INVALID_ARGUMENT", `expiresAt must be epoch milliseconds; got ${String(expiresAt)}.`, {
      details: { field: "expiresAt" },
    });
  }
}

function closedError(): GamifyError {
  return new GamifyError("CLOSED", "The memory leaderboard store is closed.");
}


/** Options for {@link memoryLeaderboards}. */
export interface MemoryLeaderboardsOptions {
  /**
   * Milliseconds since the epoch, compared with `expiresAt`. Default `Date.now`. Pass the engine's
   * clock when it is not the real time, or boards of "finished" periods vanish early or late.
   */
  readonly clock?: () => number;
}

class MemoryLeaderboardStore implements LeaderboardStore {
  readonly name = "memory";
  private readonly clock: () => number;
  private boards = new Map<string, Board>();
  /** Boards each user is on, so removeUser costs O(that user's boards). */
  private userBoards = new Map<string, UserBoards>();
  /** Boards with an expiry, so a sweep skips the rest. */
  private expiring = new Set<Board>();
  /** Tie-break stamp: the store-wide order in which scores last changed. */
  private seq = 0;
  private lastSweep = 0;
  private closed = false;

  constructor(clock: () => number) {
    this.clock = clock;
  }

  async increment(
    updates: readonly { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }[],
    userId: string,
  ): Promise<number[]> {
    this.assertOpen();
    const n = updates.length;
    if (n === 1) return [this.incrementOne(updates[0]!, userId)];
    const totals = new Array<number>(n);
    // Handles found while validating, so applying does not look the user up twice (a cold lookup
    // is the largest cost of an update on a big board).
    const found = new Array<number>(n).fill(-1);
    // Validate everything before touching anything, so a failed call changes nothing.
    const pending = n > LINEAR_SCAN_MAX ? new Map<string, number>() : undefined;
    for (let u = 0; u < n; u++) {
      const update = updates[u]!;
      const delta = checkScore(update.delta, "delta");
      checkExpiry(update.expiresAt);
      // A board repeated within the call accumulates from its earlier total.
      let base: number | undefined;
      if (pending === undefined) {
        for (let p = u - 1; p >= 0; p--) {
          if (updates[p]!.board === update.board) {
            base = totals[p]!;
            break;
          }
        }
      } else {
        base = pending.get(update.board);
      }
      if (base === undefined) {
        const b = this.live(update.board);
        const h = b === undefined ? -1 : b.index.handleOf(userId);
        found[u] = h;
        base = h < 0 ? 0 : b!.index.scoreOf(h);
      }
      const total = base + delta;
      checkScore(total, `score on board ${update.board}`);
      totals[u] = total;
      pending?.set(update.board, total);
    }
    for (let u = 0; u < n; u++) {
      const update = updates[u]!;
      // Phase one already dropped expired boards; re-checking here could split a call across two boards.
      const board = this.boards.get(update.board) ?? this.create(update.board);
      if (update.expiresAt !== undefined) {
        board.expiresAt = update.expiresAt;
        this.expiring.add(board);
      }
      // -1 when the user was new, or the board repeats: look again, an earlier update may have added
      // the user (and an insert may renumber the board's handles).
      const h = found[u]!;
      this.write(board, userId, totals[u]!, h >= 0 ? h : board.index.handleOf(userId));
    }
    this.maybeSweep();
    return totals;
  }

  /** `increment` with one update: the hot path of an award, without the bookkeeping arrays. */
  private incrementOne(update: { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }, userId: string): number {
    const delta = checkScore(update.delta, "delta");
    checkExpiry(update.expiresAt);
    const board = this.live(update.board);
    const h = board === undefined ? -1 : board.index.handleOf(userId);
    const total = (h < 0 ? 0 : board!.index.scoreOf(h)) + delta;
    // The message names the board; build it only when the check fails.
    if (!Number.isSafeInteger(total)) checkScore(total, `score on board ${update.board}`);
    const b = board ?? this.create(update.board);
    if (update.expiresAt !== undefined) {
      b.expiresAt = update.expiresAt;
      this.expiring.add(b);
    }
    this.write(b, userId, total, h);
    this.maybeSweep();
    return total;
  }

  async set(board: string, userId: string, score: number): Promise<void> {
    this.assertOpen();
    const value = checkScore(score, "score");
    const b = this.live(board) ?? this.create(board);
    this.write(b, userId, value, b.index.handleOf(userId));
    this.maybeSweep();
  }

  async remove(board: string, userId: string): Promise<boolean> {
    this.assertOpen();
    const b = this.live(board);
    if (b === undefined) return false;
    const h = b.index.handleOf(userId);
    if (h < 0) return false;
    b.index.remove(h);
    this.unlink(userId, b);
    if (b.index.size === 0) this.drop(b);
    return true;
  }

  async removeUser(userId: string): Promise<void> {
    this.assertOpen();
    const mine = this.userBoards.get(userId);
    if (mine === undefined) return;
    // Forget the set first so dropping an emptied board does not edit it mid-iteration.
    this.userBoards.delete(userId);
    for (const b of mine instanceof Set ? mine : [mine]) {
      const h = b.index.handleOf(userId);
      if (h < 0) continue;
      b.index.remove(h);
      if (b.index.size === 0) this.drop(b);
    }
  }

  async top(board: string, options: { offset: number; limit: number; mode: RankMode }): Promise<RankedEntry[]> {
    this.assertOpen();
    const offset = checkCount(options.offset, "offset", { max: Number.MAX_SAFE_INTEGER });
    const limit = checkCount(options.limit, "limit", { max: Number.MAX_SAFE_INTEGER });
    const mode = checkMode(options.mode);
    const b = this.live(board);
    if (b === undefined) return [];
    return b.index.page(offset, offset + limit, mode);
  }

  async rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null> {
    this.assertOpen();
    checkMode(mode);
    const b = this.live(board);
    if (b === undefined) return null;
    const h = b.index.handleOf(userId);
    if (h < 0) return null;
    return { userId, score: b.index.scoreOf(h), rank: b.index.rankOf(h, mode) };
  }

  async around(board: string, userId: string, options: { radius: number; mode: RankMode }): Promise<RankedEntry[]> {
    this.assertOpen();
    const radius = checkCount(options.radius, "radius", { max: Number.MAX_SAFE_INTEGER });
    const mode = checkMode(options.mode);
    const b = this.live(board);
    if (b === undefined) return [];
    const index = b.index;
    const h = index.handleOf(userId);
    if (h < 0) return [];
    const pos = index.positionOfHandle(h);
    const width = 2 * radius + 1;
    // Shift the window off the edges so it stays full when the board is big enough.
    const start = Math.max(0, Math.min(pos - radius, index.size - width));
    return index.page(start, start + width, mode);
  }

  async count(board: string): Promise<number> {
    this.assertOpen();
    return this.live(board)?.index.size ?? 0;
  }

  async countAround(board: string, score: number): Promise<{ above: number; equal: number }> {
    this.assertOpen();
    if (typeof score !== "number" || Number.isNaN(score)) {
      throw new GamifyError("INVALID_ARGUMENT", `score must be a number; got ${String(score)}.`, { details: { field: "score" } });
    }
    const b = this.live(board);
    if (b === undefined) return { above: 0, equal: 0 };
    const above = b.index.countAbove(score);
    return { above, equal: b.index.countAtLeast(score) - above };
  }

  async health(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.boards.clear();
    this.userBoards.clear();
    this.expiring.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  /** The board, unless it is absent or expired (an expired board is dropped on the spot). */
  private live(name: string): Board | undefined {
    const b = this.boards.get(name);
    if (b !== undefined && b.expiresAt !== undefined && b.expiresAt <= this.clock()) {
      this.drop(b);
      return undefined;
    }
    return b;
  }

  private create(name: string): Board {
    const b: Board = { name, index: new OrderedIndex(), expiresAt: undefined };
    this.boards.set(name, b);
    return b;
  }

  /** Sets a score; re-stamps the tie-break only when the score actually changes. */
  private write(b: Board, userId: string, score: number, h: number): void {
    if (h < 0) {
      b.index.insert(score, ++this.seq, userId);
      const mine = this.userBoards.get(userId);
      if (mine === undefined) this.userBoards.set(userId, b);
      else if (mine instanceof Set) mine.add(b);
      else if (mine !== b) this.userBoards.set(userId, new Set([mine, b]));
    } else if (b.index.scoreOf(h) !== score) {
      b.index.move(h, score, ++this.seq);
    }
  }

  /** Forgets that the user is on board `b`. */
  private unlink(userId: string, b: Board): void {
    const mine = this.userBoards.get(userId);
    if (mine === b) this.userBoards.delete(userId);
    else if (mine instanceof Set) {
      mine.delete(b);
      if (mine.size === 0) this.userBoards.delete(userId);
    }
  }

  /** Forgets a board and its users' links to it; O(users on the board). */
  private drop(b: Board): void {
    if (this.boards.get(b.name) === b) this.boards.delete(b.name);
    this.expiring.delete(b);
    b.index.forEachInRange(0, b.index.size, (userId) => this.unlink(userId, b));
  }

  private maybeSweep(): void {
    if (this.expiring.size === 0) return;
    const now = this.clock();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const b of this.expiring) if (b.expiresAt !== undefined && b.expiresAt <= now) this.drop(b);
  }
}

/**
 * An in-memory {@link LeaderboardStore}: ranks, pages and windows in O(log n) per call, for
 * tests, single-process apps and as the reference the other adapters are checked against.
 * State lives in the process and is lost on exit; nothing is shared between instances.
 * A board given an `expiresAt` is dropped once the clock passes it.
 *
 * @example
 * ```ts
 * const boards = memoryLeaderboards();
 * await boards.increment([{ board: "points:all", delta: 10 }], "ana");
 * await boards.increment([{ board: "points:all", delta: 10 }], "ben");
 * await boards.rank("points:all", "ben", "standard"); // { userId: "ben", score: 10, rank: 1 }
 * await boards.rank("points:all", "ben", "ordinal"); // { userId: "ben", score: 10, rank: 2 }
 * ```
 */
export function memoryLeaderboards(options: MemoryLeaderboardsOptions = {}): LeaderboardStore {
  return new MemoryLeaderboardStore(options.clock ?? Date.now);
}
