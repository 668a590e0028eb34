/**
 * The request and answer the handler's core works on. Two front ends build them: the web one from
 * a fetch `Request` (handler.ts) and the Node one straight from `IncomingMessage` (node.ts), so
 * every route and middleware has one implementation and an ordinary JSON request on Node never
 * pays for a web Request, its body stream, an AbortSignal or a Response.
 */
import { fixedTextResponse, utf8Length } from "./fixed-body.js";

/** Case-insensitive header lookup: what the middleware reads of a request's headers. A web `Headers` is one. */
export interface HeaderReader {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, name: string) => void): void;
}

/** The parts of a request the middleware looks at. A web `Request` is one. */
export interface RequestHead {
  readonly method: string;
  /** The absolute URL (front ends may build it on first use). */
  readonly url: string;
  readonly headers: HeaderReader;
}

/** A request as the core serves it. */
export interface Incoming extends RequestHead {
  /** The path as received (still percent-encoded), without the query. */
  readonly pathname: string;
  /** The query parameters; read-only. */
  readonly searchParams: URLSearchParams;
  /** True when the request carries a body (of any length, possibly zero). */
  hasBody(): boolean;
  /**
   * The whole body, failing with 413 as soon as it passes `limit` bytes (what is left of the
   * upload is not read) and with 400 when the upload breaks off.
   */
  readBody(limit: number): Promise<Uint8Array>;
  /** The client IP the front end knows of (the socket's, X-Forwarded-For under trustProxy, or setClientIp's). */
  defaultClientIp(): string | undefined;
  /** The request as a web Request, for the few consumers that need one (SSE, a host's clientIp callback). Made once. */
  toRequest(): Request;
}

/**
 * Case-insensitive header map a front end writes out as-is: a flat [name, value, name, value, …]
 * list with lowercased names, which node:http's writeHead takes directly. An answer carries a dozen
 * headers at most, so a scan beats a hash table built per request.
 */
export class AnswerHeaders implements HeaderReader {
  readonly list: string[] = [];

  constructor(init?: Readonly<Record<string, string>>) {
    if (init !== undefined) for (const name of Object.keys(init)) this.set(name, init[name] as string);
  }

  #indexOf(name: string): number {
    const key = name.toLowerCase();
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === key) return i;
    return -1;
  }

  get(name: string): string | null {
    const i = this.#indexOf(name);
    return i === -1 ? null : (this.list[i + 1] as string);
  }

  has(name: string): boolean {
    return this.#indexOf(name) !== -1;
  }

  set(name: string, value: string): void {
    const i = this.#indexOf(name);
    if (i === -1) this.list.push(name.toLowerCase(), value);
    else this.list[i + 1] = value;
  }

  /** Adds to a header, joining with ", " as `Headers.append` does. */
  append(name: string, value: string): void {
    const i = this.#indexOf(name);
    if (i === -1) this.list.push(name.toLowerCase(), value);
    else this.list[i + 1] = `${this.list[i + 1] as string}, ${value}`;
  }

  delete(name: string): void {
    const i = this.#indexOf(name);
    if (i !== -1) this.list.splice(i, 2);
  }

  forEach(callback: (value: string, name: string) => void): void {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) callback(list[i + 1] as string, list[i] as string);
  }
}

/** The body of an answer: text the core already holds (sent in one write), bytes, a stream, or none. */
export type AnswerBody = string | Uint8Array | ReadableStream<Uint8Array> | null;

/** An HTTP answer before a front end turns it into a Response or writes it to a ServerResponse. */
export interface Answer {
  status: number;
  statusText?: string | undefined;
  readonly headers: AnswerHeaders;
  body: AnswerBody;
}

/** A text answer with its UTF-8 Content-Length set (compression uses it to skip small bodies). */
export function textAnswer(text: string, status: number, headers: AnswerHeaders): Answer {
  headers.set("content-length", String(utf8Length(text)));
  return { status, headers, body: text };
}

/** A Response a route or the host built, as an answer (its body stays a stream). */
export function answerFromResponse(response: Response): Answer {
  const headers = new AnswerHeaders();
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.set(name, value);
  });
  // Cookies stay separate entries (joined with ", " they would be one broken cookie).
  for (const cookie of response.headers.getSetCookie()) headers.list.push("set-cookie", cookie);
  return { status: response.status, statusText: response.statusText || undefined, headers, body: response.body };
}

/** The web Response for an answer; text bodies are registered so the Node adapter can still send them in one write. */
export function answerToResponse(answer: Answer): Response {
  const headers = new Headers();
  answer.headers.forEach((value, name) => headers.append(name, value));
  if (typeof answer.body === "string") {
    // fixedTextResponse sets Content-Length from the text (the same value) and records the text.
    const response = fixedTextResponse(answer.body, answer.status, headers);
    return answer.statusText === undefined ? response : new Response(response.body, { status: answer.status, statusText: answer.statusText, headers });
  }
  return new Response(answer.body, { status: answer.status, ...(answer.statusText === undefined ? {} : { statusText: answer.statusText }), headers });
}

/** Header writes the middleware makes on an answer. A web `Headers` and {@link AnswerHeaders} are both one. */
export interface HeaderMap extends HeaderReader {
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
}

/** True for a stream body (as opposed to text, bytes or none). */
export function isStream(body: AnswerBody): body is ReadableStream<Uint8Array> {
  return body !== null && typeof body === "object" && !(body instanceof Uint8Array);
}

/** Serves one request through a handler's core. */
export type ServeIncoming = (request: Incoming) => Promise<Answer>;

// The handlers createGamifyHandler made, and their cores: the Node adapter serves those without a web Request.
const cores = new WeakMap<object, ServeIncoming>();

/** Records `handler`'s core for {@link coreOf}. */
export function registerCore(handler: object, core: ServeIncoming): void {
  cores.set(handler, core);
}

/** The core of a handler made by createGamifyHandler; undefined for any other fetch handler. */
export function coreOf(handler: object): ServeIncoming | undefined {
  return cores.get(handler);
}
