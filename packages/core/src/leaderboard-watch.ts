import type { Emitter } from "./emitter.js";
import type { LeaderboardRankChangedEvent } from "./events.js";
import type { BoardInfo } from "./leaderboard.js";
import type { LeaderboardStore, RankedEntry, RankMode } from "./types.js";

/** A watched board an award is about to move, with the awarded user's place before it. */
export interface WatchedBoard {
  readonly target: BoardInfo;
  readonly top: number;
  /** The user's ordinal entry before the award; null when they were not on the board. */
  readonly before: RankedEntry | null;
}

interface Row {
  readonly userId: string;
  readonly score: number;
}

/** Ranks of the first rows of a board (a prefix of its full order), numbered by `mode`. */
function ranked(rows: readonly Row[], mode: RankMode): Map<string, { rank: number; score: number }> {
  const out = new Map<string, { rank: number; score: number }>();
  let rank = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Row;
    const prev = rows[i - 1];
    if (mode === "ordinal") rank = i + 1;
    else if (prev === undefined || prev.score !== row.score) rank = mode === "standard" ? i + 1 : rank + 1;
    out.set(row.userId, { rank, score: row.score });
  }
  return out;
}

/**
 * `leaderboard_rank_changed` for watched boards (`watch: { top: N }`). Before an award the engine
 * reads the awarded user's ordinal place on each watched board it moves; after, the board's first
 * N + 1 rows. Every other user keeps their score and tie-break, so the rows before the award are
 * the rows after with the user put back at their old place: the diff is exactly what this award
 * changed, so each change is announced once, by the engine that made the award, without shared
 * state. Concurrent awards to the same board may see each other's moves in their reads.
 */
export function createWatcher(store: LeaderboardStore, emitter: Emitter, clock: () => number) {
  return {
    /** The watched boards among `targets`, with the user's place before the award. */
    async before(userId: string, targets: readonly BoardInfo[]): Promise<WatchedBoard[]> {
      const watched = targets.filter((t) => t.settings.watch?.periods.has(t.period) === true);
      return Promise.all(
        watched.map(async (target) => ({ target, top: target.settings.watch?.top ?? 0, before: await store.rank(target.board, userId, "ordinal") })),
      );
    },

    /** Reads each board after the award (`delta`: the applied change) and emits the rank changes. */
    async after(userId: string, boards: readonly WatchedBoard[], delta: number, causeId: string): Promise<LeaderboardRankChangedEvent[]> {
      if (delta === 0 || boards.length === 0) return [];
      const events: LeaderboardRankChangedEvent[] = [];
      const now = clock();
      for (const { target, top, before } of boards) {
        const mode = target.settings.mode;
        const rows = await store.top(target.board, { offset: 0, limit: top + 1, mode: "ordinal" });
        const others = rows.filter((r) => r.userId !== userId);
        const previous: Row[] = [...others];
        if (before !== null && before.rank - 1 <= previous.length) previous.splice(before.rank - 1, 0, { userId, score: before.score });
        const was = ranked(previous.slice(0, top), mode);
        const is = ranked(rows.slice(0, top), mode);
        const newScore = (before?.score ?? 0) + delta;
        for (const id of new Set([...was.keys(), ...is.keys()])) {
          const a = was.get(id);
          const b = is.get(id);
          if (a?.rank === b?.rank) continue;
          events.push({
            id: `${causeId}:rank:${target.board}:${id}`,
            type: "leaderboard_rank_changed",
            userId: id,
            at: now,
            metric: target.metric,
            period: target.period,
            key: target.key,
            ...(target.scope === undefined ? {} : { scope: target.scope }),
            board: target.board,
            rank: b?.rank ?? null,
            previousRank: a?.rank ?? null,
            score: b?.score ?? (id === userId ? newScore : (a?.score ?? 0)),
            top,
            causedBy: userId,
          });
        }
      }
      for (const event of events) emitter.emit(event);
      return events;
    },
  };
}

export type Watcher = ReturnType<typeof createWatcher>;
