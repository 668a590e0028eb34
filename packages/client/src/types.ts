/**
 * Request and response types derived from the generated OpenAPI types (./generated/openapi.ts),
 * so a change in the API's schemas changes — or breaks — the client's signatures at compile time.
 */
import type { components, paths } from "./generated/openapi.js";

export type { components, paths };

/** HTTP methods the client uses, as openapi-typescript names them. */
export type Method = "get" | "post" | "put" | "delete";

/** The operation at `path` and `method`; `never` when the API has no such route. */
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

type JsonContent<T> = T extends { content: { "application/json": infer J } } ? J : never;

/** The JSON body of an operation's success answer (`void` for 204). */
export type SuccessOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: infer R } ? (200 extends keyof R ? JsonContent<R[200]> : 204 extends keyof R ? void : never) : never;

/** The JSON request body of an operation. */
export type BodyOf<P extends keyof paths, M extends Method> = Operation<P, M> extends { requestBody?: infer B } ? JsonContent<NonNullable<B>> : never;

/** Plain `string` query fields (numbers and instants in the URL) also accept a number; enums stay as they are. */
type Loosen<Q> = { [K in keyof Q]: string extends NonNullable<Q[K]> ? Q[K] | number : Q[K] };

/** The query parameters of an operation (`limit: 10` as well as `limit: "10"`). */
export type QueryOf<P extends keyof paths, M extends Method> = Operation<P, M> extends { parameters: { query?: infer Q } } ? Loosen<NonNullable<Q>> : never;

/** The path parameters of an operation. */
export type PathParamsOf<P extends keyof paths, M extends Method> = Operation<P, M> extends { parameters: { path: infer X } } ? X : never;

type Schemas = components["schemas"];

/** A user's totals, levels and badges. */
export type UserState = Schemas["UserState"];
/** What an award returns. */
export type AwardResult = Schemas["AwardResult"];
/** What a badge award returns. */
export type BadgeResult = Schemas["BadgeResult"];
/** What a badge revocation returns. */
export type RevokeResult = Schemas["RevokeResult"];
/** Body of addPoints/removePoints. */
export type AwardRequest = Schemas["AwardRequest"];
/** Body of awardBadge. */
export type BadgeRequest = Schemas["BadgeRequest"];
/** Body of track. */
export type ActionRequest = Schemas["ActionRequest"];
/** Body of batch. */
export type BatchRequest = Schemas["BatchRequest"];
/** One award of a batch. */
export type BatchItem = BatchRequest["awards"][number];
/** What batch returns. */
export type BatchResult = Schemas["BatchResult"];
/** Any engine event (points_added, level_up, badge_awarded, …). */
export type GamifyEvent = Schemas["GamifyEvent"];
/** An `action` event, as track returns it. */
export type ActionEvent = SuccessOf<"/v1/users/{userId}/actions", "post">;
/** A page of a user's event history. */
export type EventPage = SuccessOf<"/v1/users/{userId}/events", "get">;
/** A page of a leaderboard. */
export type LeaderboardPage = SuccessOf<"/v1/leaderboards/{metric}", "get">;
/** A user's place on a board. */
export type UserRank = SuccessOf<"/v1/leaderboards/{metric}/users/{userId}", "get">;
/** The entries around a user. */
export type AroundPage = SuccessOf<"/v1/leaderboards/{metric}/users/{userId}/around", "get">;
/** Query of leaderboard top. */
export type TopQuery = QueryOf<"/v1/leaderboards/{metric}", "get">;
/** Query of leaderboard rank. */
export type RankQuery = QueryOf<"/v1/leaderboards/{metric}/users/{userId}", "get">;
/** Query of leaderboard around. */
export type AroundQuery = QueryOf<"/v1/leaderboards/{metric}/users/{userId}/around", "get">;
/** Query of a user's event history. */
export type EventsQuery = QueryOf<"/v1/users/{userId}/events", "get">;
/** GET /healthz. */
export type HealthStatus = SuccessOf<"/healthz", "get">;
/** GET /readyz. */
export type ReadyStatus = SuccessOf<"/readyz", "get">;
