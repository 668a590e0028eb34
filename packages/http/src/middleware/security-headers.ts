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

const HTML_TYPE = /^text\/html/i;

/** Sets the security headers on a response's headers, in place (lowercase names: no per-request case folding). */
export type SecurityHeaders = (headers: HeaderMap) => void;

/** Builds the header setter once, so per-request work is a handful of `set` calls. */
export function securityHeaders(options: SecurityHeadersOptions | false | undefined): SecurityHeaders {
  if (options === false) return () => undefined;
  const jsonCsp = options?.contentSecurityPolicy ?? JSON_CSP;
  const htmlCsp = options?.htmlContentSecurityPolicy ?? HTML_CSP;
  const hsts = hstsValue(options?.hsts);
  return (headers) => {
    headers.set("x-content-type-options", "nosniff");
    headers.set("x-frame-options", "DENY");
    headers.set("referrer-policy", "no-referrer");
    headers.set("cross-origin-opener-policy", "same-origin");
    headers.set("cross-origin-resource-policy", "same-site");
    // A route that set its own policy knows best; otherwise HTML gets the docs policy and all else the JSON one.
    if (!headers.has("content-security-policy")) {
      const isHtml = HTML_TYPE.test(headers.get("content-type") ?? "");
      headers.set("content-security-policy", isHtml ? htmlCsp : jsonCsp);
    }
    if (hsts) headers.set("strict-transport-security", hsts);
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
