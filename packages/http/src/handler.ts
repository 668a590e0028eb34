/**
 * createGamifyHandler: the whole HTTP API as one web-standard `(request) => Promise<Response>`
 * function, which mounts in any runtime (Deno, Bun, edge workers, and Node through ./node.ts).
 *
 * The routes and middleware run in one core over the internal request and answer of
 * ./exchange.ts. The fetch handler is a thin front end that wraps a Request and turns the answer
 * into a Response; the Node adapter is another that feeds the core straight from node:http.
 */
import { GamifyError, type Gamify } from "@gamifykit/core";
import { DEFAULT_BODY_LIMIT, readJsonBody, readWebBody, webRequestHasBody } from "./body.js";
import { getClientIp, setClientIp } from "./client-ip.js";
import { answerFromResponse, answerToResponse, isStream, registerCore, type Answer, type Incoming } from "./exchange.js";
import { createCorePlatform, NO_RATE_HEADERS, type CorePlatform, type CoreScope, type PlatformOptions, type Principal, type RateHeaders } from "./middleware/index.js";
import { createOpenApiDocument, type OpenApiDocument } from "./openapi.js";
import { errorToAnswer, RequestError, type FieldError } from "./problem.js";
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
  // Only the platform fields matter to createCorePlatform; the router's own fields are ignored there.
  const platform: CorePlatform = createCorePlatform(options);
  const hostClientIp = options.clientIp;
  const clientIpOf = hostClientIp ? (request: Incoming) => hostClientIp(request.toRequest()) : (request: Incoming) => request.defaultClientIp();
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

  /** The core both front ends call: one request in, one answer out (with X-Request-Id, security, CORS and compression applied). */
  const serveIncoming = async (request: Incoming): Promise<Answer> => {
    const preflight = platform.preflight(request);
    if (preflight) return preflight;

    let match: Match | null = null;
    let routeError: unknown;
    try {
      match = findRoute(request.method, request.pathname);
    } catch (error) {
      routeError = error;
    }
    const scope = platform.begin(
      request,
      match ? { id: match.route.spec.id, method: request.method, path: match.route.spec.path } : { id: "unmatched", method: request.method, path: "unmatched" },
    );
    let answer: Answer;
    let failure: unknown;
    const counted: Counted = {};
    try {
      if (!match) throw routeError;
      const matched = match;
      // Inside the request span, so spans the storage's instrumentation opens become its children.
      answer = await scope.run(() => serve(request, matched, scope, counted));
    } catch (error) {
      failure = error;
      answer = errorToAnswer(error, { requestId: scope.requestId, log: scope.log });
      // A request the limiter counted shows the shrunken budget even when it failed.
      if (counted.rateHeaders) setAll(answer, counted.rateHeaders);
    }
    if (request.method === "HEAD") {
      // Release whatever the GET would have streamed (an SSE subscription, say) before dropping it.
      if (isStream(answer.body)) await answer.body.cancel().catch(() => undefined);
      answer.body = null;
    }
    answer.body = platform.decorate(request, answer.status, answer.headers, answer.body);
    scope.end(answer.status, failure);
    answer.headers.set("x-request-id", scope.requestId);
    return answer;
  };

  const handler = async (request: Request): Promise<Response> => answerToResponse(await serveIncoming(webIncoming(request)));

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

  const serve = async (request: Incoming, { route, params }: Match, scope: CoreScope, counted: Counted): Promise<Answer> => {
    const raw = { params, query: request.searchParams };
    const access = route.access(raw);
    // Awaited only when pending: with auth or rate limits off these answer at once.
    const authenticated = platform.authenticate(request, access, scope);
    const principal = authenticated instanceof Promise ? await authenticated : authenticated;
    platform.authorize(principal, access);
    const limited = route.spec.rateLimited === false ? undefined : platform.rateLimit(principal, clientIpOf(request));
    const rateHeaders = limited instanceof Promise ? await limited : limited;
    if (rateHeaders && rateHeaders !== NO_RATE_HEADERS) counted.rateHeaders = rateHeaders;
    const body = route.spec.body ? await readJsonBody(request, { limit: bodyLimit, required: route.spec.body.required }) : undefined;
    const result = await route.run({ gk, request, raw, body, principal, scope, services });
    const answer = result instanceof Response ? answerFromResponse(result) : result;
    if (counted.rateHeaders) setAll(answer, counted.rateHeaders);
    return answer;
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
      const ip = getClientIp(incoming);
      if (ip !== undefined) setClientIp(request, ip);
    }
    const wrapped = webIncoming(request);
    const scope = platform.begin(wrapped, { id: webSocket.spec.id, method: "GET", path: webSocket.spec.path });
    try {
      if (!realtime) throw realtimeOff();
      const raw = { params: {}, query: url.searchParams };
      const access = streamAccess(raw);
      const principal = await platform.authenticate(wrapped, access, scope);
      platform.authorize(principal, access);
      await platform.rateLimit(principal, clientIpOf(wrapped));
      const errors: FieldError[] = [];
      const query = parse(WebSocketQuery, queryObject(url.searchParams, errors), "query", errors) as { userId?: string; leaderboard?: string } | undefined;
      throwIfInvalid(errors);
      // 101 is not a status a Response can carry; the log and metrics record accepted upgrades as 200.
      scope.end(200);
      return { accepted: true, realtime, filter: toFilter(query ?? {}), principal };
    } catch (error) {
      const answer = errorToAnswer(error, { requestId: scope.requestId, log: scope.log });
      answer.body = platform.decorate(wrapped, answer.status, answer.headers, answer.body);
      scope.end(answer.status, error);
      answer.headers.set("x-request-id", scope.requestId);
      return { accepted: false, response: answerToResponse(answer) };
    }
  };

  registerCore(handler, serveIncoming);
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
  rateHeaders?: RateHeaders;
}

function setAll(answer: Answer, headers: RateHeaders): void {
  for (const name of Object.keys(headers)) answer.headers.set(name, headers[name] as string);
}

/** A web Request as the core's request. */
function webIncoming(request: Request): Incoming {
  const url = new URL(request.url);
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    pathname: url.pathname,
    searchParams: url.searchParams,
    hasBody: () => webRequestHasBody(request),
    readBody: (limit) => readWebBody(request, limit),
    defaultClientIp: () => getClientIp(request),
    toRequest: () => request,
  };
}
