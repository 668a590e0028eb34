/**
 * How a route is declared: its method, path template, who may call it, the zod schemas of its
 * inputs and outputs, and the function that serves it. The router validates with the schemas
 * and the OpenAPI document is generated from the very same declarations.
 */
import type { Gamify } from "@gamifykit/core";
import { z } from "zod";
import type { Access, Principal, RequestScope } from "./middleware/index.js";
import { AnswerHeaders, textAnswer, type Answer, type HeaderReader, type Incoming } from "./exchange.js";
import { RequestError, type FieldError } from "./problem.js";
import type { RealtimeHub } from "./realtime-types.js";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** What a route's `serve` receives. */
export interface RouteContext<P, Q, H, B> {
  readonly gk: Gamify;
  /** The request; `request.toRequest()` gives a web Request where one is needed (e.g. SSE). */
  readonly request: Incoming;
  readonly params: P;
  readonly query: Q;
  readonly headers: H;
  readonly body: B;
  readonly principal: Principal;
  readonly scope: RequestScope;
  readonly services: RouteServices;
}

/** Handler-wide things some routes need. */
export interface RouteServices {
  readonly prefix: string;
  readonly realtime: RealtimeHub | undefined;
  /** The OpenAPI document as JSON text (built once, on first use). */
  openapiJson(): string;
  /** Prometheus text from the platform. */
  metrics(): Promise<Response>;
}

/** An OpenAPI response of a route: a description and, for a body, its media type and schema. */
export interface ResponseSpec {
  readonly description: string;
  readonly contentType?: string;
  readonly schema?: z.ZodType;
}

/** The raw request parts access rules may look at (before validation). */
export interface RawInput {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
}

/** A route declaration, as written in routes/*.ts. */
export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, H extends z.ZodType, B extends z.ZodType, R extends boolean = boolean> {
  readonly id: string;
  readonly method: Method;
  /** The path template under the prefix, e.g. `/v1/users/{userId}`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /** Who may call it; a function when it depends on the path or query (e.g. a user reading itself). */
  readonly access: Access | ((raw: RawInput) => Access);
  /** False for probes (`/healthz`, `/readyz`, `/metrics`) so a load balancer is never throttled. Default true. */
  readonly rateLimited?: boolean;
  readonly params?: P;
  readonly query?: Q;
  readonly headers?: H;
  /** The JSON body; an optional one (`required: false`) reaches `serve` as undefined when none was sent. */
  readonly body?: { readonly schema: B; readonly required: R };
  /** Success responses by status. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Error statuses this route can answer besides the ones every route can (documented as problems). */
  readonly errors?: readonly number[];
  serve(context: RouteContext<z.output<P>, z.output<Q>, z.output<H>, R extends true ? z.output<B> : z.output<B> | undefined>): Promise<Answer | Response> | Answer | Response;
}

/** What the router and the OpenAPI generator use: a declaration with its types erased. */
export interface Route {
  readonly spec: RouteSpec<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;
  /** Resolves the route's access rule for a request. */
  access(raw: RawInput): Access;
  /** Validates the raw inputs (collecting every failure into one 400) and serves. */
  run(input: {
    gk: Gamify;
    request: Incoming;
    raw: RawInput;
    body: unknown;
    principal: Principal;
    scope: RequestScope;
    services: RouteServices;
  }): Promise<Answer | Response> | Answer | Response;
}

const EMPTY = z.object({});

/** Declares a route; the schemas' output types flow into `serve`. */
export function defineRoute<
  P extends z.ZodType = typeof EMPTY,
  Q extends z.ZodType = typeof EMPTY,
  H extends z.ZodType = typeof EMPTY,
  B extends z.ZodType = z.ZodUndefined,
  R extends boolean = true,
>(
  spec: RouteSpec<P, Q, H, B, R>,
): Route {
  const erased = spec as unknown as RouteSpec<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;
  // The declared header names and their lowercase forms, worked out once rather than per request.
  const headerNames = spec.headers instanceof z.ZodObject ? Object.keys(spec.headers.shape).map((name) => [name, name.toLowerCase()] as const) : [];
  return {
    spec: erased,
    access: (raw) => (typeof spec.access === "function" ? spec.access(raw) : spec.access),
    // Not async: a validation failure throws to the caller, and a route's own promise is returned as is.
    run({ gk, request, raw, body, principal, scope, services }) {
      const errors: FieldError[] = [];
      const params = parse(spec.params ?? EMPTY, raw.params, "path", errors);
      const query = parse(spec.query ?? EMPTY, queryObject(raw.query, errors), "query", errors);
      const headers = parse(spec.headers ?? EMPTY, headerObject(headerNames, request.headers), "header", errors);
      const parsedBody = spec.body && (body !== undefined || spec.body.required) ? parse(spec.body.schema, body, "body", errors) : undefined;
      throwIfInvalid(errors);
      return erased.serve({ gk, request, params, query, headers, body: parsedBody, principal, scope, services });
    },
  };
}

/** Validates `value`, appending each failure (path prefixed with `location`) to `errors`. */
export function parse(schema: z.ZodType, value: unknown, location: string, errors: FieldError[]): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    errors.push({ path: [location, ...issue.path.map(String)].join("."), message: issue.message });
  }
  return undefined;
}

/** Throws one 400 listing every validation failure, if any. */
export function throwIfInvalid(errors: readonly FieldError[]): void {
  if (errors.length === 0) return;
  const first = errors[0] as FieldError;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more; see errors)` : "";
  throw new RequestError(400, "INVALID_ARGUMENT", `Invalid request: ${first.path} ${first.message}${more}.`, errors);
}

/** Query parameters as an object; a parameter given twice is an error rather than a silent pick. */
export function queryObject(query: URLSearchParams, errors: FieldError[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    if (Object.hasOwn(out, key)) errors.push({ path: `query.${key}`, message: "is given more than once" });
    out[key] = value;
  }
  return out;
}

/** The headers a route declares, read case-insensitively into the declared names. */
function headerObject(names: readonly (readonly [string, string])[], headers: HeaderReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, lower] of names) {
    const value = headers.get(lower);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** A JSON answer (not cached unless `headers` say otherwise). */
export function json(data: unknown, status = 200, headers?: Readonly<Record<string, string>>): Answer {
  const h = new AnswerHeaders(headers);
  h.set("content-type", "application/json");
  if (!h.has("cache-control")) h.set("cache-control", "no-store");
  return textAnswer(JSON.stringify(data), status, h);
}
