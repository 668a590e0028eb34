import type { Emitter } from "./emitter.js";
import { LEADERBOARD_USER_ID, type LeaderboardFinishedEvent } from "./events.js";
import type { BoardSettings } from "./leaderboard-config.js";
import { scopeRegistryId, type BoardInfo, type Leaderboards } from "./leaderboard.js";
import { periodKeysBetween, periodRange, periodRangeAt } from "./periods.js";
import type { LeaderboardStore, Storage } from "./types.js";

/** How far back a lazy pass looks for unannounced periods: a month and a bit, within retention. */
const LAZY_LOOKBACK_MS = 35 * 86_400_000;
/** Bounds the per-process memo of buckets already handled. */
const MAX_MEMO = 50_000;
/** Registry pages read at once. */
const PAGE = 1000;

interface FinisherDeps {
  readonly boards: Leaderboards;
  readonly store: LeaderboardStore;
  readonly storage: Storage;
  readonly emitter: Emitter;
  readonly clock: () => number;
}

/**
 * Finishes periods: once a bucket's end plus `finishAfter` has passed, reads the winners of its
 * board (and of every scoped board registered for it), claims `lbf:<board>` on the reserved user
 * through `Storage.claimOnce` so exactly one engine announces it, logs and emits
 * `leaderboard_finished`. No timer of its own: the engine calls {@link Finisher.poke} on awards
 * and reads, and `gk.finishLeaderboards()` calls {@link Finisher.finish}.
 */
