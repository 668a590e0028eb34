/**
 * createGamifyHandler: the whole HTTP API as one web-standard `(request) => Promise<Response>`
 * function, which mounts in any runtime (Node through ./node.ts, Deno, Bun, edge workers).
 */
import { GamifyError, type Gamify } from "@gamifykit/core";
import { DEFAULT_BODY_LIMIT, readJsonBody } from "./body.js";
import { getClientIp, setClientIp } from "./client-ip.js";
import { createPlatform, type Platform, type PlatformOptions, type Principal, type RequestScope } from "./middleware/index.js";
import { createOpenApiDocument, type OpenApiDocument } from "./openapi.js";
import { errorToResponse, RequestError, type FieldError } from "./problem.js";
import type { RealtimeFilter, RealtimeHub } from "./realtime-types.js";
import { parse, queryObject, throwIfInvalid, type RouteServices } from "./route.js";
import { createRouter, normalizePrefix, stripPrefix, type Match } from "./router.js";
import { realtimeOff, streamAccess, toFilter, webSocket } from "./routes/events.js";
import { allRoutes } from "./routes/index.js";
import { WebSocketQuery } from "./schemas.js";

/** Options of {@link createGamifyHandler}. Everything is optional; with none, auth, rate limits and CORS are off. */
export interface GamifyHandlerOptions extends PlatformOptions {
  /** Where the API is mounted, e.g. "/api" → "/api/v1/users/alice". Default "". */
  readonly prefix?: string;
  /** Largest request body in bytes; larger bodies answer 413. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** The realtime hub (`createRealtime(gk)`) serving /v1/events and /v1/ws; without it those answer 404. */
  readonly realtime?: RealtimeHub | false;
  /** `false` opens GET /metrics to anyone (e.g. a scraper on a private network). Default: admin only when auth is on. */
  readonly metricsAuth?: boolean;
  /**
   * How to find the client's IP (for rate limits and logs). Default: the address the Node adapter
   * recorded with {@link setClientIp}. On other runtimes e.g. `(r) => r.headers.get("cf-connecting-ip") ?? undefined`.
   */
  readonly clientIp?: (request: Request) => string | undefined;
}

/** Outcome of authorising a WebSocket upgrade (used by the Node upgrade hook). */
export type UpgradeDecision =
  | { readonly accepted: true; readonly realtime: RealtimeHub; readonly filter: RealtimeFilter; readonly principal: Principal }
  | { readonly accepted: false; readonly response: Response };

/** The handler: call it with a Request; it also carries what the Node adapter needs. */
export interface GamifyHandler {
  (request: Request): Promise<Response>;
  /** The normalised mount prefix ("" or "/x"). */
  readonly prefix: string;
  /** True when this handler serves `pathname`: inside the prefix, or (with no prefix) one of its routes. */
  handles(pathname: string): boolean;
  /** The path of the WebSocket endpoint, prefix included. */
  readonly webSocketPath: string;
  /** Authenticates, authorises, rate-limits and validates a WebSocket upgrade request for /v1/ws. */
  authorizeUpgrade(request: Request): Promise<UpgradeDecision>;
  /** The OpenAPI 3.1 document this handler serves at /openapi.json. */
  openapi(): OpenApiDocument;
  /** Releases what the handler's platform owns (rate-limit timers, metrics). Does not close the engine or the realtime hub. */
  close(): Promise<void>;
}

/**
 * Creates the HTTP API over an engine as a web-standard fetch handler.
 *
 * Per request: CORS preflight → route match (404/405 problem if none) → request id, log, span,
 * metrics → authenticate → authorise → rate limit → content type, body limit and zod validation
 * → the engine → RFC 9457 problem on error → security/CORS headers and compression.
 *
 * @example
 * const handler = createGamifyHandler(createGamify(), { prefix: "/api" });
 * export default { fetch: handler };
 */
