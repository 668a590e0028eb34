import { context } from "@opentelemetry/api";
import type { Logger } from "pino";
import { createAuthenticator } from "./auth.js";
import { createCompression } from "./compression.js";
import { createCors } from "./cors.js";
import { createBaseLogger, headersObject, principalId, requestIdOf } from "./logging.js";
import { createMetrics } from "./metrics.js";
import { createRateLimiter } from "./rate-limit.js";
import { securityHeaders } from "./security-headers.js";
import { startRequestSpan, type RequestSpan } from "./tracing.js";
import { answerToResponse, type Answer, type AnswerBody, type HeaderMap, type RequestHead } from "../exchange.js";
import { NO_RATE_HEADERS as NO_LIMIT, type RateHeaders } from "./rate-limit.js";
import type { Access, Platform, PlatformOptions, Principal, RequestScope, RouteInfo } from "./types.js";

export type * from "./types.js";
export { constantTimeEqual, hashApiKey, hashApiKeyAsync, WWW_AUTHENTICATE } from "./auth.js";
export { memoryRateLimitStore, NO_RATE_HEADERS, rateLimitedHeaders, rateLimitedRecord, redisRateLimitStore } from "./rate-limit.js";
export type { MemoryRateLimitStore, MemoryRateLimitStoreOptions, RateHeaders, RateLimitStore, RedisRateLimitStoreOptions, TierName, WindowCount } from "./rate-limit.js";
export { HTML_CSP, JSON_CSP } from "./security-headers.js";
export { CORS_EXPOSED_HEADERS, CORS_METHODS, CORS_REQUEST_HEADERS } from "./cors.js";
export { REDACTED_PATHS } from "./logging.js";

const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

/** A request in progress, as the handler's core sees it. */
export interface CoreScope extends RequestScope {
  /** Who is calling; authenticate() records it here for the log line. */
  principal: Principal;
  /** Runs `fn` inside the request's span (see {@link RequestLifecycle.run}). */
  run<T>(fn: () => T): T;
  /** Records the log line, metrics and span end for `status`; returns false when the request already ended. */
  end(status: number, error?: unknown): boolean;
}

/** One request's scope: a class rather than closures, since one is made per request. */
class RequestState implements CoreScope {
  principal: Principal = ANONYMOUS;
  #ended = false;
  readonly #started = performance.now();
  readonly #route: RouteInfo;
  readonly #span: RequestSpan;
  readonly #observe: (method: string, route: string, status: number, seconds: number) => void;
  readonly #quiet: boolean;

  constructor(
    readonly requestId: string,
    readonly log: Logger,
    route: RouteInfo,
    span: RequestSpan,
    observe: (method: string, route: string, status: number, seconds: number) => void,
    quiet: boolean,
  ) {
    this.#route = route;
    this.#span = span;
    this.#observe = observe;
    this.#quiet = quiet;
  }

