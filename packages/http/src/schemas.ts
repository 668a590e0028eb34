/**
 * zod 4 schemas for every body, query, path parameter, header and response of the HTTP API.
 * The router validates requests with them and the OpenAPI document is generated from them,
 * so the two can never drift apart.
 */
import { GAMIFY_ERROR_CODES, type GamifyErrorCode } from "@gamifykit/core";
import { z } from "zod";
import type {} from "zod-openapi"; // adds the OpenAPI fields (id, param, header) to .meta()

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// The engine's own rule for ids and names (packages/core/src/validate.ts), checked here first
// so a bad name is reported with its path like every other validation error.
const NAME = /^[A-Za-z0-9_.:@|-]{1,128}$/;
const NAME_MESSAGE = "must be 1-128 characters from A-Z a-z 0-9 _ - . : @ |";

const name = (description: string, example: string) => z.string().regex(NAME, NAME_MESSAGE).meta({ description, example });

export const UserId = name("A user id.", "alice");
export const Metric = name("A metric name.", "xp");
export const BadgeName = name("A badge name.", "first-lesson");
export const ActionName = name("An action name.", "lesson-completed");
export const IdempotencyKey = name("Applies the award once per user and key; a retry returns the first result with `replayed: true`.", "lesson-42");

const Scope = z
  .string()
  .regex(/^[A-Za-z0-9_.:@|-]{1,64}$/, "must be 1-64 characters from A-Z a-z 0-9 _ - . : @ |")
  .meta({ description: "A leaderboard scope (team, group, tenant).", example: "team-7" });
const Scopes = z
  .array(Scope)
  .max(16)
  .meta({ description: "Scoped leaderboards this award also counts toward (at most 16), besides the metric's main boards.", example: ["team-7"] });

const Reason = z.string().max(256).meta({ description: "Why, for people reading the event log (at most 256 characters).", example: "lesson" });
const Metadata = z
  .record(z.string(), z.unknown())
  .meta({ description: "Any JSON object (at most 16 KiB serialised), stored with the event.", example: { lesson: 42 } });

/** Epoch milliseconds or an ISO 8601 date-time with offset, turned into epoch milliseconds. */
const Timestamp = z
  .union([z.number().int().min(0).max(MAX_SAFE), z.iso.datetime({ offset: true })])
  .transform((value) => (typeof value === "number" ? value : Date.parse(value)))
  .pipe(z.number().int().min(0, "must not be before 1970-01-01T00:00:00Z"))
  .meta({ description: "When it happened: epoch milliseconds or an ISO 8601 date-time. Default: now.", example: "2026-11-25T12:00:00Z" });

/** The same in a query string, where everything arrives as text. */
const TimestampQuery = z
  .union([z.string().regex(/^\d{1,16}$/, "must be epoch milliseconds or an ISO 8601 date-time"), z.iso.datetime({ offset: true })])
  .transform((value) => (/^\d+$/.test(value) ? Number(value) : Date.parse(value)))
  .pipe(z.number().int().min(0).max(MAX_SAFE))
  .meta({ description: "Any instant inside the wanted period (epoch milliseconds or ISO 8601). Default: now.", example: "2026-11-25T12:00:00Z" });

/** An integer query parameter with bounds and a default. */
const intQuery = (min: number, max: number, fallback: number, description: string) =>
  z
    .string()
    .regex(/^\d{1,16}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback)
    .meta({ description: `${description} ${min} to ${max === MAX_SAFE ? "2^53-1" : max}, default ${fallback}.` });

const Period = z
  .enum(["all", "day", "week", "month", "season"])
  .meta({ description: "The board's period (`season`: the metric's configured seasons). Default `all`.", example: "week" });

/** `at` of a board read: an instant inside the period, or the period's key (`2026-W47`, `2026-11-25`, `2026-11`, a season id). */
const BoardAt = z
  .union([TimestampQuery, z.string().regex(/^[A-Za-z0-9_.:@|-]{1,64}$/, "must be an instant or a period key such as 2026-W47")])
  .meta({
    description: "Which bucket of the period: an instant inside it (epoch milliseconds or ISO 8601), or its key (`2026-W47`, `2026-11-25`, `2026-11`, a season id). Default: now.",
    example: "2026-W47",
  });
const RankMode = z
  .enum(["standard", "dense", "ordinal"])
  .meta({ description: "How ties are numbered: standard 1,2,2,4; dense 1,2,2,3; ordinal 1,2,3,4. Default: the board's configured mode." });

// ---------------------------------------------------------------- path parameters

export const UserParams = z.object({ userId: UserId });
export const BadgeParams = z.object({ userId: UserId, badge: BadgeName });
export const MetricParams = z.object({ metric: Metric });
export const MetricUserParams = z.object({ metric: Metric, userId: UserId });

// ---------------------------------------------------------------- headers

