/**
 * RFC 9457 problem details: every error the API answers is `application/problem+json` carrying
 * the engine's error code. Client errors (4xx) say what went wrong; server errors (5xx) say
 * nothing about internals and are logged instead.
 */
import { isGamifyError, type GamifyErrorCode } from "@gamifykit/core";
import type { Logger } from "pino";
import { AnswerHeaders, textAnswer, type Answer } from "./exchange.js";
import { rateLimitedRecord, WWW_AUTHENTICATE } from "./middleware/index.js";
import type { ProblemBody } from "./schemas.js";

/** HTTP status for each engine error code. OUT_OF_RANGE is 422: the request is well-formed, but applying it would leave the safe-integer range. */
export const STATUS_BY_CODE: Readonly<Record<GamifyErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  OUT_OF_RANGE: 422,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  STORAGE_UNAVAILABLE: 503,
  CLOSED: 503,
  INTERNAL: 500,
};

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The reason phrase of a status this API answers with ("Error" for others). */
export function statusText(status: number): string {
  return TITLES[status] ?? "Error";
}

/** What the body of a 5xx says: nothing from the error itself, which may name hosts or queries. */
const SERVER_DETAIL: Readonly<Record<number, string>> = {
  500: "An unexpected error occurred. The server log has the details under this request's id.",
  503: "The service cannot reach its storage or is shutting down. Retry later; the server log has the details under this request's id.",
};

/** One validation failure: where (e.g. `body.amount`, `query.limit`) and what. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/**
 * An error the router itself raises about the HTTP request (bad media type, body too large,
 * failed validation, unknown route). Mapped to a problem like a GamifyError, with its own status.
 */
export class RequestError extends Error {
  override readonly name = "RequestError";
  constructor(
    readonly status: number,
    readonly code: GamifyErrorCode,
    message: string,
    readonly errors?: readonly FieldError[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** The `type` URI of a problem: `https://gamifykit.dev/problems/<code in lowercase with dashes>`. */
export function problemType(code: GamifyErrorCode): string {
  return `https://gamifykit.dev/problems/${code.toLowerCase().replaceAll("_", "-")}`;
}

/** A problem+json answer. */
export function problemAnswer(body: ProblemBody, headers?: Readonly<Record<string, string>>): Answer {
  const h = new AnswerHeaders(headers);
  h.set("content-type", "application/problem+json");
  h.set("cache-control", "no-store");
  return textAnswer(JSON.stringify(body), body.status, h);
}

/** Builds a problem body for a status and code. */
export function problem(status: number, code: GamifyErrorCode, detail: string, extra: { instance?: string; errors?: readonly FieldError[] } = {}): ProblemBody {
  return {
    type: problemType(code),
    title: TITLES[status] ?? "Error",
    status,
    detail,
    code,
    ...(extra.instance === undefined ? {} : { instance: extra.instance }),
    ...(extra.errors === undefined ? {} : { errors: [...extra.errors] }),
  };
}

/**
 * Turns anything thrown while serving a request into a problem response. 5xx errors are
 * logged with their stack and cause; their body carries only a generic sentence and the request id.
 */
export function errorToAnswer(error: unknown, context: { requestId?: string; log?: Logger }): Answer {
  const instance = context.requestId === undefined ? {} : { instance: context.requestId };
  if (error instanceof RequestError) {
    return problemAnswer(problem(error.status, error.code, error.message, { ...instance, ...(error.errors ? { errors: error.errors } : {}) }), error.headers);
  }
  if (isGamifyError(error)) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    if (status >= 500) {
      context.log?.error({ err: error, code: error.code }, "request failed");
      const code = error.code === "INTERNAL" ? "INTERNAL" : error.code;
      return problemAnswer(problem(status, code, SERVER_DETAIL[status] ?? SERVER_DETAIL[500]!, instance), status === 503 ? { "retry-after": "5" } : undefined);
    }
    return problemAnswer(problem(status, error.code, error.message, instance), headersFor(error.code, error.details));
  }
  context.log?.error({ err: error }, "unexpected error while serving a request");
  return problemAnswer(problem(500, "INTERNAL", SERVER_DETAIL[500]!, instance));
}

/** Extra headers some codes carry: WWW-Authenticate for 401, Retry-After and RateLimit-* for 429. */
function headersFor(code: GamifyErrorCode, details: Readonly<Record<string, unknown>>): Record<string, string> | undefined {
  if (code === "UNAUTHENTICATED") {
    return { "www-authenticate": typeof details["wwwAuthenticate"] === "string" ? details["wwwAuthenticate"] : WWW_AUTHENTICATE };
  }
  if (code === "RATE_LIMITED") return rateLimitedRecord(details);
  return undefined;
}
