import { pino, type Logger } from "pino";
import type { HeaderReader, RequestHead } from "../exchange.js";
import type { Principal } from "./types.js";

/** Header values that are credentials or session state: never written to a log, at any level. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

/**
 * The logger requests log through: the host's (with redaction layered on in a child, since a
 * logger's own redact paths cannot be extended), pino at "info" by default, or a silent one.
 */
export function createBaseLogger(option: Logger | false | undefined): Logger {
  if (option === false) return pino({ level: "silent" });
  const redact = { paths: REDACTED_PATHS, censor: "[redacted]" };
  if (option) return option.child({}, { redact });
  return pino({ level: "info", name: "gamifykit-http", redact });
}

const REQUEST_ID = /^[\w.:@+=/-]{1,128}$/;

/**
 * The request id: a sane incoming X-Request-Id (1–128 visible, log-safe characters), so a proxy's
 * id follows the request through; otherwise a fresh UUID. Anything else is dropped, since it lands
 * in logs and response headers.
 */
export function requestIdOf(request: RequestHead): string {
  const incoming = request.headers.get("x-request-id");
  return incoming !== null && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** The principal as one log-safe string: "api-key:<id>", "jwt:<subject>" or "anonymous". Never a secret. */
export function principalId(principal: Principal): string {
  if (principal.kind === "api-key") return `api-key:${principal.id}`;
  if (principal.kind === "jwt") return `jwt:${principal.subject}`;
  return "anonymous";
}

/** Headers as a plain object for debug logs; redaction applies to it under `req.headers`. */
export function headersObject(headers: HeaderReader): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return out;
}
