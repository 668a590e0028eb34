import { Emitter, type Channel, type ListenerFor } from "./emitter.js";
import { GamifyError, invalidArgument } from "./errors.js";
import { LEADERBOARD_USER_ID, type ActionEvent, type BadgeAwardedEvent, type BadgeRevokedEvent, type GamifyEvent, type LeaderboardFinishedEvent } from "./events.js";
import { levelEvents } from "./award-math.js";
import { newId } from "./ids.js";
import { checkScopes, createLeaderboards, type BoardInfo, type LeaderboardQuery, type LeaderboardView } from "./leaderboard.js";
import { backfillLeaderboards, type LeaderboardBackfillOptions, type LeaderboardBackfillProgress } from "./leaderboard-backfill.js";
import { createFinisher } from "./leaderboard-finish.js";
import { createWatcher, type WatchedBoard } from "./leaderboard-watch.js";
import { toLevelCurve, type LevelCurve } from "./levels.js";
import { memoryAnalytics } from "./memory/analytics.js";
import { memoryLeaderboards } from "./memory/leaderboards.js";
import { memoryStorage } from "./memory/storage.js";
import type { AwardOptions, BadgeOptions, BatchAward, GamifyOptions, MetricOptions } from "./options.js";
import { checkRules, isThresholdRule, type CountRule, type Rule } from "./rules.js";
import type { AnalyticsBucket, AnalyticsStore, AwardOutcome, AwardRequest, EventPage, Granularity, LeaderboardPeriod, LevelPolicy, UserState } from "./types.js";
import { PERIODS } from "./types.js";
import {
  checkAmount,
  checkBadge,
  checkCount,
  checkIdempotencyKey,
  checkMetadata,
  checkMetric,
  checkReason,
  checkTimestamp,
  checkUserId,
  describe,
} from "./validate.js";

/** The result of a points award. */
export interface AwardResult {
  readonly userId: string;
  readonly metric: string;
  /** The applied change: positive for additions, negative for deductions (clamped by a floor). */
  readonly delta: number;
  readonly total: number;
  readonly previousTotal: number;
  /** The metric's level after the award; null when the metric has no levels. */
  readonly level: number | null;
  readonly previousLevel: number | null;
  /** True when an earlier call with the same idempotency key applied; this is its result. */
  readonly replayed: boolean;
  /** The points event and any `level_up`/`level_down` events this award caused. */
  readonly events: readonly GamifyEvent[];
}

/** The result of {@link Gamify.awardBadge}. */
export interface BadgeResult {
  readonly userId: string;
  readonly badge: string;
  /** False when the user already held the badge. */
  readonly awarded: boolean;
  readonly awardedAt: number;
  readonly events: readonly GamifyEvent[];
}

/** The result of {@link Gamify.revokeBadge}. */
export interface RevokeResult {
  readonly userId: string;
  readonly badge: string;
  readonly revoked: boolean;
  readonly events: readonly GamifyEvent[];
}

/** Progress of {@link Gamify.backfillRules}. */
export interface BackfillProgress {
  /** Users evaluated so far. */
  readonly users: number;
  /** Rule firings so far. */
  readonly fired: number;
}

