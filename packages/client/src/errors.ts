import type { components } from "./generated/openapi.js";

/** The codes a problem body carries (the engine's `GamifyError` codes), from the OpenAPI document. */
export type ProblemCode = components["schemas"]["Problem"]["code"];

/** A {@link ClientError}'s code: the problem's, or the client's own two when no answer came. */
export type ClientErrorCode =
  | ProblemCode
  /** No response: DNS, connection refused or reset, TLS. `status` is 0. */
  | "NETWORK_ERROR"
  /** No response within `timeoutMs`. `status` is 0. */
  | "TIMEOUT";

/** One validation failure of a 400 answer, e.g. `{ path: "body.amount", message: "…" }`. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** An RFC 9457 problem body as the API sends it. */
export interface ProblemBody {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly code?: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
}

const PROBLEM_CODES = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "CONFLICT",
  "OUT_OF_RANGE",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "RATE_LIMITED",
  "PAYLOAD_TOO_LARGE",
  "STORAGE_UNAVAILABLE",
  "CLOSED",
  "INTERNAL",
] as const satisfies readonly ProblemCode[];
// Fails to compile when the API gains a code this list lacks.
const EVERY_CODE_LISTED: ProblemCode extends (typeof PROBLEM_CODES)[number] ? true : never = true;
void EVERY_CODE_LISTED;
const CODES = new Set<string>(PROBLEM_CODES);

/** The code a status stands for when a body carries none (a proxy's own error page). */
function codeForStatus(status: number): ClientErrorCode {
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 422) return "OUT_OF_RANGE";
  if (status === 429) return "RATE_LIMITED";
  if (status === 502 || status === 503 || status === 504) return "STORAGE_UNAVAILABLE";
  if (status >= 400 && status < 500) return "INVALID_ARGUMENT";
  return "INTERNAL";
}

/**
 * Every failure of a client call. Branch on `code` (and `status`), never on the message.
 *
 * @example
 * try { await client.getUser("alice"); }
 * catch (e) { if (e instanceof ClientError && e.code === "NOT_FOUND") … }
 */
export class ClientError extends Error {
  override readonly name = "ClientError";
  /** The problem's `code`, or NETWORK_ERROR / TIMEOUT when no answer came. */
  readonly code: ClientErrorCode;
  /** HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The problem's `detail`: what went wrong and what to do. */
  readonly detail: string;
  /** The problem's `type` URI. */
  readonly type: string | undefined;
  /** The request id (the problem's `instance`, or the `X-Request-Id` header): quote it when reporting. */
  readonly requestId: string | undefined;
  /** Validation failures of a 400. */
  readonly errors: readonly FieldError[];
  /** Seconds the server asked to wait (`Retry-After` of a 429 or 503). */
  readonly retryAfterSeconds: number | undefined;
  /** The whole problem body, when there was one. */
  readonly problem: ProblemBody | undefined;

  constructor(
    code: ClientErrorCode,
    status: number,
    detail: string,
    extra: { problem?: ProblemBody; requestId?: string; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(`${status ? `${status} ` : ""}${code}: ${detail}`, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.problem = extra.problem;
    this.type = extra.problem?.type;
    this.requestId = extra.problem?.instance ?? extra.requestId;
    this.errors = extra.problem?.errors ?? [];
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Builds the ClientError for a non-2xx response, reading its problem body when it has one. */
export async function errorFromResponse(response: Response): Promise<ClientError> {
  let problem: ProblemBody | undefined;
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      const body = (await response.json()) as unknown;
      if (typeof body === "object" && body !== null) problem = body as ProblemBody;
    } catch {
      // A broken body still yields an error carrying the status.
    }
  } else {
    await response.body?.cancel().catch(() => undefined);
  }
  const code = problem?.code !== undefined && CODES.has(problem.code) ? (problem.code as ClientErrorCode) : codeForStatus(response.status);
  const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
  const requestId = response.headers.get("x-request-id") ?? undefined;
  return new ClientError(code, response.status, problem?.detail ?? problem?.title ?? (response.statusText || `HTTP ${response.status}`), {
    ...(problem ? { problem } : {}),
    ...(requestId ? { requestId } : {}),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
  });
}