  run<T>(fn: () => T): T {
    return context.with(this.#span.context, fn);
  }

  end(status: number, error?: unknown): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    const seconds = (performance.now() - this.#started) / 1000;
    const route = this.#route;
    this.#observe(route.method, route.path, status, seconds);
    this.#span.end(status, error);
    if (this.#quiet) return true;
    const line = {
      method: route.method,
      route: route.path,
      status,
      durationMs: Math.round(seconds * 10_000) / 10,
      principal: principalId(this.principal),
      ...(status >= 500 && error !== undefined ? { err: error } : {}),
    };
    if (status >= 500) this.log.error(line, "request failed");
    else this.log.info(line, "request");
    return true;
  }
}

/**
 * The platform middleware over the handler's own request and answer types; both front ends (and
 * the public {@link Platform}, which wraps it for web Requests and Responses) run this one.
 */
export interface CorePlatform {
  preflight(request: RequestHead): Answer | null;
  begin(request: RequestHead, route: RouteInfo): CoreScope;
  /**
   * Resolves the caller and records it on `scope` (for the log line). Answers synchronously when
   * there is nothing to wait for (auth off, a public route), so the handler need not suspend.
   */
  authenticate(request: RequestHead, access: Access, scope?: CoreScope): Principal | Promise<Principal>;
  authorize(principal: Principal, access: Access): void;
  /** Takes one token; synchronous (and headerless) when no tier applies. */
  rateLimit(principal: Principal, clientIp: string | undefined): RateHeaders | Promise<RateHeaders>;
  /** Adds security and CORS headers to `headers` and returns the body to send (compressed when worth it). */
  decorate(request: RequestHead, status: number, headers: HeaderMap, body: AnswerBody): AnswerBody;
  metrics(): Promise<Response>;
  close(): Promise<void>;
}

/** Builds the platform middleware over the handler's internal request and answer types. */
export function createCorePlatform(options: PlatformOptions = {}): CorePlatform {
  const logger = createBaseLogger(options.logger);
  // Only the logger built for `logger: false` is known to stay silent; a host's logger can change level.
  const quiet = options.logger === false;
  const auth = createAuthenticator(options.auth);
  const limiter = createRateLimiter(options.rateLimit, logger);
  const cors = createCors(options.cors);
  const secure = securityHeaders(options.securityHeaders);
  const compress = createCompression(options.compression);
  const metrics = createMetrics(options.metrics);
  const observe = metrics.observe;

  return {
    preflight(request) {
      const answer = cors.preflight(request);
      if (answer) secure(answer.headers);
      return answer;
    },

    begin(request, route) {
      const requestId = requestIdOf(request);
      // A silent logger writes nothing, so a per-request child (bindings serialised each time) is skipped.
      const log = quiet ? logger : logger.child({ reqId: requestId });
      const span = startRequestSpan(request, route.path);
      if (log.isLevelEnabled("debug")) {
        log.debug({ req: { method: request.method, path: new URL(request.url).pathname, headers: headersObject(request.headers) } }, "request received");
      }
      return new RequestState(requestId, log, route, span, observe, quiet);
    },

    authenticate(request, access, scope) {
      if (!auth.enabled || access === "public") return ANONYMOUS;
      return auth.authenticate(request, access).then((principal) => {
        if (scope) scope.principal = principal;
        return principal;
      });
    },

    authorize(principal, access) {
      auth.authorize(principal, access);
    },

    rateLimit(principal, clientIp) {
      return limiter.applies(principal) ? limiter.take(principal, clientIp) : NO_LIMIT;
    },

    decorate(request, status, headers, body) {
      secure(headers);
      cors.apply(request, headers);
      return compress(request, status, headers, body);
    },

    metrics() {
      return metrics.response();
    },

    async close() {
      // Nothing is pooled here: a Redis client and a metrics registry passed in belong to the caller.
    },
  };
}

/**
 * Builds the platform middleware the router runs around every route: request ids, logs, metrics,
 * spans, authentication and roles, rate limits, security headers, CORS and compression. With every
 * option off it still sets request ids and security headers, logs at info, counts metrics, and lets
 * every request through as anonymous.
 *
 * @example
 * const platform = createPlatform({
 *   auth: { apiKeys: [{ id: "backend", hash: hashApiKey(process.env.API_KEY!), role: "admin" }] },
 *   rateLimit: { tiers: { anonymous: { limit: 60, windowMs: 60_000 } } },
 *   cors: { origins: ["https://app.example.com"] },
 * });
 */
export function createPlatform(options: PlatformOptions = {}): Platform {
  const core = createCorePlatform(options);
  // The scope each begun request has, so authenticate(request) can record who it is for end()'s log line.
  const scopes = new WeakMap<Request, CoreScope>();
  const principals = new WeakMap<Request, Principal>();
  return {
    preflight(request) {
      const answer = core.preflight(request);
      return answer && answerToResponse(answer);
    },

    begin(request, route) {
      const scope = core.begin(request, route);
      const known = principals.get(request);
      if (known) scope.principal = known;
      scopes.set(request, scope);
      return {
        requestId: scope.requestId,
        get principal() {
          return scope.principal;
        },
        log: scope.log,
        run: (fn) => scope.run(fn),
        end(response, error) {
          if (!scope.end(response.status, error)) return response;
          return withHeader(response, "X-Request-Id", scope.requestId);
        },
      };
    },

    async authenticate(request, access) {
      const principal = await core.authenticate(request, access, scopes.get(request));
      principals.set(request, principal);
      return principal;
    },
    authorize: (principal, access) => core.authorize(principal, access),
    rateLimit: async (_request, principal, clientIp) => new Headers(await core.rateLimit(principal, clientIp)),

    finish(request, response) {
      // Mutable headers (the handler's own responses) are decorated in place and the Response kept
      // unless compression swaps the body. Immutable ones (Response.redirect, a fetched response) are copied first.
      const headers = hasMutableHeaders(response) ? response.headers : new Headers(response.headers);
      const body = core.decorate(request, response.status, headers, response.body);
      if (body === response.body && headers === response.headers) return response;
      return new Response(body, { status: response.status, statusText: response.statusText, headers });
    },

    metrics: () => core.metrics(),
    close: () => core.close(),
  };
}

/** Whether `response.headers` accepts changes (false for e.g. Response.redirect or a fetched Response). */
function hasMutableHeaders(response: Response): boolean {
  try {
    // Setting a header to its own value changes nothing but throws on an immutable guard.
    const type = response.headers.get("content-type");
    if (type === null) response.headers.delete("content-type");
    else response.headers.set("content-type", type);
    return true;
  } catch {
    return false;
  }
}

/** Sets one header, copying the response when its headers are immutable (e.g. a fetched Response). */
function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set(name, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