/** The engine. Create one with {@link createGamify}. */
export interface Gamify {
  /** Adds points (a positive safe integer) to a user's metric. */
  addPoints(userId: string, amount: number, options?: AwardOptions): Promise<AwardResult>;
  /** Deducts points; the metric's `floor` (if any) clamps the total. */
  removePoints(userId: string, amount: number, options?: AwardOptions): Promise<AwardResult>;
  /** Many awards in one call: each user's awards apply together or not at all. Results follow input order. */
  batch(awards: readonly BatchAward[]): Promise<AwardResult[]>;
  /** Gives a badge once; a second award returns `awarded: false`. */
  awardBadge(userId: string, badge: string, options?: BadgeOptions): Promise<BadgeResult>;
  /** Takes a badge away. */
  revokeBadge(userId: string, badge: string, options?: BadgeOptions): Promise<RevokeResult>;
  /** Records something the user did (for count rules and analytics). */
  track(userId: string, action: string, options?: { metadata?: Record<string, unknown>; at?: number | Date }): Promise<ActionEvent>;
  /** The user's state, or null when unknown. */
  getUser(userId: string): Promise<UserState | null>;
  /** Removes a user's state, event log and leaderboard entries. False when unknown. */
  deleteUser(userId: string): Promise<boolean>;
  /** A user's event log, oldest first, by pages. */
  events(userId: string, options?: { cursor?: string; limit?: number }): Promise<EventPage>;
  /** A leaderboard of a metric for a period (default all-time). */
  leaderboard(metric: string, query?: LeaderboardQuery): LeaderboardView;
  /** Aggregated activity; throws NOT_FOUND when analytics are disabled. */
  readonly analytics: {
    aggregate(options: { granularity: Granularity; from: number | Date; to: number | Date }): Promise<AnalyticsBucket[]>;
    activeUsers(options: { granularity: Granularity; at?: number | Date }): Promise<number>;
  };
  /**
   * Finishes every period whose end plus `finishAfter` has passed (by `now`, default the clock) and
   * whose finish time is after `since` (default: 35 days earlier, within retention): emits one
   * `leaderboard_finished` per board across all engines sharing the storage. For cron jobs and
   * serverless hosts; with the default `finishLeaderboards: "lazy"`, awards and reads do it too.
   */
  finishLeaderboards(options?: { now?: number | Date; since?: number | Date }): Promise<LeaderboardFinishedEvent[]>;
  /**
   * Rebuilds boards from the event log (points events, with the scopes they recorded), setting each
   * user's score to what the log says: idempotent, and safe to rerun after a failure.
   */
  backfillLeaderboards(options?: LeaderboardBackfillOptions): Promise<LeaderboardBackfillProgress>;
  /** Evaluates every rule against every existing user (after adding rules to a running system). */
  backfillRules(options?: { batchSize?: number; onProgress?: (progress: BackfillProgress) => void }): Promise<BackfillProgress>;
  /** Subscribes to an event type, `"*"` (all events) or `"error"` (listener failures); returns an unsubscribe function. */
  on<C extends Channel>(channel: C, listener: ListenerFor<C>): () => void;
  /** Subscribes for one event. */
  once<C extends Channel>(channel: C, listener: ListenerFor<C>): () => void;
  /** Unsubscribes. */
  off<C extends Channel>(channel: C, listener: ListenerFor<C>): void;
  /** Checks storage, leaderboards; throws `STORAGE_UNAVAILABLE` when one is down. */
  health(): Promise<void>;
  /** Waits for in-flight calls, then closes every store. Idempotent. */
  close(): Promise<void>;
}

/** Timers exist in every runtime core supports, but core's type environment declares no host APIs. */
const timers = globalThis as unknown as {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(timer: unknown): void;
};

/** Rules may award points that trigger rules; this bounds the chain. */
const MAX_RULE_DEPTH = 8;

type PointsEvent = AwardRequest["event"];

interface PlannedAward {
  readonly index: number;
  readonly userId: string;
  readonly metric: string;
  readonly request: AwardRequest;
  /** The open boards the award moves. */
  readonly targets: readonly BoardInfo[];
}

/**
 * Creates an engine. Every option has a default, so `createGamify()` runs in memory.
 *
 * @example
 * const gk = createGamify({ levels: { xp: levels.quadratic({ base: 100 }) } });
 * await gk.addPoints("alice", 50, { metric: "xp" });
 */