export function createFinisher({ boards, store, storage, emitter, clock }: FinisherDeps) {
  const finishing = boards.configured().filter((s) => s.finishAfter !== undefined);
  /** Buckets (unscoped board ids) this process has finished or seen finished. */
  const done = new Set<string>();
  /** Registry entries this process has written, so a scope is registered once per bucket. */
  const registered = new Set<string>();
  /** The earliest instant at which another bucket becomes due; -Infinity until the first pass. */
  let nextCheckAt = finishing.length === 0 ? Infinity : -Infinity;
  let inFlight: Promise<unknown> | undefined;
  let pokedDuringPass = false;

  const remember = (set: Set<string>, key: string): void => {
    if (set.size >= MAX_MEMO) set.clear();
    set.add(key);
  };

  /** When the next bucket of any finishing metric becomes due after `now`. */
  const nextDue = (now: number): number => {
    let next = Infinity;
    for (const s of finishing) {
      const grace = s.finishAfter as number;
      for (const period of s.periods) {
        if (period === "all") continue;
        next = Math.min(next, periodRangeAt(period, Math.max(0, now - grace), s.timeZone).end + grace);
      }
      for (const season of s.seasons) if (season.end + grace > now) next = Math.min(next, season.end + grace);
    }
    return next;
  };

  /** Due buckets of one metric whose finish time lies in (since, now]. */
  const dueBuckets = (s: BoardSettings, since: number, now: number): BoardInfo[] => {
    const grace = s.finishAfter as number;
    const horizon = now - grace;
    const out: BoardInfo[] = [];
    const from = Math.max(0, since - grace);
    for (const period of s.periods) {
      if (period === "all" || horizon <= from) continue;
      for (const key of periodKeysBetween(period, from, horizon, s.timeZone)) {
        const range = periodRange(period, key, s.timeZone);
        if (range.end <= horizon && range.end > from) out.push(boards.info(s, period, key, range, undefined));
      }
    }
    for (const season of s.seasons) {
      if (season.end <= horizon && season.end > from) out.push(boards.info(s, "season", season.id, season, undefined));
    }
    return out;
  };

  /** Scoped boards registered for a bucket. */
  const scopesOf = async (bucket: BoardInfo): Promise<string[]> => {
    const registry = scopeRegistryId(bucket.metric, bucket.period, bucket.key);
    const scopes: string[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await store.top(registry, { offset, limit: PAGE, mode: "ordinal" });
      for (const entry of page) scopes.push(entry.userId.slice(1));
      if (page.length < PAGE) return scopes;
    }
  };

  const finishBoard = async (board: BoardInfo, now: number): Promise<LeaderboardFinishedEvent | undefined> => {
    const s = board.settings;
    const winners = await store.top(board.board, { offset: 0, limit: s.winners, mode: s.mode });
    // An empty board has nothing to announce (and, being finished, takes no more awards).
    if (winners.length === 0) return undefined;
    const count = await store.count(board.board);
    if (!(await storage.claimOnce(LEADERBOARD_USER_ID, `lbf:${board.board}`, now))) return undefined;
    const event: LeaderboardFinishedEvent = {
      id: `lbf:${board.board}`,
      type: "leaderboard_finished",
      userId: LEADERBOARD_USER_ID,
      at: now,
      metric: board.metric,
      period: board.period,
      key: board.key,
      ...(board.scope === undefined ? {} : { scope: board.scope }),
      board: board.board,
      start: board.start,
      end: board.end,
      winners: winners.map(({ userId, score, rank }) => ({ userId, score, rank })),
      count,
    };
    try {
      await storage.appendEvents([event]);
    } catch (error) {
      // The claim is taken: announce anyway rather than lose the event; report the failed write.
      emitter.reportError(error, event);
    }
    emitter.emit(event);
    return event;
  };

  /** Finishes every due bucket whose finish time lies in (since, now]; returns the events it emitted. */
  const finish = async (now: number, since?: number): Promise<LeaderboardFinishedEvent[]> => {
    const events: LeaderboardFinishedEvent[] = [];
    for (const s of finishing) {
      const lookback = Math.min(LAZY_LOOKBACK_MS, s.keep ?? Infinity);
      for (const bucket of dueBuckets(s, since ?? now - lookback, now)) {
        if (done.has(bucket.board)) continue;
        const targets = [bucket, ...(await scopesOf(bucket)).map((scope) => boards.info(s, bucket.period, bucket.key, bucket, scope))];
        for (const target of targets) {
          const event = await finishBoard(target, now);
          if (event !== undefined) events.push(event);
        }
        remember(done, bucket.board);
      }
    }
    nextCheckAt = nextDue(now);
    return events;
  };

  /** Starts a background pass when a bucket has become due; `track` keeps it visible to close(). */
  const poke = (track: (work: () => Promise<unknown>) => void): void => {
    if (finishing.length === 0) return;
    if (inFlight !== undefined) {
      // Look again when the running pass ends: the clock may have passed another period end.
      pokedDuringPass = true;
      return;
    }
    const now = clock();
    if (now < nextCheckAt) return;
    // Until the pass completes, later pokes wait for it instead of starting another.
    nextCheckAt = Infinity;
    track(() => {
      inFlight = finish(now)
        .catch((error: unknown) => {
          nextCheckAt = now; // try again on the next poke
          emitter.reportError(error);
        })
        .finally(() => {
          inFlight = undefined;
          if (pokedDuringPass) {
            pokedDuringPass = false;
            poke(track);
          }
        });
      return inFlight;
    });
  };

  return {
    /** True when any metric finishes periods. */
    enabled: finishing.length > 0,
    finish,

    poke,

    /**
     * Registers scoped boards of finishing periods before an award writes them, so a later pass
     * finds them; one store call per new (bucket, scope) per process.
     */
    async register(targets: readonly BoardInfo[]): Promise<void> {
      const byScope = new Map<string, { board: string; delta: number; expiresAt?: number }[]>();
      for (const t of targets) {
        if (t.scope === undefined || t.period === "all" || t.settings.finishAfter === undefined) continue;
        const registry = scopeRegistryId(t.metric, t.period, t.key);
        const memo = `${registry}|${t.scope}`;
        if (registered.has(memo)) continue;
        let list = byScope.get(t.scope);
        if (list === undefined) byScope.set(t.scope, (list = []));
        list.push(t.expiresAt === undefined ? { board: registry, delta: 0 } : { board: registry, delta: 0, expiresAt: t.expiresAt });
      }
      await Promise.all(
        [...byScope].map(async ([scope, updates]) => {
          await store.increment(updates, `#${scope}`);
          for (const u of updates) remember(registered, `${u.board}|${scope}`);
        }),
      );
    },
  };
}

export type Finisher = ReturnType<typeof createFinisher>;
