import { GamifyError } from "@gamifykit/core";
import { AnswerHeaders, type Answer, type HeaderMap, type RequestHead } from "../exchange.js";
import type { CorsOptions } from "./types.js";

/** Methods the API uses. */
export const CORS_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
/** Request headers a browser client may send. */
export const CORS_REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-API-Key, X-Request-Id";
/** Response headers a browser client may read. */
export const CORS_EXPOSED_HEADERS =
  "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, WWW-Authenticate, Location";

/** CORS for one origin policy. */
export interface Cors {
  /** The answer to a preflight, or null when the request is not one. */
  preflight(request: RequestHead): Answer | null;
  /** Adds the CORS headers to an actual response, in place. */
  apply(request: RequestHead, headers: HeaderMap): void;
}

/** Builds CORS handling. Disabled CORS answers no preflight and adds no headers. */
export function createCors(options: CorsOptions | false | undefined): Cors {
  if (!options) return { preflight: () => null, apply: () => undefined };
  const any = options.origins === "*";
  const allowed = new Set(any ? [] : options.origins.map(normalizeOrigin));
  const credentials = options.credentials ?? false;
  const maxAge = options.maxAgeSeconds ?? 600;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) throw new GamifyError("INVALID_ARGUMENT", "cors.maxAgeSeconds must be a non-negative integer.");

  /** The Access-Control-Allow-Origin value, or undefined when the origin is not allowed. */
  function allowOrigin(origin: string | null): string | undefined {
    if (origin === null) return undefined;
    // With credentials the spec forbids "*", so an open policy echoes the caller's origin instead.
    if (any) return credentials ? origin : "*";
    return allowed.has(origin.toLowerCase()) ? origin : undefined;
  }

  return {
    preflight(request) {
      if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return null;
      const headers = new AnswerHeaders({ "Content-Length": "0" });
      const origin = allowOrigin(request.headers.get("origin"));
      // A disallowed origin still gets a 204, only without the allow headers: the browser then blocks it.
      if (origin !== undefined) {
        headers.set("Access-Control-Allow-Origin", origin);
        if (credentials) headers.set("Access-Control-Allow-Credentials", "true");
        headers.set("Access-Control-Allow-Methods", CORS_METHODS);
        headers.set("Access-Control-Allow-Headers", CORS_REQUEST_HEADERS);
        headers.set("Access-Control-Max-Age", String(maxAge));
      }
      if (!any || credentials) headers.append("Vary", "Origin");
      headers.append("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
      return { status: 204, headers, body: null };
    },
    apply(request, headers) {
      const origin = allowOrigin(request.headers.get("origin"));
      if (!any || credentials) headers.append("Vary", "Origin");
      if (origin === undefined) return;
      headers.set("Access-Control-Allow-Origin", origin);
      if (credentials) headers.set("Access-Control-Allow-Credentials", "true");
      headers.set("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS);
    },
  };
}

function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch (cause) {
    throw new GamifyError("INVALID_ARGUMENT", `cors.origins entry "${origin}" is not an origin like https://app.example.com.`, { cause });
  }
  if (url.origin === "null" || url.pathname !== "/" || url.search || url.hash) {
    throw new GamifyError("INVALID_ARGUMENT", `cors.origins entry "${origin}" must be a bare origin (scheme, host and port; no path).`);
  }
  return url.origin.toLowerCase();
}