export function createGamify(options: GamifyOptions = {}): Gamify {
  const clock = options.clock ?? Date.now;
  const storage = options.storage ?? memoryStorage();
  // A storage that owns a board store (e.g. `redisStores().storage`) brings it along by default.
  const boardStore = options.leaderboardStore ?? storage.leaderboards ?? memoryLeaderboards({ clock: () => clock() });
  const analytics: AnalyticsStore | undefined = options.analytics === false ? undefined : (options.analytics ?? memoryAnalytics());
  const generateId = options.generateId ?? newId;
  const defaultMetric = checkMetric(options.defaultMetric ?? "points");

  const metricOptions = new Map<string, MetricOptions>();
  for (const [metric, opts] of Object.entries(options.metrics ?? {})) {
    checkMetric(metric);
    if (opts.floor !== undefined && !Number.isSafeInteger(opts.floor)) {
      throw invalidArgument(`metrics.${metric}.floor must be a safe integer; got ${describe(opts.floor)}.`, { field: "floor" });
    }
    metricOptions.set(metric, opts);
  }
  // One policy object per metric, built once: adapters may cache per-policy work (e.g. thresholds).
  const policies = new Map<string, LevelPolicy>();
  for (const [metric, definition] of Object.entries(options.levels ?? {})) {
    const curve: LevelCurve = toLevelCurve(definition);
    policies.set(checkMetric(metric), {
      levelFor: (points) => curve.levelFor(points),
      pointsFor: (level) => curve.pointsFor(level),
      followDown: metricOptions.get(metric)?.levelsFollowDown === true,
    });
  }
  const ruleList: Rule[] = (options.rules ?? []).flat() as Rule[];
  checkRules(ruleList, defaultMetric);
  const boards = createLeaderboards(boardStore, options.leaderboards ?? [], clock);
  // A storage that owns the board store updates boards inside the award itself (one round trip).
  const boardsInStorage = storage.leaderboards !== undefined && storage.leaderboards === boardStore;
  const scopesOf = options.scopesOf;
  if (scopesOf !== undefined && typeof scopesOf !== "function") throw invalidArgument("scopesOf must be a function (userId, metric) => scopes.", { field: "scopesOf" });
  const finishMode = checkFinishMode(options.finishLeaderboards ?? "lazy");

  const emitter = new Emitter();
  const finisher = createFinisher({ boards, store: boardStore, storage, emitter, clock });
  const watcher = createWatcher(boardStore, emitter, clock);
  let closed = false;
  // In-flight calls, so close() can wait for them; a counter is cheaper than tracking promises.
  let pending = 0;
  let drained: (() => void) | undefined;

  /** Runs a public call: refuses after close and lets close() wait for it. */
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) throw new GamifyError("CLOSED", "This engine was closed; create a new one with createGamify().");
    pending++;
    try {
      return await work();
    } finally {
      if (--pending === 0) drained?.();
    }
  };

  const timestamp = (at: number | Date | undefined): number => (at === undefined ? clock() : checkTimestamp(at));

  /** Runs background work (a finish pass) so close() waits for it. */
  const track = (work: () => Promise<unknown>): void => {
    run(work).catch(() => undefined);
  };
  /** The lazy finish check: a comparison, unless a period has become due. */
  const poke = (): void => {
    if (finishMode !== "manual") finisher.poke(track);
  };
  const timer =
    typeof finishMode === "object" && finisher.enabled
      ? timers.setInterval(() => {
          if (!closed) finisher.poke(track);
        }, finishMode.intervalMs)
      : undefined;
  // Do not keep a Node process alive just for the timer (unref exists only there).
  (timer as { unref?: () => void } | undefined)?.unref?.();

  /** The award's own scopes plus those of `scopesOf`, validated and deduplicated. */
  const resolveScopes = async (userId: string, metric: string, given: unknown): Promise<string[]> => {
    const own = checkScopes(given);
    if (scopesOf === undefined) return own;
    const extra = checkScopes(await scopesOf(userId, metric));
    return [...new Set([...own, ...extra])];
  };

  /**
   * Delivers events to listeners and analytics, then lets rules react. Without analytics and rules
   * there is nothing to wait for, so it returns nothing (an award then saves a promise and a tick).
   */
  const publish = (events: readonly GamifyEvent[], depth: number): Promise<void> | undefined => {
    for (const event of events) emitter.emit(event);
    if (!analytics && (ruleList.length === 0 || depth >= MAX_RULE_DEPTH)) return undefined;
    return react(events, depth);
  };

  /** Analytics and rules: the part of {@link publish} that waits. */
  const react = async (events: readonly GamifyEvent[], depth: number): Promise<void> => {
    if (analytics) {
      try {
        for (const event of events) await analytics.record(event);
      } catch (error) {
        emitter.reportError(error);
      }
    }
    if (ruleList.length > 0 && depth < MAX_RULE_DEPTH) {
      for (const event of events) await evaluateRules(event, depth);
    }
  };

  /** Plans an item whose user id and metric {@link planWithScopes} validated. */
  const planAward = (index: number, item: BatchAward, userId: string, metric: string, at: number, scopes: readonly string[]): PlannedAward => {
    const amount = checkAmount(item.amount);
    const type = item.type ?? "add";
    if (type !== "add" && type !== "remove") throw invalidArgument(`type must be "add" or "remove"; got ${describe(type)}.`, { field: "type" });
    const metadata = checkMetadata(item.metadata);
    checkReason(item.reason);
    // Optional fields are assigned rather than spread: same key order, less work on every award.
    const event = {
      id: generateId(),
      type: type === "add" ? "points_added" : "points_removed",
      userId,
      at: item.at === undefined ? at : checkTimestamp(item.at),
      metric,
      delta: amount,
      total: 0,
    } as { -readonly [K in keyof PointsEvent]: PointsEvent[K] };
    if (item.reason !== undefined) event.reason = item.reason;
    if (metadata !== undefined) event.metadata = metadata;
    if (scopes.length > 0) event.scopes = scopes;
    const targets = boards.boardsAt(metric, event.at, scopes, at);
    const level = policies.get(metric);
    const floor = metricOptions.get(metric)?.floor;
    const request: { -readonly [K in keyof AwardRequest]: AwardRequest[K] } = { metric, delta: type === "add" ? amount : -amount, event };
    if (item.idempotencyKey !== undefined) request.idempotencyKey = checkIdempotencyKey(item.idempotencyKey);
    if (floor !== undefined) request.floor = floor;
    if (level) request.level = level;
    if (boardsInStorage) request.boards = targets.map(({ board, expiresAt }) => (expiresAt === undefined ? { board } : { board, expiresAt }));
    return { index, userId, metric, request, targets };
  };

  /**
   * Validates an item's user, metric and scopes, then plans it: synchronously unless `scopesOf`
   * must be awaited, so a plain award spends no tick here.
   */
  const planWithScopes = (index: number, item: BatchAward, at: number): PlannedAward | Promise<PlannedAward> => {
    const userId = checkUserId(item.userId);
    // Only an absent metric means the default; null or "" is a caller's mistake.
    const metric = item.metric === undefined ? defaultMetric : checkMetric(item.metric);
    if (scopesOf === undefined) return planAward(index, item, userId, metric, at, checkScopes(item.scopes));
    return resolveScopes(userId, metric, item.scopes).then((scopes) => planAward(index, item, userId, metric, at, scopes));
  };

  /** Applies one user's planned awards atomically, then updates boards and publishes. */
  const applyForUser = async (userId: string, planned: readonly PlannedAward[], depth: number): Promise<AwardResult[]> => {
    // Only metrics that finish periods or watch ranks need work before the award.
    let watched: WatchedBoard[] = [];
    if (planned.some((p) => p.targets[0]?.settings.finishAfter !== undefined || p.targets[0]?.settings.watch !== undefined)) {
      const targets = new Map<string, BoardInfo>();
      for (const p of planned) for (const t of p.targets) targets.set(t.board, t);
      // Board bookkeeping never fails an award: like board writes, its failures go to `error`.
      try {
        await finisher.register([...targets.values()]);
        watched = await watcher.before(userId, [...targets.values()]);
      } catch (error) {
        emitter.reportError(error);
      }
    }
    const outcomes = await storage.applyAwards(
      userId,
      planned.map((p) => p.request),
      clock(),
    );
    const results: AwardResult[] = [];
    const fresh: GamifyEvent[] = [];
    /** Applied change per board, for the rank watch (only watched boards need it). */
    const moved = watched.length > 0 ? new Map<string, number>() : undefined;
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i] as AwardOutcome;
      const { metric, targets: boardsOfAward } = planned[i] as PlannedAward;
      // The storage logged these with the award; rebuilding them gives the same ids.
      const levelChanges = outcome.level === outcome.previousLevel ? [] : levelEvents(outcome.event, metric, outcome.previousLevel, outcome.level);
      const events: GamifyEvent[] = outcome.delta === 0 ? levelChanges : [outcome.event, ...levelChanges];
      if (!outcome.replayed) {
        for (const event of events) fresh.push(event);
        if (moved !== undefined) for (const t of boardsOfAward) moved.set(t.board, (moved.get(t.board) ?? 0) + outcome.delta);
        if (outcome.delta !== 0 && !boardsInStorage) {
          try {
            const updates = boardsOfAward.map(({ board, expiresAt }) => (expiresAt === undefined ? { board, delta: outcome.delta } : { board, delta: outcome.delta, expiresAt }));
            await boardStore.increment(updates, userId);
          } catch (error) {
            emitter.reportError(error, outcome.event);
          }
        }
      }
      results.push({
        userId,
        metric,
        delta: outcome.delta,
        total: outcome.total,
        previousTotal: outcome.previousTotal,
        level: policies.has(metric) ? outcome.level : null,
        previousLevel: policies.has(metric) ? outcome.previousLevel : null,
        replayed: outcome.replayed,
        events,
      });
    }
    if (fresh.length > 0) {
      const reacting = publish(fresh, depth);
      if (reacting !== undefined) await reacting;
    }
    if (moved !== undefined && moved.size > 0) {
      const cause = fresh[0]?.id ?? generateId();
      try {
        for (const w of watched) await watcher.after(userId, [w], moved.get(w.target.board) ?? 0, cause);
      } catch (error) {
        emitter.reportError(error);
      }
    }
    poke();
    return results;
  };


  const award = (userId: string, amount: number, options: AwardOptions, type: "add" | "remove", depth = 0) =>
    run(async () => {
      const planning = planWithScopes(0, { ...options, userId, amount, type }, clock());
      const planned = planning instanceof Promise ? await planning : planning;
      // Indexing, not `const [result] = …`: array destructuring runs the iterator protocol.
      return (await applyForUser(planned.userId, [planned], depth))[0] as AwardResult;
    });

  const grantBadge = async (userId: string, badge: string, options: BadgeOptions & { ruleId?: string }, depth: number): Promise<BadgeResult> => {
    checkUserId(userId);
    checkBadge(badge);
    checkReason(options.reason);
    const metadata = checkMetadata(options.metadata);
    const event: BadgeAwardedEvent = {
      id: generateId(),
      type: "badge_awarded",
      userId,
      at: timestamp(options.at),
      badge,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      ...(metadata === undefined ? {} : { metadata }),
      ...(options.ruleId === undefined ? {} : { ruleId: options.ruleId }),
    };
    const { awarded, awardedAt } = await storage.awardBadge(userId, badge, event);
    if (awarded) await publish([event], depth);
    return { userId, badge, awarded, awardedAt, events: awarded ? [event] : [] };
  };

  /** Fires the rules an event may satisfy. */
  const evaluateRules = async (event: GamifyEvent, depth: number): Promise<void> => {
    for (const rule of ruleList) {
      try {
        if (await ruleMatches(rule, event)) await fire(rule, event.userId, event.at, depth + 1, scopesOfEvent(event));
      } catch (error) {
        emitter.reportError(error, event);
      }
    }
  };

  const ruleMatches = async (rule: Rule, event: GamifyEvent): Promise<boolean> => {
    if (isThresholdRule(rule)) {
      return (event.type === "points_added" || event.type === "points_removed") && event.metric === rule.when.metric && event.total >= rule.when.reaches;
    }
    if (event.type !== rule.when.event) return false;
    if (rule.when.action !== undefined && (event.type !== "action" || event.action !== rule.when.action)) return false;
    return countReached(rule, event.userId, event.at);
  };

  /** True when the rule's event has happened often enough, within its window before `at`. */
  const countReached = async ({ when }: CountRule, userId: string, at: number): Promise<boolean> =>
    (await storage.countEvents(userId, {
      type: when.event,
      action: when.action,
      since: when.withinMs === undefined ? undefined : at - when.withinMs,
    })) >= when.times;

  /** Claims the rule for the user, then rewards; false when it had fired before. At most once per user, also under concurrency. */
  const fire = async (rule: Rule, userId: string, at: number, depth: number, scopes: readonly string[] = []): Promise<boolean> => {
    if (!(await storage.claimOnce(userId, `rule:${rule.id}`, at))) return false;
    await giveReward(rule, userId, at, depth, scopes);
    return true;
  };

  /** A rule's points count toward the scopes of the award that triggered it (and `scopesOf`'s). */
  const giveReward = async (rule: Rule, userId: string, at: number, depth: number, scopes: readonly string[]): Promise<void> => {
    const reason = `rule:${rule.id}`;
    if (rule.award.badge !== undefined) await grantBadge(userId, rule.award.badge, { reason, ruleId: rule.id, at }, depth);
    if (rule.award.points !== undefined) {
      const planned = await planWithScopes(0, { userId, amount: rule.award.points.amount, metric: rule.award.points.metric ?? defaultMetric, reason, idempotencyKey: reason, at, scopes }, at);
      await applyForUser(userId, [{ ...planned, request: { ...planned.request, event: { ...planned.request.event, ruleId: rule.id } as PointsEvent } }], depth);
    }
  };

  const gk: Gamify = {
    addPoints: (userId, amount, options = {}) => award(userId, amount, options, "add"),
    removePoints: (userId, amount, options = {}) => award(userId, amount, options, "remove"),

    batch: (awards) =>
      run(async () => {
        if (!Array.isArray(awards) || awards.length === 0 || awards.length > 1000) {
          throw invalidArgument("batch takes an array of 1 to 1000 awards.", { field: "awards" });
        }
        const now = clock();
        // Validate everything before touching storage, so bad input changes nothing.
        const planned: PlannedAward[] = [];
        for (const [index, item] of awards.entries()) planned.push(await planWithScopes(index, item, now));
        const byUser = new Map<string, PlannedAward[]>();
        for (const p of planned) {
          const list = byUser.get(p.userId);
          if (list) list.push(p);
          else byUser.set(p.userId, [p]);
        }
        const results = new Array<AwardResult>(planned.length);
        const settled = await Promise.allSettled(
          [...byUser].map(async ([userId, list]) => {
            const userResults = await applyForUser(userId, list, 0);
            list.forEach((p, i) => (results[p.index] = userResults[i] as AwardResult));
          }),
        );
        const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
        if (failure) throw failure.reason;
        return results;
      }),

    awardBadge: (userId, badge, options = {}) => run(() => grantBadge(userId, badge, options, 0)),

    revokeBadge: (userId, badge, options = {}) =>
      run(async () => {
        checkUserId(userId);
        checkBadge(badge);
        checkReason(options.reason);
        const event: BadgeRevokedEvent = {
          id: generateId(),
          type: "badge_revoked",
          userId,
          at: timestamp(options.at),
          badge,
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        };
        const revoked = await storage.revokeBadge(userId, badge, event);
        if (revoked) await publish([event], 0);
        return { userId, badge, revoked, events: revoked ? [event] : [] };
      }),

    track: (userId, action, options = {}) =>
      run(async () => {
        checkUserId(userId);
        checkMetric(action);
        const metadata = checkMetadata(options.metadata);
        const event: ActionEvent = {
          id: generateId(),
          type: "action",
          userId,
          at: timestamp(options.at),
          action,
          ...(metadata === undefined ? {} : { metadata }),
        };
        await storage.appendEvents([event]);
        await publish([event], 0);
        return event;
      }),

    getUser: (userId) => run(() => storage.getUser(checkUserId(userId))),

    deleteUser: (userId) =>
      run(async () => {
        checkUserId(userId);
        const existed = await storage.deleteUser(userId);
        await boardStore.removeUser(userId);
        if (analytics) await analytics.forgetUser(userId);
        if (existed) emitter.emit({ id: generateId(), type: "user_deleted", userId, at: clock() });
        return existed;
      }),

    events: (userId, options = {}) =>
      run(() => {
        checkUserId(userId);
        const limit = checkCount(options.limit ?? 50, "limit", { min: 1, max: 1000 });
        return storage.readEvents(userId, { cursor: options.cursor, limit });
      }),

    leaderboard: (metric, query = {}) => boards.view(checkMetric(metric), query, run, poke),

    finishLeaderboards: ({ now, since } = {}) =>
      run(() => {
        const at = timestamp(now);
        return finisher.finish(at, since === undefined ? undefined : checkTimestamp(since, "since"));
      }),

    backfillLeaderboards: (opts = {}) =>
      run(() => {
        const periods = opts.periods === undefined ? undefined : checkPeriods(opts.periods);
        return backfillLeaderboards(
          { boards, store: boardStore, storage, finisher, clock },
          {
            metric: opts.metric === undefined ? undefined : checkMetric(opts.metric),
            from: opts.from === undefined ? undefined : checkTimestamp(opts.from, "from"),
            to: opts.to === undefined ? undefined : checkTimestamp(opts.to, "to"),
            periods,
            batchSize: checkCount(opts.batchSize ?? 100, "batchSize", { min: 1, max: 10_000 }),
            onProgress: opts.onProgress,
          },
        );
      }),

    analytics: {
      aggregate: ({ granularity, from, to }) =>
        run(() => needAnalytics().aggregate({ granularity: checkGranularity(granularity), from: checkTimestamp(from, "from"), to: checkTimestamp(to, "to") })),
      activeUsers: ({ granularity, at }) =>
        run(() => needAnalytics().activeUsers({ granularity: checkGranularity(granularity), at: timestamp(at) })),
    },

    backfillRules: ({ batchSize = 100, onProgress } = {}) =>
      run(async () => {
        checkCount(batchSize, "batchSize", { min: 1, max: 10_000 });
        let users = 0;
        let fired = 0;
        let cursor: string | undefined;
        do {
          const page = await storage.listUsers({ cursor, limit: batchSize });
          for (const userId of page.userIds) {
            if (userId === LEADERBOARD_USER_ID) continue;
            fired += await backfillUser(userId);
            users++;
          }
          onProgress?.({ users, fired });
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        return { users, fired };
      }),

    on: (channel, listener) => emitter.on(channel, listener),
    once: (channel, listener) => emitter.once(channel, listener),
    off: (channel, listener) => emitter.off(channel, listener),

    health: () => run(async () => {
      await storage.health();
      await boardStore.health();
    }),

    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) timers.clearInterval(timer);
      if (pending > 0) await new Promise<void>((resolve) => (drained = resolve));
      await Promise.all([storage.close(), boardStore.close(), analytics?.close()]);
      emitter.clear();
    },
  };

  /** Evaluates every rule for one user against their current state; returns the rules fired. */
  const backfillUser = async (userId: string): Promise<number> => {
    const state = await storage.getUser(userId);
    if (!state) return 0;
    const now = clock();
    let fired = 0;
    for (const rule of ruleList) {
      const matches = isThresholdRule(rule) ? (state.points[rule.when.metric] ?? 0) >= rule.when.reaches : await countReached(rule, userId, now);
      if (matches && (await fire(rule, userId, now, 1))) fired++;
    }
    return fired;
  };

  function needAnalytics(): AnalyticsStore {
    if (!analytics) throw new GamifyError("NOT_FOUND", "Analytics are disabled (analytics: false); pass an AnalyticsStore to createGamify to enable them.");
    return analytics;
  }

  return gk;
}

