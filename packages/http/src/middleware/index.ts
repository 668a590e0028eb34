import { context } from "@opentelemetry/api";
import { createAuthenticator } from "./auth.js";
import { createCompression } from "./compression.js";
import { createCors } from "./cors.js";
import { createBaseLogger, headersObject, principalId, requestIdOf } from "./logging.js";
import { createMetrics } from "./metrics.js";
import { createRateLimiter } from "./rate-limit.js";
import { securityHeaders } from "./security-headers.js";
import { startRequestSpan } from "./tracing.js";
import type { Platform, PlatformOptions, Principal } from "./types.js";

export type * from "./types.js";
export { constantTimeEqual, hashApiKey, hashApiKeyAsync, WWW_AUTHENTICATE } from "./auth.js";
export { memoryRateLimitStore, rateLimitedHeaders, redisRateLimitStore } from "./rate-limit.js";
export type { MemoryRateLimitStore, MemoryRateLimitStoreOptions, RateLimitStore, RedisRateLimitStoreOptions, TierName, WindowCount } from "./rate-limit.js";
export { HTML_CSP, JSON_CSP } from "./security-headers.js";
export { CORS_EXPOSED_HEADERS, CORS_METHODS, CORS_REQUEST_HEADERS } from "./cors.js";
export { REDACTED_PATHS } from "./logging.js";

const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

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
  const logger = createBaseLogger(options.logger);
  // Only the logger built for `logger: false` is known to stay silent; a host's logger can change level.
  const quiet = options.logger === false;
  const auth = createAuthenticator(options.auth);
  const limiter = createRateLimiter(options.rateLimit, logger);
  const cors = createCors(options.cors);
  const secure = securityHeaders(options.securityHeaders);
  const compress = createCompression(options.compression);
  const metrics = createMetrics(options.metrics);
  // Who made a request, recorded by authenticate() so end() can log it without the router passing it back.
  const principals = new WeakMap<Request, Principal>();

  return {
    preflight(request) {
      const response = cors.preflight(request);
      if (response) secure(response.headers);
      return response;
    },

    begin(request, route) {
      const started = performance.now();
      const requestId = requestIdOf(request);
      // A silent logger writes nothing, so a per-request child (bindings serialised each time) is skipped.
      const log = quiet ? logger : logger.child({ reqId: requestId });
      const span = startRequestSpan(request, route.path);
      if (log.isLevelEnabled("debug")) {
        log.debug({ req: { method: request.method, path: new URL(request.url).pathname, headers: headersObject(request.headers) } }, "request received");
      }
      let ended = false;
      return {
        requestId,
        get principal() {
          return principals.get(request) ?? ANONYMOUS;
        },
        log,
        run: (fn) => context.with(span.context, fn),
        end(response, error) {
          if (ended) return response;
          ended = true;
          const seconds = (performance.now() - started) / 1000;
          const status = response.status;
          const principal = principals.get(request) ?? ANONYMOUS;
          metrics.observe(route.method, route.path, status, seconds);
          span.end(status, error);
          const line = {
            method: route.method,
            route: route.path,
            status,
            durationMs: Math.round(seconds * 10_000) / 10,
            principal: principalId(principal),
            ...(status >= 500 && error !== undefined ? { err: error } : {}),
          };
          if (status >= 500) log.error(line, "request failed");
          else log.info(line, "request");
          return withHeader(response, "X-Request-Id", requestId);
        },
      };
    },

    async authenticate(request, access) {
      const principal = await auth.authenticate(request, access);
      principals.set(request, principal);
      return principal;
    },

    authorize(principal, access) {
      auth.authorize(principal, access);
    },

    rateLimit(request, principal, clientIp) {
      return limiter.take(principal, clientIp);
    },

    finish(request, response) {
      // The handler's own responses have mutable headers: decorate them in place and keep the
      // Response (and its body) as it is unless compression swaps the body. Immutable headers
      // (Response.redirect, a fetched response) are copied first.
      const headers = hasMutableHeaders(response) ? response.headers : new Headers(response.headers);
      secure(headers);
      cors.apply(request, headers);
      const body = compress(request, response, headers);
      if (body === response.body && headers === response.headers) return response;
      return new Response(body, { status: response.status, statusText: response.statusText, headers });
    },

    metrics() {
      return metrics.response();
    },

    async close() {
      // Nothing is pooled here: a Redis client and a metrics registry passed in belong to the caller.
    },
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
