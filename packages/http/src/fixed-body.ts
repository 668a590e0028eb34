/**
 * The text of responses the handler built from a string it already holds (JSON answers and
 * problems), kept beside the Response so the Node adapter can send headers and body in one write
 * instead of reading the body stream back chunk by chunk. Responses not listed here (streams,
 * compressed bodies, anything a host built) take the streaming path.
 */
const texts = new WeakMap<Response, string>();

/** A response whose body is `text`, UTF-8 encoded, with its Content-Length set. */
export function fixedTextResponse(text: string, status: number, headers: Headers): Response {
  headers.set("content-length", String(utf8Length(text)));
  // A string body is encoded only when the stream is read (a byte body is copied up front); the
  // callers always set Content-Type, so the string's default text/plain never applies.
  const response = headers.has("content-type") ? new Response(text, { status, headers }) : new Response(new TextEncoder().encode(text), { status, headers });
  texts.set(response, text);
  return response;
}

/** The UTF-8 byte length of a string as TextEncoder encodes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) length += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else length += 2;
  }
  return length;
}

/**
 * The full body text of a response built by {@link fixedTextResponse}, while its stream is untouched
 * and its Content-Length still describes that text; otherwise undefined.
 */
export function fixedTextOf(response: Response): string | undefined {
  const text = texts.get(response);
  if (text === undefined || response.bodyUsed || response.body === null) return undefined;
  // A host that rewrote the body's encoding (or dropped the length) gets the streaming path.
  if (response.headers.has("content-encoding") || response.headers.get("content-length") === null) return undefined;
  return text;
}
