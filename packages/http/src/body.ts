/**
 * Reads a JSON request body: checks the media type, enforces the size limit while the stream
 * arrives (a Content-Length header can lie or be absent), and parses strictly as UTF-8 JSON.
 */
import type { Incoming } from "./exchange.js";
import { RequestError } from "./problem.js";

/** Default body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** True for `application/json` and `application/<anything>+json`, with no charset or `charset=utf-8`. */
export function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null) return false;
  if (contentType === "application/json") return true; // nearly every request: no parsing needed
  const [essence = "", ...params] = contentType.split(";").map((part) => part.trim().toLowerCase());
  if (essence !== "application/json" && !/^application\/[\w.+-]+\+json$/.test(essence)) return false;
  for (const param of params) {
    const [key, value = ""] = param.split("=").map((p) => p.trim());
    if (key === "charset" && value.replace(/"/g, "") !== "utf-8") return false;
  }
  return true;
}

/** True when a web request carries a body (of any length, possibly zero). */
export function webRequestHasBody(request: Request): boolean {
  if (request.body === null) return false;
  const length = request.headers.get("content-length");
  return !(length !== null && length.trim() === "0");
}

// One decoder for the process: decode() without `stream` starts afresh on every call.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The parsed JSON body, or `undefined` when the body is optional and none was sent.
 * @throws RequestError 415 (not JSON), 413 (over `limit` bytes), 400 (empty when required, not UTF-8, malformed JSON).
 */
export async function readJsonBody(request: Incoming, options: { limit: number; required: boolean }): Promise<unknown> {
  const present = request.hasBody();
  if (!present && !options.required) return undefined;
  if (!isJsonMediaType(request.headers.get("content-type"))) {
    throw new RequestError(415, "INVALID_ARGUMENT", "Send the body as JSON with the header Content-Type: application/json (UTF-8).");
  }
  const bytes = present ? await request.readBody(options.limit) : new Uint8Array(0);
  if (bytes.byteLength === 0) {
    if (!options.required) return undefined;
    throw new RequestError(400, "INVALID_ARGUMENT", "This route needs a JSON body; see /openapi.json for its schema.");
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new RequestError(400, "INVALID_ARGUMENT", "The body is not valid UTF-8; send JSON encoded as UTF-8.");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof SyntaxError ? `: ${error.message}` : "";
    throw new RequestError(400, "INVALID_ARGUMENT", `The body is not valid JSON${reason}.`);
  }
}

/** True when a declared Content-Length already says the body is over `limit`. */
export function declaredTooLarge(contentLength: string | null | undefined, limit: number): boolean {
  if (contentLength === null || contentLength === undefined) return false;
  const declared = contentLength.trim();
  return /^\d+$/.test(declared) && Number(declared) > limit;
}

/** The 400 for an upload that broke off (client disconnect, reset): nothing to parse, and nothing for the error log. */
export function unreadableBody(): RequestError {
  return new RequestError(400, "INVALID_ARGUMENT", "The request body could not be read to the end; send it again.");
}

/** Joins body chunks into one array (no copy for a single chunk). */
export function concatChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export function tooLarge(limit: number): RequestError {
  return new RequestError(413, "PAYLOAD_TOO_LARGE", `The body is larger than the limit of ${limit} bytes; send less (or raise the bodyLimit option).`);
}

/** Reads a web request's whole body, failing as soon as it passes `limit` bytes (and cancelling the rest of the upload). */
export async function readWebBody(request: Request, limit: number): Promise<Uint8Array> {
  if (declaredTooLarge(request.headers.get("content-length"), limit)) {
    await request.body?.cancel().catch(() => undefined);
    throw tooLarge(limit);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await reader.read();
    } catch {
      throw unreadableBody();
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return concatChunks(chunks, total);
}
