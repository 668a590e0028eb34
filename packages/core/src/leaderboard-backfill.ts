import { LEADERBOARD_USER_ID, type GamifyEvent } from "./events.js";
import type { Finisher } from "./leaderboard-finish.js";
import type { BoardInfo, Leaderboards } from "./leaderboard.js";
import type { LeaderboardPeriod, LeaderboardStore, Storage } from "./types.js";

/** Options of `gk.backfillLeaderboards`. */
export interface LeaderboardBackfillOptions {
  /** Only this metric's boards. Default: every metric found in the log. */
  metric?: string;
  /** Only period buckets that intersect `[from, to)` (the all-time bucket always does). */
  from?: number | Date;
  to?: number | Date;
  /** Only these periods. Default: every period kept for the metric. */
  periods?: readonly LeaderboardPeriod[];
  /** Users read per page. Default 100. */
  batchSize?: number;
  /** Called after each page of users. */
  onProgress?: (progress: LeaderboardBackfillProgress) => void;
}

/** Progress and result of `gk.backfillLeaderboards`. */
export interface LeaderboardBackfillProgress {
  /** Users whose logs were read. */
  readonly users: number;
  /** Points events replayed. */
  readonly events: number;
  /** Board entries whose score was corrected (0 when the boards already matched the log). */
  readonly corrected: number;
}

interface BackfillDeps {
  readonly boards: Leaderboards;
  readonly store: LeaderboardStore;
  readonly storage: Storage;
  readonly finisher: Finisher;
  readonly clock: () => number;
}

interface Target {
  readonly info: BoardInfo;
  score: number;
}

const LOG_PAGE = 1000;

/**
 * Rebuilds boards from the event log. For each user it sums the applied deltas of their points
 * events per board (all-time, period buckets, seasons, scopes recorded on the events), reads their
 * current scores with one zero increment (which also sets the boards' expiry), then adds the
 * difference in one more increment. Running it again changes nothing (idempotent); users on a
 * board without points events in the log are left alone; boards past their retention are skipped.
 */
export async function backfillLeaderboards(deps: BackfillDeps, options: Required<Pick<LeaderboardBackfillOptions, "batchSize">> & {
  readonly metric: string | undefined;
  readonly from: number | undefined;
  readonly to: number | undefined;
  readonly periods: ReadonlySet<LeaderboardPeriod> | undefined;
  readonly onProgress: ((progress: LeaderboardBackfillProgress) => void) | undefined;
}): Promise<LeaderboardBackfillProgress> {
  const { boards, store, storage, finisher, clock } = deps;
  const now = clock();
  const from = options.from ?? Number.MIN_SAFE_INTEGER;
  const to = options.to ?? Number.MAX_SAFE_INTEGER;
  let users = 0;
  let events = 0;
  let corrected = 0;
  let cursor: string | undefined;

  const wanted = (info: BoardInfo): boolean =>
    (options.periods === undefined || options.periods.has(info.period)) &&
    info.start < to &&
    info.end > from &&
    (info.expiresAt === undefined || info.expiresAt > now);

  do {
    const page = await storage.listUsers({ cursor, limit: options.batchSize });
    for (const userId of page.userIds) {
      if (userId === LEADERBOARD_USER_ID) continue;
      const targets = new Map<string, Target>();
      let logCursor: string | undefined;
      do {
        const log = await storage.readEvents(userId, { cursor: logCursor, limit: LOG_PAGE });
        for (const event of log.events) {
          if (!isPoints(event) || (options.metric !== undefined && event.metric !== options.metric)) continue;
          events++;
          const delta = event.type === "points_added" ? event.delta : -event.delta;
          for (const info of boards.boardsAt(event.metric, event.at, event.scopes ?? [], undefined)) {
            if (!wanted(info)) continue;
            const target = targets.get(info.board);
            if (target === undefined) targets.set(info.board, { info, score: delta });
            else target.score += delta;
          }
        }
        logCursor = log.nextCursor ?? undefined;
      } while (logCursor !== undefined);
      users++;
      if (targets.size === 0) continue;
      const list = [...targets.values()];
      await finisher.register(list.map((t) => t.info));
      const expiry = (info: BoardInfo) => (info.expiresAt === undefined ? {} : { expiresAt: info.expiresAt });
      const current = await store.increment(
        list.map((t) => ({ board: t.info.board, delta: 0, ...expiry(t.info) })),
        userId,
      );
      const fixes = list.flatMap((t, i) => {
        const delta = t.score - (current[i] ?? 0);
        return delta === 0 ? [] : [{ board: t.info.board, delta, ...expiry(t.info) }];
      });
      if (fixes.length > 0) await store.increment(fixes, userId);
      corrected += fixes.length;
    }
    options.onProgress?.({ users, events, corrected });
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return { users, events, corrected };
}

function isPoints(event: GamifyEvent): event is GamifyEvent & { type: "points_added" | "points_removed" } {
  return event.type === "points_added" || event.type === "points_removed";
}
