import { ClientError } from "./errors.js";
import { eventStream, type EventsOptions } from "./events.js";
import { Transport, type CallOptions, type ClientOptions } from "./transport.js";
import type {
  ActionEvent,
  ActionRequest,
  AroundPage,
  AroundQuery,
  AwardRequest,
  AwardResult,
  BadgeRequest,
  BadgeResult,
  BatchItem,
  BatchResult,
  BodyOf,
  EventPage,
  EventsQuery,
  GamifyEvent,
  HealthStatus,
  LeaderboardPage,
  Method,
  PathParamsOf,
  QueryOf,
  RankQuery,
  ReadyStatus,
  RevokeResult,
  SuccessOf,
  TopQuery,
  UserRank,
  UserState,
  paths,
} from "./types.js";

/** Options of addPoints / removePoints: the award's fields besides the amount, and per-call options. */
export type AwardOptions = Omit<AwardRequest, "amount"> &
  CallOptions & {
    /** Applies the award once; default: a random UUID per call, reused by its retries. */
    readonly idempotencyKey?: string;
  };

/** Options of batch. */
export type BatchOptions = CallOptions & {
  /**
   * Base of the per-award idempotency keys for awards that carry none (`<key>:<index>`); default
   * a random UUID per call, reused by its retries.
   */
  readonly idempotencyKey?: string;
};

/** Queries of one leaderboard. */
export interface LeaderboardClient {
  /** The best entries: `{ board, entries, count }`. */
  top(query?: TopQuery & CallOptions): Promise<LeaderboardPage>;
  /** A user's score, rank and percentile, or null when the user is not on the board. */
  rank(userId: string, query?: RankQuery & CallOptions): Promise<UserRank | null>;
  /** The entries around a user (`radius` on each side). */
  around(userId: string, query?: AroundQuery & CallOptions): Promise<AroundPage>;
}

/** The typed GamifyKit API client {@link createClient} returns. */
export interface GamifyClient {
  /** A user's state. Throws NOT_FOUND for an unknown user. */
  getUser(userId: string, options?: CallOptions): Promise<UserState>;
  /** Deletes a user's state, history and board entries. Throws NOT_FOUND for an unknown user. */
  deleteUser(userId: string, options?: CallOptions): Promise<void>;
  /** Adds points; retried safely with an Idempotency-Key. */
  addPoints(userId: string, amount: number, options?: AwardOptions): Promise<AwardResult>;
  /** Removes points (a metric floor clamps the total); retried safely with an Idempotency-Key. */
  removePoints(userId: string, amount: number, options?: AwardOptions): Promise<AwardResult>;
  /** Awards a badge (`awarded: false` when the user already had it). */
  awardBadge(userId: string, badge: string, options?: BadgeRequest & CallOptions): Promise<BadgeResult>;
  /** Revokes a badge (`revoked: false` when the user did not have it). */
  revokeBadge(userId: string, badge: string, options?: CallOptions): Promise<RevokeResult>;
  /** Records an action (for count rules and analytics). Not retried after a lost answer: it is not idempotent. */
  track(userId: string, action: string, options?: Omit<ActionRequest, "action"> & CallOptions): Promise<ActionEvent>;
  /** 1 to 1000 awards in one call; every award gets an idempotency key, so the call is retried safely. */
  batch(awards: readonly BatchItem[], options?: BatchOptions): Promise<BatchResult>;
  /** One page of a user's event history; follow `nextCursor`. */
  userEvents(userId: string, query?: EventsQuery & CallOptions): Promise<EventPage>;
  /** A metric's leaderboard (period and mode go in each query). */
  leaderboard(metric: string): LeaderboardClient;
  /** The realtime feed as an async iterator; see {@link EventsOptions}. */
  events(options?: EventsOptions): AsyncGenerator<GamifyEvent, void, undefined>;
  /** GET /healthz. */
  health(options?: CallOptions): Promise<HealthStatus>;
  /** GET /readyz; throws STORAGE_UNAVAILABLE / CLOSED (503) when the server is not ready. */
  ready(options?: CallOptions): Promise<ReadyStatus>;
  /** GET /metrics: the Prometheus text. */
  metrics(options?: CallOptions): Promise<string>;
  /** GET /openapi.json: the API's OpenAPI 3.1 document. */
  openapi(options?: CallOptions): Promise<Record<string, unknown>>;
}

type Spec<P extends keyof paths, M extends Method> = CallOptions & {
  readonly params?: PathParamsOf<P, M>;
  readonly query?: QueryOf<P, M>;
  readonly body?: BodyOf<P, M>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly idempotent: boolean;
};

