import type { LeaderboardStore, RankMode, RankedEntry } from "@gamifykit/core";
import type { Attachment } from "./database.js";
import type { BoardUpdate } from "./records.js";

/**
 * The file {@link LeaderboardStore}: core's memory leaderboards (O(log n) ranks), with every
 * change logged. Changes resolve once their log record is acknowledged.
 */
export class FileLeaderboards implements LeaderboardStore {
  readonly name = "file";

  constructor(private readonly link: Attachment) {}

  async increment(updates: readonly { readonly board: string; readonly delta: number; readonly expiresAt?: number | undefined }[], userId: string): Promise<number[]> {
    const db = await this.link.db();
    // Copied field by field: the record holds exactly what replay needs.
    const copy: BoardUpdate[] = updates.map((u) => (u.expiresAt === undefined ? { board: u.board, delta: u.delta } : { board: u.board, delta: u.delta, expiresAt: u.expiresAt }));
    return db.writeBoards<number[]>((t) => ({ op: "board.increment", t, userId, updates: copy }));
  }

  async set(board: string, userId: string, score: number): Promise<void> {
    const db = await this.link.db();
    await db.writeBoards<undefined>((t) => ({ op: "board.set", t, board, userId, score }));
  }

  async remove(board: string, userId: string): Promise<boolean> {
    const db = await this.link.db();
    return db.writeBoards<boolean>((t) => ({ op: "board.remove", t, board, userId }));
  }

  async removeUser(userId: string): Promise<void> {
    const db = await this.link.db();
    await db.writeBoards<undefined>((t) => ({ op: "board.removeUser", t, userId }));
  }

  async top(board: string, options: { offset: number; limit: number; mode: RankMode }): Promise<RankedEntry[]> {
    const db = await this.link.db();
    return db.boards.at(db.now()).top(board, options);
  }

  async rank(board: string, userId: string, mode: RankMode): Promise<RankedEntry | null> {
    const db = await this.link.db();
    return db.boards.at(db.now()).rank(board, userId, mode);
  }

  async around(board: string, userId: string, options: { radius: number; mode: RankMode }): Promise<RankedEntry[]> {
    const db = await this.link.db();
    return db.boards.at(db.now()).around(board, userId, options);
  }

  async count(board: string): Promise<number> {
    const db = await this.link.db();
    return db.boards.at(db.now()).count(board);
  }

  async countAround(board: string, score: number): Promise<{ above: number; equal: number }> {
    const db = await this.link.db();
    return db.boards.at(db.now()).countAround(board, score);
  }

  async health(): Promise<void> {
    await this.link.db();
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