export const IdempotencyHeaders = z.object({ "Idempotency-Key": IdempotencyKey.optional() });

// ---------------------------------------------------------------- queries

export const EventsQuery = z.strictObject({
  cursor: z.string().min(1).max(512).optional().meta({ description: "`nextCursor` of the previous page." }),
  limit: intQuery(1, 1000, 50, "Events per page,"),
});

export const BoardQuery = z.strictObject({
  period: Period.optional(),
  at: BoardAt.optional(),
  scope: Scope.optional().meta({ description: "A scoped board (team, group, tenant), as named in awards' `scopes`. Default: the main board." }),
  mode: RankMode.optional(),
});
export const TopQuery = BoardQuery.extend({
  limit: intQuery(1, 1000, 10, "Entries to return,"),
  offset: intQuery(0, MAX_SAFE, 0, "Entries to skip,"),
});
export const AroundQuery = BoardQuery.extend({ radius: intQuery(0, 500, 5, "Entries on each side of the user,") });

export const StreamQuery = z.strictObject({
  userId: UserId.optional().meta({ description: "Only this user's events (required for user tokens)." }),
  leaderboard: Metric.optional().meta({ description: "Only events that move this metric's boards." }),
  lastEventId: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ description: "Resume after this event id, for EventSource polyfills that cannot send the Last-Event-ID header." }),
});
export const WebSocketQuery = StreamQuery.extend({
  access_token: z.string().min(1).optional().meta({ description: "An API key or JWT, for browsers, which cannot set headers on a WebSocket." }),
});

// ---------------------------------------------------------------- bodies

export const AwardBody = z
  .strictObject({
    amount: z.number().int().min(1).max(MAX_SAFE).meta({ description: "Points to add or remove: a positive safe integer.", example: 50 }),
    metric: Metric.optional().meta({ description: "Default: the engine's default metric (`points`)." }),
    reason: Reason.optional(),
    metadata: Metadata.optional(),
    at: Timestamp.optional(),
    scopes: Scopes.optional(),
  })
  .meta({ id: "AwardRequest" });

export const BadgeBody = z.strictObject({ reason: Reason.optional(), metadata: Metadata.optional(), at: Timestamp.optional() }).meta({ id: "BadgeRequest" });

export const ActionBody = z.strictObject({ action: ActionName, metadata: Metadata.optional(), at: Timestamp.optional() }).meta({ id: "ActionRequest" });

export const BatchItem = z
  .strictObject({
    userId: UserId,
    amount: z.number().int().min(1).max(MAX_SAFE),
    type: z.enum(["add", "remove"]).optional().meta({ description: "Default `add`." }),
    metric: Metric.optional(),
    reason: Reason.optional(),
    metadata: Metadata.optional(),
    idempotencyKey: IdempotencyKey.optional(),
    at: Timestamp.optional(),
    scopes: Scopes.optional(),
  })
  .meta({ id: "BatchAward" });

export const BatchBody = z.strictObject({ awards: z.array(BatchItem).min(1).max(1000) }).meta({ id: "BatchRequest" });

// ---------------------------------------------------------------- responses

const EpochMs = z.number().int().meta({ description: "Epoch milliseconds." });
const eventBase = <T extends string>(type: T) => ({
  id: z.string(),
  type: z.literal(type),
  userId: z.string(),
  at: EpochMs,
});
const awardContext = { reason: z.string().optional(), metadata: z.record(z.string(), z.unknown()).optional(), ruleId: z.string().optional() };

export const PointsAddedEvent = z
  .object({ ...eventBase("points_added"), metric: z.string(), delta: z.number().int(), total: z.number().int(), ...awardContext })
  .meta({ id: "PointsAddedEvent" });
export const PointsRemovedEvent = z
  .object({ ...eventBase("points_removed"), metric: z.string(), delta: z.number().int(), total: z.number().int(), ...awardContext })
  .meta({ id: "PointsRemovedEvent" });
export const BadgeAwardedEvent = z.object({ ...eventBase("badge_awarded"), badge: z.string(), ...awardContext }).meta({ id: "BadgeAwardedEvent" });
export const BadgeRevokedEvent = z.object({ ...eventBase("badge_revoked"), badge: z.string(), ...awardContext }).meta({ id: "BadgeRevokedEvent" });
export const LevelUpEvent = z
  .object({ ...eventBase("level_up"), metric: z.string(), level: z.number().int(), previousLevel: z.number().int() })
  .meta({ id: "LevelUpEvent" });
export const LevelDownEvent = z
  .object({ ...eventBase("level_down"), metric: z.string(), level: z.number().int(), previousLevel: z.number().int() })
  .meta({ id: "LevelDownEvent" });
export const ActionEvent = z
  .object({ ...eventBase("action"), action: z.string(), metadata: z.record(z.string(), z.unknown()).optional() })
  .meta({ id: "ActionEvent" });
export const UserDeletedEvent = z.object(eventBase("user_deleted")).meta({ id: "UserDeletedEvent" });