function split<T extends CallOptions>(options: T | undefined): { call: CallOptions; rest: Omit<T, keyof CallOptions> } {
  const { signal, timeoutMs, retries, ...rest } = options ?? ({} as T);
  return {
    call: { ...(signal ? { signal } : {}), ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(retries === undefined ? {} : { retries }) },
    rest: rest as Omit<T, keyof CallOptions>,
  };
}

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Creates a client for a GamifyKit HTTP API. Every method is typed from the API's OpenAPI
 * document; failures throw {@link ClientError} with the problem's `code`, `status` and `detail`.
 * Runs wherever `fetch` does: Node 20+, browsers, Deno, Bun, edge workers.
 *
 * @example
 * const gk = createClient({ baseUrl: "https://gamify.example.com", apiKey: process.env.GAMIFYKIT_KEY });
 * const result = await gk.addPoints("alice", 50, { metric: "xp", reason: "lesson" });
 * for await (const event of gk.events({ userId: "alice" })) console.log(event.type);
 */
export function createClient(options: ClientOptions): GamifyClient {
  const transport = new Transport(options);

  async function call<P extends keyof paths, M extends Method>(method: M, path: P, spec: Spec<P, M>): Promise<SuccessOf<P, M>> {
    const params = (spec.params ?? {}) as Record<string, string>;
    const resolved = (path as string).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] as string));
    return transport.json<SuccessOf<P, M>>({
      method: method.toUpperCase() as "GET" | "POST" | "PUT" | "DELETE",
      path: resolved,
      idempotent: spec.idempotent,
      ...(spec.query === undefined ? {} : { query: spec.query as Record<string, string | number | undefined> }),
      ...(spec.body === undefined ? {} : { body: spec.body }),
      ...(spec.headers === undefined ? {} : { headers: spec.headers }),
      ...(spec.signal ? { signal: spec.signal } : {}),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      ...(spec.retries === undefined ? {} : { retries: spec.retries }),
    });
  }

  function award(path: "/v1/users/{userId}/points" | "/v1/users/{userId}/points/remove", userId: string, amount: number, options?: AwardOptions) {
    const { call: callOptions, rest } = split(options);
    const { idempotencyKey, ...body } = rest;
    return call("post", path, {
      ...callOptions,
      params: { userId },
      body: { ...body, amount },
      headers: { "idempotency-key": idempotencyKey ?? randomKey() },
      idempotent: true,
    });
  }

  return {
    getUser: (userId, options) => call("get", "/v1/users/{userId}", { ...split(options).call, params: { userId }, idempotent: true }),
    async deleteUser(userId, options) {
      await call("delete", "/v1/users/{userId}", { ...split(options).call, params: { userId }, idempotent: true });
    },
    addPoints: (userId, amount, options) => award("/v1/users/{userId}/points", userId, amount, options),
    removePoints: (userId, amount, options) => award("/v1/users/{userId}/points/remove", userId, amount, options),
    awardBadge(userId, badge, options) {
      const { call: callOptions, rest } = split(options);
      return call("put", "/v1/users/{userId}/badges/{badge}", { ...callOptions, params: { userId, badge }, body: rest, idempotent: true });
    },
    revokeBadge: (userId, badge, options) =>
      call("delete", "/v1/users/{userId}/badges/{badge}", { ...split(options).call, params: { userId, badge }, idempotent: true }),
    track(userId, action, options) {
      const { call: callOptions, rest } = split(options);
      return call("post", "/v1/users/{userId}/actions", { ...callOptions, params: { userId }, body: { ...rest, action }, idempotent: false });
    },
    batch(awards, options) {
      const { call: callOptions, rest } = split(options);
      const base = rest.idempotencyKey ?? randomKey();
      const keyed = awards.map((item, index) => (item.idempotencyKey === undefined ? { ...item, idempotencyKey: `${base}:${index}` } : item));
      return call("post", "/v1/batch", { ...callOptions, body: { awards: keyed }, idempotent: true });
    },
    userEvents(userId, query) {
      const { call: callOptions, rest } = split(query);
      return call("get", "/v1/users/{userId}/events", { ...callOptions, params: { userId }, query: rest, idempotent: true });
    },
    leaderboard(metric) {
      return {
        top(query) {
          const { call: callOptions, rest } = split(query);
          return call("get", "/v1/leaderboards/{metric}", { ...callOptions, params: { metric }, query: rest, idempotent: true });
        },
        async rank(userId, query) {
          const { call: callOptions, rest } = split(query);
          try {
            return await call("get", "/v1/leaderboards/{metric}/users/{userId}", { ...callOptions, params: { metric, userId }, query: rest, idempotent: true });
          } catch (error) {
            if (error instanceof ClientError && error.code === "NOT_FOUND") return null;
            throw error;
          }
        },
        around(userId, query) {
          const { call: callOptions, rest } = split(query);
          return call("get", "/v1/leaderboards/{metric}/users/{userId}/around", { ...callOptions, params: { metric, userId }, query: rest, idempotent: true });
        },
      };
    },
    events: (eventOptions) => eventStream(transport, eventOptions),
    health: (options) => call("get", "/healthz", { ...split(options).call, idempotent: true }),
    ready: (options) => call("get", "/readyz", { ...split(options).call, idempotent: true }),
    async metrics(options) {
      const response = await transport.send({ method: "GET", path: "/metrics", idempotent: true, ...split(options).call }, "text/plain");
      return response.text();
    },
    openapi: (options) => transport.json<Record<string, unknown>>({ method: "GET", path: "/openapi.json", idempotent: true, ...split(options).call }),
  };
}