function checkFinishMode(value: unknown): "lazy" | "manual" | { intervalMs: number } {
  if (value === "lazy" || value === "manual") return value;
  if (value !== null && typeof value === "object" && "intervalMs" in value) {
    return { intervalMs: checkCount((value as { intervalMs: unknown }).intervalMs, "finishLeaderboards.intervalMs", { min: 10, max: 86_400_000 }) };
  }
  throw invalidArgument(`finishLeaderboards must be "lazy", "manual" or { intervalMs }; got ${describe(value)}.`, { field: "finishLeaderboards" });
}

function checkPeriods(value: unknown): Set<LeaderboardPeriod> {
  const all: readonly LeaderboardPeriod[] = [...PERIODS, "season"];
  if (!Array.isArray(value) || value.some((p) => !all.includes(p as LeaderboardPeriod))) {
    throw invalidArgument(`periods must be an array of ${all.join(", ")}; got ${describe(value)}.`, { field: "periods" });
  }
  return new Set(value as LeaderboardPeriod[]);
}

/** The scopes a points event recorded (rule awards it triggers count toward them too). */
function scopesOfEvent(event: GamifyEvent): readonly string[] {
  return (event.type === "points_added" || event.type === "points_removed") && event.scopes !== undefined ? event.scopes : [];
}

function checkGranularity(value: unknown): Granularity {
  if (value !== "day" && value !== "week" && value !== "month") {
    throw invalidArgument(`granularity must be "day", "week" or "month"; got ${describe(value)}.`, { field: "granularity" });
  }
  return value;
}