export const GamifyEvent = z
  .discriminatedUnion("type", [
    PointsAddedEvent,
    PointsRemovedEvent,
    BadgeAwardedEvent,
    BadgeRevokedEvent,
    LevelUpEvent,
    LevelDownEvent,
    ActionEvent,
    UserDeletedEvent,
  ])
  .meta({ id: "GamifyEvent" });

export const UserState = z
  .object({
    userId: z.string(),
    points: z.record(z.string(), z.number().int()).meta({ description: "Total per metric." }),
    badges: z.record(z.string(), z.object({ awardedAt: EpochMs })),
    levels: z.record(z.string(), z.number().int()).meta({ description: "Level per metric that has a level curve." }),
    createdAt: EpochMs,
    updatedAt: EpochMs,
  })
  .meta({ id: "UserState" });

export const AwardResult = z
  .object({
    userId: z.string(),
    metric: z.string(),
    delta: z.number().int().meta({ description: "The applied change: negative for deductions, clamped by a floor." }),
    total: z.number().int(),
    previousTotal: z.number().int(),
    level: z.number().int().nullable().meta({ description: "Null when the metric has no levels." }),
    previousLevel: z.number().int().nullable(),
    replayed: z.boolean().meta({ description: "True when an earlier call with the same idempotency key applied; this is its result." }),
    events: z.array(GamifyEvent),
  })
  .meta({ id: "AwardResult" });

export const BadgeResult = z
  .object({
    userId: z.string(),
    badge: z.string(),
    awarded: z.boolean().meta({ description: "False when the user already held the badge." }),
    awardedAt: EpochMs,
    events: z.array(GamifyEvent),
  })
  .meta({ id: "BadgeResult" });

export const RevokeResult = z
  .object({ userId: z.string(), badge: z.string(), revoked: z.boolean().meta({ description: "False when the user did not hold the badge." }), events: z.array(GamifyEvent) })
  .meta({ id: "RevokeResult" });

export const EventPage = z
  .object({ events: z.array(GamifyEvent), nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null at the end." }) })
  .meta({ id: "EventPage" });

export const BatchResult = z.object({ results: z.array(AwardResult).meta({ description: "One result per award, in input order." }) }).meta({ id: "BatchResult" });

export const RankedEntry = z.object({ userId: z.string(), score: z.number().int(), rank: z.number().int().min(1) }).meta({ id: "RankedEntry" });

export const LeaderboardPage = z
  .object({
    board: z.string().meta({ description: "The board id, e.g. `xp/week/2026-W48`.", example: "xp/all/all" }),
    period: Period,
    key: z.string().meta({ description: "The period's key: `all`, `2026-11-25`, `2026-W48`, `2026-11` or a season id.", example: "2026-W48" }),
    finished: z.boolean().meta({ description: "True once the period ended and its grace passed: the standings are final." }),
    entries: z.array(RankedEntry),
    count: z.number().int().meta({ description: "Users on the board." }),
  })
  .meta({ id: "LeaderboardPage" });

export const UserRank = z
  .object({
    userId: z.string(),
    score: z.number().int(),
    rank: z.number().int().min(1),
    percentile: z.number().min(0).max(100).meta({ description: "Share of the board (0-100) scoring at or below the user." }),
  })
  .meta({ id: "UserRank" });

export const AroundPage = z
  .object({ board: z.string(), entries: z.array(RankedEntry).meta({ description: "Empty when the user is not on the board." }) })
  .meta({ id: "AroundPage" });

export const HealthStatus = z.object({ status: z.literal("ok") }).meta({ id: "HealthStatus" });
export const ReadyStatus = z.object({ status: z.literal("ready") }).meta({ id: "ReadyStatus" });

/** RFC 9457 problem details, as every error response carries them. */
export const Problem = z
  .object({
    type: z.string().meta({ description: "A URI naming the kind of problem.", example: "https://gamifykit.dev/problems/not-found" }),
    title: z.string().meta({ example: "Not Found" }),
    status: z.number().int().meta({ example: 404 }),
    detail: z.string().meta({ description: "What went wrong and what to do, for people.", example: 'User "bob" does not exist.' }),
    code: z
      // Core's closed union, so the API can never list a code the engine lacks (or miss one).
      .enum(GAMIFY_ERROR_CODES as readonly [GamifyErrorCode, ...GamifyErrorCode[]])
      .meta({ description: "The engine's error code; branch on this, never on `detail`." }),
    instance: z.string().optional().meta({ description: "The request id (also in the X-Request-Id header)." }),
    errors: z
      .array(z.object({ path: z.string().meta({ example: "body.amount" }), message: z.string() }))
      .optional()
      .meta({ description: "Each validation failure, for 400 responses to invalid input." }),
  })
  .meta({ id: "Problem" });

export type ProblemBody = z.output<typeof Problem>;
