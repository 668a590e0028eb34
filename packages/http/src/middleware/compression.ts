import { GamifyError } from "@gamifykit/core";
import type { AnswerBody, HeaderMap, RequestHead } from "../exchange.js";

/** The codings CompressionStream produces that HTTP also names ("deflate" is zlib-wrapped in both). */
export type Coding = "gzip" | "deflate";

/**
 * Compresses a response body for a request. `headers` are the outgoing (mutable) headers; they
 * gain Content-Encoding and Vary as needed. Returns the body to send (a stream when compressed).
 */
export type Compress = (request: RequestHead, status: number, headers: HeaderMap, body: AnswerBody) => AnswerBody;

/** Below this many bytes compression costs more than it saves. */
export const DEFAULT_THRESHOLD_BYTES = 1024;

const NO_TRANSFORM = /\bno-transform\b/i;
const COMPRESSIBLE = /^(text\/(?!event-stream)|application\/(json|problem\+json|javascript|xml|[\w.+-]+\+json|[\w.+-]+\+xml)|image\/svg\+xml)/i;

/**
 * Builds the compressor. It streams through the web-standard CompressionStream, so it works on any
 * runtime. It skips event streams (compression would buffer events), bodies the route marked
 * `Cache-Control: no-transform`, already-encoded bodies, and bodies whose Content-Length is below
 * the threshold. A body without Content-Length has unknown size and is compressed when its type is.
 */
export function createCompression(option: boolean | { readonly thresholdBytes?: number } | undefined): Compress {
  if (option === false) return (_request, _status, _headers, body) => body;
  const threshold = (typeof option === "object" ? option.thresholdBytes : undefined) ?? DEFAULT_THRESHOLD_BYTES;
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new GamifyError("INVALID_ARGUMENT", "compression.thresholdBytes must be a non-negative integer.");

  return (request, status, headers, body) => {
    if (!worthCompressing(request, status, headers, body, threshold)) return body;
    headers.append("Vary", "Accept-Encoding");
    const coding = negotiate(request.headers.get("accept-encoding"));
    if (!coding || body === null) return body;
    headers.set("Content-Encoding", coding);
    headers.delete("Content-Length");
    // The bytes differ now, so a strong validator would lie; a weak one still identifies the representation.
    const etag = headers.get("ETag");
    if (etag && !etag.startsWith("W/")) headers.set("ETag", `W/${etag}`);
    const stream = typeof body === "string" || body instanceof Uint8Array ? new Blob([body]).stream() : body;
    return stream.pipeThrough(new CompressionStream(coding));
  };
}

function worthCompressing(request: RequestHead, status: number, headers: HeaderMap, body: AnswerBody, threshold: number): boolean {
  if (request.method === "HEAD" || body === null) return false;
  if (status < 200 || status === 204 || status === 206 || status === 304) return false;
  if (headers.has("content-encoding")) return false;
  if (NO_TRANSFORM.test(headers.get("cache-control") ?? "")) return false;
  if (!COMPRESSIBLE.test(headers.get("content-type") ?? "")) return false;
  const length = headers.get("content-length");
  return length === null || Number(length) >= threshold;
}

/**
 * Picks gzip or deflate from an Accept-Encoding header by q-value (RFC 9110 §12.5.3): the highest
 * non-zero weight wins, gzip on ties; `*` covers codings not named; nothing acceptable means identity.
 */
export function negotiate(acceptEncoding: string | null): Coding | undefined {
  if (!acceptEncoding) return undefined;
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key === "q" && value !== undefined) q = Number(value);
    }
    weights.set(name.trim(), Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0);
  }
  const wildcard = weights.get("*") ?? 0;
  const gzip = weights.get("gzip") ?? weights.get("x-gzip") ?? wildcard;
  const deflate = weights.get("deflate") ?? wildcard;
  if (gzip <= 0 && deflate <= 0) return undefined;
  return gzip >= deflate ? "gzip" : "deflate";
}
