import { GamifyError } from "@gamifykit/core";
import type { HeaderMap } from "../exchange.js";
import type { SecurityHeadersOptions } from "./types.js";

/** JSON needs nothing from the browser: no scripts, no frames, no embedding. */
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The /docs page: its renderer (Scalar) comes from jsDelivr, injects styles, fetches the spec from
 * this origin, loads fonts from fonts.scalar.com, and compiles schema examples with `new Function`
 * (hence 'unsafe-eval', acceptable on a page that shows only this API's own document); a Redoc page
 * would run a worker from a blob. Only HTML responses get this policy.
 */
export const HTML_CSP = [
  "default-src 'none'",
  "script-src 'self' https://cdn.jsdelivr.net 'unsafe-eval'",
  "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.scalar.com https://fonts.googleapis.com",
  "font-src 'self' data: https://cdn.jsdelivr.net https://fonts.scalar.com https://fonts.gstatic.com",
  "img-src 'self' data: https:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** Sets the security headers on a response's headers, in place. */
export type SecurityHeaders = (headers: HeaderMap) => void;

/** Builds the header setter once, so per-request work is a handful of `set` calls. */
export function securityHeaders(options: SecurityHeadersOptions | false | undefined): SecurityHeaders {
  if (options === false) return () => undefined;
  const jsonCsp = options?.contentSecurityPolicy ?? JSON_CSP;
  const htmlCsp = options?.htmlContentSecurityPolicy ?? HTML_CSP;
  const hsts = hstsValue(options?.hsts);
  return (headers) => {
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("X-Frame-Options", "DENY");
    headers.set("Referrer-Policy", "no-referrer");
    headers.set("Cross-Origin-Opener-Policy", "same-origin");
    headers.set("Cross-Origin-Resource-Policy", "same-site");
    // A route that set its own policy knows best; otherwise HTML gets the docs policy and all else the JSON one.
    if (!headers.has("Content-Security-Policy")) {
      const isHtml = headers.get("Content-Type")?.toLowerCase().startsWith("text/html") ?? false;
      headers.set("Content-Security-Policy", isHtml ? htmlCsp : jsonCsp);
    }
    if (hsts) headers.set("Strict-Transport-Security", hsts);
  };
}

function hstsValue(option: SecurityHeadersOptions["hsts"]): string | undefined {
  if (!option) return undefined;
  const settings = option === true ? {} : option;
  const maxAge = settings.maxAgeSeconds ?? 15_552_000;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
    throw new GamifyError("INVALID_ARGUMENT", "securityHeaders.hsts.maxAgeSeconds must be a non-negative integer.", { details: { maxAge } });
  }
  if (settings.preload && (!settings.includeSubDomains || maxAge < 31_536_000)) {
    throw new GamifyError("INVALID_ARGUMENT", "HSTS preload needs includeSubDomains and maxAgeSeconds of at least 31536000 (one year).");
  }
  return [`max-age=${maxAge}`, settings.includeSubDomains ? "includeSubDomains" : "", settings.preload ? "preload" : ""].filter(Boolean).join("; ");
}
