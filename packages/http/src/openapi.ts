/**
 * The OpenAPI 3.1 document, generated with zod-openapi from the route declarations and their
 * zod schemas, so it always describes exactly what the router validates and answers.
 */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiParameters, type ZodOpenApiResponsesObject } from "zod-openapi";
import type { Route } from "./route.js";
import { allRoutes } from "./routes/index.js";
import { z } from "zod";
import { Problem } from "./schemas.js";

/** Options of {@link createOpenApiDocument}. */
export interface OpenApiOptions {
  /** The mount prefix; becomes the document's server URL. Default "". */
  readonly prefix?: string;
  /** Whether the server requires credentials (adds the global security requirement). Default true. */
  readonly auth?: boolean;
  /** Whether GET /metrics is open (`metricsAuth: false`). Default false. */
  readonly metricsOpen?: boolean;
  readonly title?: string;
  readonly version?: string;
}

/** The OpenAPI document as plain JSON data. */
export type OpenApiDocument = ReturnType<typeof createDocument>;

/** Reusable error responses, one per status, each an RFC 9457 problem. */
const PROBLEMS: Readonly<Record<number, { id: string; description: string }>> = {
  400: { id: "BadRequest", description: "Invalid input (INVALID_ARGUMENT); `errors` lists each failed field." },
  401: { id: "Unauthorized", description: "Missing or invalid credentials (UNAUTHENTICATED)." },
  403: { id: "Forbidden", description: "The credentials may not do this (PERMISSION_DENIED)." },
  404: { id: "NotFound", description: "No such resource (NOT_FOUND)." },
  409: { id: "Conflict", description: "Conflicts with the current state (CONFLICT)." },
  413: { id: "ContentTooLarge", description: "The body is larger than the server's limit (PAYLOAD_TOO_LARGE)." },
  415: { id: "UnsupportedMediaType", description: "The body is not `application/json` (code INVALID_ARGUMENT)." },
  422: { id: "OutOfRange", description: "A total would leave the safe-integer range (OUT_OF_RANGE)." },
  426: { id: "UpgradeRequired", description: "Connect with a WebSocket client (code INVALID_ARGUMENT)." },
  429: { id: "TooManyRequests", description: "Rate limited (RATE_LIMITED); see Retry-After and RateLimit-* headers." },
  500: { id: "InternalError", description: "An unexpected error (INTERNAL); the body says nothing more, the server log does." },
  503: { id: "Unavailable", description: "The storage is unavailable or the engine is closing (STORAGE_UNAVAILABLE, CLOSED)." },
};

const requestId = z.string().meta({ description: "The request's id (an incoming valid X-Request-Id is kept); also the problem's `instance`." });
const seconds = (description: string) => z.string().regex(/^\d+$/).meta({ description });
const rateLimitHeaders = {
  "RateLimit-Limit": seconds("Requests allowed per window for this caller.").optional(),
  "RateLimit-Remaining": seconds("Requests left in the current window.").optional(),
  "RateLimit-Reset": seconds("Seconds until the window resets.").optional(),
};

/** Headers each problem response carries, by status. */
const PROBLEM_HEADERS: Readonly<Record<number, z.ZodObject>> = {
  401: z.object({ "X-Request-Id": requestId, "WWW-Authenticate": z.string().meta({ description: 'The auth scheme, `Bearer realm="gamifykit"`.' }) }),
  429: z.object({ "X-Request-Id": requestId, "Retry-After": seconds("Seconds to wait before retrying."), ...rateLimitHeaders }),
  503: z.object({ "X-Request-Id": requestId, "Retry-After": seconds("Seconds to wait before retrying.") }),
};

/** The error statuses a route can answer. */
export function errorStatuses(route: Route): number[] {
  const { spec } = route;
  const statuses = new Set<number>(spec.errors ?? []);
  if (spec.params || spec.query || spec.headers || spec.body) statuses.add(400);
  if (spec.body) {
    statuses.add(413);
    statuses.add(415);
  }
  if (spec.access !== "public") {
    statuses.add(401);
    statuses.add(403);
  }
  if (spec.rateLimited !== false) statuses.add(429);
  if (spec.tag !== "system" || spec.id === "readyz") statuses.add(503);
  statuses.add(500);
  return [...statuses].sort((a, b) => a - b);
}

function operation(route: Route): ZodOpenApiOperationObject {
  const { spec } = route;
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status as `2${string}`] = {
      description: response.description,
      headers: spec.rateLimited === false ? z.object({ "X-Request-Id": requestId }) : z.object({ "X-Request-Id": requestId, ...rateLimitHeaders }),
      ...(response.schema ? { content: { [response.contentType ?? "application/json"]: { schema: response.schema } } } : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    const problem = PROBLEMS[status];
    if (problem) responses[String(status) as `4${string}`] = { $ref: `#/components/responses/${problem.id}` };
  }
  // The declarations are z.object schemas; their erased type is just z.ZodType.
  const requestParams = {
    ...(spec.params ? { path: spec.params } : {}),
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.headers ? { header: spec.headers } : {}),
  } as ZodOpenApiParameters;
  return {
    operationId: spec.id,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [spec.tag],
    ...(spec.access === "public" ? { security: [] } : {}),
    ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
    ...(spec.body ? { requestBody: { required: spec.body.required, content: { "application/json": { schema: spec.body.schema } } } } : {}),
    responses,
  };
}

/**
 * Builds the OpenAPI 3.1 document of the API from the route declarations.
 * @example
 * const doc = createOpenApiDocument({ prefix: "/api" });
 */
export function createOpenApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const routes = allRoutes({ metricsOpen: options.metricsOpen ?? false });
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const item = (paths[route.spec.path] ??= {});
    item[route.spec.method.toLowerCase() as "get" | "post" | "put" | "delete"] = operation(route);
  }
  const responses = Object.fromEntries(
    Object.entries(PROBLEMS).map(([status, { id, description }]) => [
      id,
      {
        description,
        headers: PROBLEM_HEADERS[Number(status)] ?? z.object({ "X-Request-Id": requestId }),
        content: { "application/problem+json": { schema: Problem } },
      },
    ]),
  );
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: options.title ?? "GamifyKit API",
      version: options.version ?? "1",
      description:
        "Points, badges, levels, leaderboards and a realtime feed. Errors are RFC 9457 problem details (`application/problem+json`) carrying the engine's error `code`.",
      license: { name: "MIT", identifier: "MIT" },
    },
    ...(options.prefix ? { servers: [{ url: options.prefix }] } : {}),
    tags: [
      { name: "users", description: "User state" },
      { name: "points", description: "Adding and removing points" },
      { name: "badges", description: "Badges" },
      { name: "events", description: "Actions and event history" },
      { name: "leaderboards", description: "Rankings" },
      { name: "realtime", description: "Live events (SSE, WebSocket)" },
      { name: "system", description: "Probes, metrics, this document" },
    ],
    ...(options.auth === false ? {} : { security: [{ bearerAuth: [] }, { apiKeyAuth: [] }] }),
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "An API key, or a JWT (role claim `admin`, `reader` or `user`; a user token reads only its own `sub`)." },
        apiKeyAuth: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key." },
      },
      responses,
    },
    paths,
  });
}