export function createGamifyHandler(gk: Gamify, options: GamifyHandlerOptions = {}): GamifyHandler {
  const prefix = normalizePrefix(options.prefix);
  if (!/^(\/[\w.~!$&'()*+,;=:@%-]+)*$/.test(prefix)) {
    throw new GamifyError("INVALID_ARGUMENT", `prefix must be a URL path such as "/api" (no spaces, "?" or "#"); got ${JSON.stringify(options.prefix)}.`, { details: { field: "prefix" } });
  }
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new GamifyError("INVALID_ARGUMENT", `bodyLimit must be a positive whole number of bytes; got ${String(bodyLimit)}.`, { details: { field: "bodyLimit" } });
  }
  const realtime = options.realtime || undefined;
  const authOn = Boolean(options.auth && (options.auth.apiKeys?.length || options.auth.jwt));
  const metricsOpen = options.metricsAuth === false;
  // Only the platform fields matter to createPlatform; the router's own fields are ignored there.
  const platform: Platform = createPlatform(options);
  const clientIp = options.clientIp ?? getClientIp;
  const router = createRouter(allRoutes({ metricsOpen }));

  let document: OpenApiDocument | undefined;
  let documentJson: string | undefined;
  const openapi = () => (document ??= createOpenApiDocument({ prefix, auth: authOn, metricsOpen }));
  const services: RouteServices = {
    prefix,
    realtime,
    openapiJson: () => (documentJson ??= JSON.stringify(openapi())),
    metrics: () => platform.metrics(),
  };

  const handler = async (request: Request): Promise<Response> => {
    const preflight = platform.preflight(request);
    if (preflight) return preflight;

    const url = new URL(request.url);
    let match: Match | null = null;
    let routeError: unknown;
    try {
      match = findRoute(request.method, url.pathname);
    } catch (error) {
      routeError = error;
    }
    const scope = platform.begin(
      request,
      match ? { id: match.route.spec.id, method: request.method, path: match.route.spec.path } : { id: "unmatched", method: request.method, path: "unmatched" },
    );
    let response: Response;
    let failure: unknown;
    const counted: Counted = {};
    try {
      if (!match) throw routeError;
      const matched = match;
      // Inside the request span, so spans the storage's instrumentation opens become its children.
      response = await scope.run(() => serve(request, url, matched, scope, counted));
    } catch (error) {
      failure = error;
      response = errorToResponse(error, { requestId: scope.requestId, log: scope.log });
      // A request the limiter counted shows the shrunken budget even when it failed.
      if (counted.rateHeaders) response = withHeaders(response, counted.rateHeaders);
    }
    if (request.method === "HEAD") {
      // Release whatever the GET would have streamed (an SSE subscription, say) before dropping it.
      await response.body?.cancel().catch(() => undefined);
      response = new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    return scope.end(platform.finish(request, response), failure);
  };

  /** The matched route, or throws the 404/405 problem. */
  const findRoute = (method: string, pathname: string): Match => {
    const path = stripPrefix(pathname, prefix);
    if (path === null) throw new RequestError(404, "NOT_FOUND", `Nothing is served at ${pathname}; this API lives under ${prefix}/ (see ${prefix}/docs).`);
    const found = router.lookup(method, path);
    if (found.match) return found.match;
    if (found.allowed.length > 0) {
      throw new RequestError(405, "INVALID_ARGUMENT", `${method} is not allowed on ${pathname}; use ${found.allowed.join(", ")}.`, undefined, { allow: found.allowed.join(", ") });
    }
    throw new RequestError(404, "NOT_FOUND", `No route matches ${method} ${pathname}; the routes are listed at ${prefix}/openapi.json and ${prefix}/docs.`);
  };

  const serve = async (request: Request, url: URL, { route, params }: Match, scope: RequestScope, counted: Counted): Promise<Response> => {
    const raw = { params, query: url.searchParams };
    const access = route.access(raw);
    const principal = await platform.authenticate(request, access);
    platform.authorize(principal, access);
    const rateHeaders = route.spec.rateLimited === false ? undefined : await platform.rateLimit(request, principal, clientIp(request));
    if (rateHeaders) counted.rateHeaders = rateHeaders;
    const body = route.spec.body ? await readJsonBody(request, { limit: bodyLimit, required: route.spec.body.required }) : undefined;
    const response = await route.run({ gk, request, raw, body, principal, scope, services });
    return rateHeaders ? withHeaders(response, rateHeaders) : response;
  };

  const authorizeUpgrade = async (incoming: Request): Promise<UpgradeDecision> => {
    const url = new URL(incoming.url);
    // Browsers cannot set headers on a WebSocket, so a token may come as ?access_token=.
    const token = url.searchParams.get("access_token");
    let request = incoming;
    if (token !== null && !incoming.headers.has("authorization") && !incoming.headers.has("x-api-key")) {
      const headers = new Headers(incoming.headers);
      headers.set("authorization", `Bearer ${token}`);
      request = new Request(incoming.url, { method: incoming.method, headers, signal: incoming.signal });
      const ip = clientIp(incoming);
      if (ip !== undefined) setClientIp(request, ip);
    }
    const scope = platform.begin(request, { id: webSocket.spec.id, method: "GET", path: webSocket.spec.path });
    try {
      if (!realtime) throw realtimeOff();
      const raw = { params: {}, query: url.searchParams };
      const access = streamAccess(raw);
      const principal = await platform.authenticate(request, access);
      platform.authorize(principal, access);
      await platform.rateLimit(request, principal, clientIp(request));
      const errors: FieldError[] = [];
      const query = parse(WebSocketQuery, queryObject(url.searchParams, errors), "query", errors) as { userId?: string; leaderboard?: string } | undefined;
      throwIfInvalid(errors);
      // end() needs a Response and 101 cannot be constructed; the log and metrics record accepted upgrades as 200.
      scope.end(new Response(null, { status: 200 }));
      return { accepted: true, realtime, filter: toFilter(query ?? {}), principal };
    } catch (error) {
      const response = platform.finish(request, errorToResponse(error, { requestId: scope.requestId, log: scope.log }));
      return { accepted: false, response: scope.end(response, error) };
    }
  };

  return Object.assign(handler, {
    prefix,
    webSocketPath: `${prefix}/v1/ws`,
    handles(pathname: string): boolean {
      const path = stripPrefix(pathname, prefix);
      if (path === null) return false;
      if (prefix !== "") return true;
      try {
        const found = router.lookup("GET", path);
        return found.match !== null || found.allowed.length > 0;
      } catch {
        return true; // a route's path with bad percent-encoding: ours to answer 400
      }
    },
    authorizeUpgrade,
    openapi,
    close: () => platform.close(),
  });
}

/** The RateLimit-* headers of a request the limiter counted, kept for its error answer. */
interface Counted {
  rateHeaders?: Headers;
}

/** Adds headers to a response (copying it when its headers are immutable). */
function withHeaders(response: Response, extra: Headers): Response {
  try {
    extra.forEach((value, key) => response.headers.set(key, value));
    return response;
  } catch {
    const headers = new Headers(response.headers);
    extra.forEach((value, key) => headers.set(key, value));
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
