/**
 * The Node adapter. For a handler made by createGamifyHandler it serves node:http's
 * IncomingMessage/ServerResponse straight through the handler's core (./exchange.ts): no web
 * Request, body stream, AbortSignal or Response for an ordinary JSON request, and the answer goes
 * out as one write. Any other fetch handler gets a web Request and its Response is streamed back.
 * Either way streams honour backpressure and are cancelled when the client goes away (so
 * server-sent event streams end). Works as a node:http request listener, as express middleware,
 * and inside fastify (see the README).
 */
// Type-only node imports: the package entry must load on edge runtimes, which lack node:http.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { concatChunks, declaredTooLarge, tooLarge, unreadableBody } from "./body.js";
import { setClientIp } from "./client-ip.js";
import { coreOf, isStream, type Answer, type HeaderReader, type Incoming, type ServeIncoming } from "./exchange.js";
import { fixedTextOf } from "./fixed-body.js";
import type { GamifyHandler } from "./handler.js";
import { problem, statusText } from "./problem.js";

/** Options of {@link toNodeHandler} and {@link attachWebSocket}. */
export interface NodeHandlerOptions {
  /**
   * Whether to believe X-Forwarded-For / X-Forwarded-Proto from a reverse proxy. `false` (default):
   * the client IP is the socket's address. `true`: the first (leftmost) X-Forwarded-For address.
   * A number n: n proxies you run sit in front, so the client is the n-th address from the right
   * (addresses a client put further left are ignored, so it cannot spoof its IP).
   */
  readonly trustProxy?: boolean | number;
  /**
   * Told about failures the handler could not answer itself (a fetch handler that throws, a
   * response stream that breaks). Default: `console.error`. The request gets a generic 500.
   */
  readonly onError?: (error: unknown) => void;
}

/** A node:http request listener that is also express middleware (it calls `next()` for paths it does not serve). */
export type NodeListener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

type FetchHandler = ((request: Request) => Promise<Response>) & Partial<Pick<GamifyHandler, "handles">>;

/**
 * Adapts a fetch handler to Node.
 *
 * @example
 * http.createServer(toNodeHandler(handler)).listen(3000);       // node:http
 * app.use(toNodeHandler(handler));                              // express: next() outside the prefix
 */
export function toNodeHandler(handler: FetchHandler, options: NodeHandlerOptions = {}): NodeListener {
  const core = coreOf(handler);
  return (req, res, next) => {
    const rawUrl = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    if (next && handler.handles && !handler.handles(pathnameOf(rawUrl))) {
      next();
      return;
    }
    (core ? serveFast(core, req, res, rawUrl, options) : serve(handler, req, res, rawUrl, options)).catch((error: unknown) => {
      // The handler answers its own errors; this is the adapter failing (e.g. an unusable method).
      if (!(error instanceof RequestBuildError)) (options.onError ?? reportError)(error);
      if (res.headersSent) {
        res.destroy(error instanceof Error ? error : undefined);
        return;
      }
      const status = error instanceof RequestBuildError ? 400 : 500;
      const body = problem(status, status === 400 ? "INVALID_ARGUMENT" : "INTERNAL", status === 400 ? (error as Error).message : "An unexpected error occurred.");
      res.writeHead(status, { "content-type": "application/problem+json", connection: "close" }).end(JSON.stringify(body));
    });
  };
}

class RequestBuildError extends Error {}

function reportError(error: unknown): void {
  console.error("@gamifykit/http: the Node adapter could not serve a request", error);
}

/** Serves a createGamifyHandler handler from node:http objects directly (see the module comment). */
async function serveFast(core: ServeIncoming, req: IncomingMessage, res: ServerResponse, rawUrl: string, options: NodeHandlerOptions): Promise<void> {
  let incoming: NodeIncoming;
  try {
    incoming = new NodeIncoming(req, res, rawUrl, options);
  } catch (error) {
    throw new RequestBuildError(`The request cannot be served: ${error instanceof Error ? error.message : String(error)}`);
  }
  const answer = await core(incoming);
  const leftUnread = incoming.bodyLeftUnread();
  if (leftUnread) res.once("finish", () => discardBody(req));
  const streaming = writeAnswer(answer, req, res, leftUnread, options.onError ?? reportError);
  if (streaming) await streaming;
}

/**
 * Writes an answer: text and bytes with the headers in one write (synchronously, so a JSON answer
 * costs no extra promise), streams chunk by chunk with backpressure (the promise returned).
 */
function writeAnswer(answer: Answer, req: IncomingMessage, res: ServerResponse, bodyLeftUnread: boolean, onError: (error: unknown) => void): Promise<void> | undefined {
  // Unread upload bytes would stall the next request on a kept-alive connection: close it after
  // answering instead of reading (possibly endless) data nobody wants.
  if (bodyLeftUnread) answer.headers.set("connection", "close");
  const headers = answer.headers.list;
  const body = answer.body;
  if (isStream(body)) {
    res.writeHead(answer.status, answer.statusText, headers);
    if (req.method === "HEAD") {
      res.end();
      return body.cancel().catch(() => undefined);
    }
    return pipeStream(body, answer.headers.get("content-type") ?? undefined, res, onError);
  }
  res.writeHead(answer.status, answer.statusText, headers);
  if (body === null || req.method === "HEAD") res.end();
  else if (typeof body === "string") res.end(body, "utf8");
  else res.end(body);
  return undefined;
}

const EMPTY_QUERY = new URLSearchParams();
// A path made only of these, with no dot segment, is what `new URL` would leave it as.
const PLAIN_PATH = /^\/[\w\-.~!$&'()*+,;=:@%/]*$/;
const DOT_SEGMENT = /\/(?:\.|%2e)/i;

/** A node:http request as the core's request: everything is read from `req` on first use. */
class NodeIncoming implements Incoming {
  readonly method: string;
  readonly pathname: string;
  readonly headers: HeaderReader;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #rawUrl: string;
  readonly #options: NodeHandlerOptions;
  readonly #query: string;
  #searchParams: URLSearchParams | undefined;
  #url: string | undefined;
  #request: Request | undefined;
  #bodyRead = false;

  constructor(req: IncomingMessage, res: ServerResponse, rawUrl: string, options: NodeHandlerOptions) {
    this.#req = req;
    this.#res = res;
    this.#rawUrl = rawUrl;
    this.#options = options;
    this.method = req.method ?? "GET";
    const end = rawUrl.search(/[?#]/);
    const path = end === -1 ? rawUrl : rawUrl.slice(0, end);
    const query = end === -1 || rawUrl[end] === "#" ? "" : rawUrl.slice(end + 1).split("#", 1)[0] ?? "";
    if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path)) {
      this.pathname = path;
      this.#query = query;
    } else {
      // Anything unusual (dot segments, spaces, non-ASCII, no leading slash) is normalised exactly as a web Request would be.
      const url = new URL(this.url);
      this.pathname = url.pathname;
      this.#query = url.search.slice(1);
    }
    this.headers = new NodeHeaders(req.headers);
  }

  get url(): string {
    return (this.#url ??= requestUrl(this.#req, this.#rawUrl, this.#options));
  }

  get searchParams(): URLSearchParams {
    return (this.#searchParams ??= this.#query === "" ? EMPTY_QUERY : new URLSearchParams(this.#query));
  }

  hasBody(): boolean {
    const req = this.#req;
    if (this.method === "GET" || this.method === "HEAD") return false;
    if (parsedBody(req) !== undefined) return true;
    if (req.readableEnded) return false;
    const length = req.headers["content-length"];
    return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length.trim() !== "0");
  }

  readBody(limit: number): Promise<Uint8Array> {
    this.#bodyRead = true;
    const req = this.#req;
    // A body parser (express.json(), express.raw()) that ran first has consumed the stream; use its result.
    const parsed = parsedBody(req);
    if (parsed !== undefined) {
      const bytes = parsed instanceof Uint8Array ? parsed : new TextEncoder().encode(typeof parsed === "string" ? parsed : JSON.stringify(parsed));
      return bytes.byteLength > limit ? Promise.reject(tooLarge(limit)) : Promise.resolve(bytes);
    }
    if (declaredTooLarge(req.headers["content-length"], limit)) return Promise.reject(tooLarge(limit));
    return readNodeBody(req, limit);
  }

  /** True when the request had a body that is still (partly) on the connection. */
  bodyLeftUnread(): boolean {
    if (this.#req.readableEnded) return false;
    return this.#bodyRead || this.hasBody();
  }

  defaultClientIp(): string | undefined {
    return clientAddress(this.#req, this.#options.trustProxy ?? false);
  }

  toRequest(): Request {
    if (this.#request) return this.#request;
    // The core reads the body itself; this Request carries the head and an abort signal for when the client leaves.
    const abort = new AbortController();
    const res = this.#res;
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const request = new Request(this.url, { method: this.method, headers: requestHeaders(this.#req), signal: abort.signal });
    const ip = this.defaultClientIp();
    if (ip !== undefined) setClientIp(request, ip);
    return (this.#request = request);
  }
}

/** node:http's (already lowercased) header object behind the HeaderReader interface. */
class NodeHeaders implements HeaderReader {
  readonly #headers: IncomingMessage["headers"];

  constructor(headers: IncomingMessage["headers"]) {
    this.#headers = headers;
  }

  get(name: string): string | null {
    const value = this.#headers[name.toLowerCase()];
    if (value === undefined) return null;
    // Only set-cookie arrives as a list; fetch's Headers joins repeated values the same way.
    return typeof value === "string" ? value : value.join(", ");
  }

  has(name: string): boolean {
    return this.#headers[name.toLowerCase()] !== undefined;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name of Object.keys(this.#headers)) {
      if (name.startsWith(":")) continue;
      const value = this.get(name);
      if (value !== null) callback(value, name);
    }
  }
}

/** What a body parser that ran before this adapter left on `req.body`, when it consumed the stream. */
function parsedBody(req: IncomingMessage): unknown {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  return parsed !== undefined && (req.readableEnded || !req.readable) ? parsed : undefined;
}

/** Reads the body from the socket, stopping (without consuming the rest) once it passes `limit`. */
function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onBroken);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > limit) {
        // Stop reading but keep the socket: the 413 still has to go out on it.
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(concatChunks(chunks, total));
    };
    const onBroken = () => {
      cleanup();
      reject(unreadableBody());
    };
    const onClose = () => {
      if (!req.readableEnded) onBroken();
    };
    // `on`, not `once`: cleanup() removes them all anyway, and once() wraps each listener anew.
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onBroken);
    req.on("close", onClose);
  });
}

/** After the response: throws away what is still arriving (so the client can read the answer), then cuts a client that keeps sending. */
function discardBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  const cut = setTimeout(() => req.socket.destroy(), DISCARD_GRACE_MS);
  cut.unref();
  req.socket.once("close", () => clearTimeout(cut));
  req.resume();
}

async function serve(handler: FetchHandler, req: IncomingMessage, res: ServerResponse, rawUrl: string, options: NodeHandlerOptions): Promise<void> {
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const body = requestBody(req);
  let request: Request;
  try {
    request = new Request(requestUrl(req, rawUrl, options), {
      method: req.method ?? "GET",
      signal: abort.signal,
      ...(body.stream ? { body: body.stream, duplex: "half" } : {}),
    } as RequestInit);
    // Straight into the Request's own (mutable) headers: a Headers passed in would be copied again.
    copyHeaders(req, request.headers);
  } catch (error) {
    throw new RequestBuildError(`The request cannot be served: ${error instanceof Error ? error.message : String(error)}`);
  }
  const ip = clientAddress(req, options.trustProxy ?? false);
  if (ip !== undefined) setClientIp(request, ip);
  const response = await handler(request);
  // A body the handler did not read to the end (a 413, a 404 for a POST) is still on the connection.
  const leftUnread = body.stream !== undefined && !req.readableEnded;
  if (leftUnread) res.once("finish", body.discard);
  await sendResponse(response, req, res, leftUnread, options.onError ?? reportError);
}

/** How long a connection may keep sending an unwanted body after its response before it is cut. */
const DISCARD_GRACE_MS = 5000;

interface NodeBody {
  readonly stream: ReadableStream<Uint8Array> | undefined;
  /** After the response: throws away what is still arriving (so the client can read the answer), then cuts a client that keeps sending. */
  readonly discard: () => void;
}

const NO_BODY: NodeBody = { stream: undefined, discard: () => undefined };

/** The request body as a web stream that pauses the socket when the reader falls behind. */
function requestBody(req: IncomingMessage): NodeBody {
  let ignored = false;
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return NO_BODY;
  // A body parser (express.json(), express.raw()) that ran first has consumed the stream; use its result.
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (req.readableEnded || (parsed !== undefined && !req.readable)) {
    if (parsed === undefined) return NO_BODY;
    const bytes = parsed instanceof Uint8Array ? parsed : new TextEncoder().encode(typeof parsed === "string" ? parsed : JSON.stringify(parsed));
    return { stream: new Blob([bytes]).stream(), discard: () => undefined };
  }
  const hasBody = req.headers["transfer-encoding"] !== undefined || (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");
  if (!hasBody) return NO_BODY;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (ignored) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => {
        if (!ignored) controller.close();
      });
      req.once("error", (error) => {
        if (!ignored) controller.error(error);
      });
      req.pause();
    },
    pull() {
      req.resume();
    },
    cancel() {
      // Stop reading but keep the socket: the response (e.g. 413) still has to go out on it.
      ignored = true;
      req.pause();
    },
  });
  const discard = () => {
    ignored = true;
    if (req.readableEnded) return;
    const cut = setTimeout(() => req.socket.destroy(), DISCARD_GRACE_MS);
    cut.unref();
    req.socket.once("close", () => clearTimeout(cut));
    req.resume();
  };
  return { stream, discard };
}

function requestHeaders(req: IncomingMessage): Headers {
  return copyHeaders(req, new Headers());
}

function copyHeaders(req: IncomingMessage, headers: Headers): Headers {
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    try {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.append(name, value);
    } catch {
      // A header value the fetch API refuses; the handler never needs it.
    }
  }
  return headers;
}

function requestUrl(req: IncomingMessage, rawUrl: string, options: NodeHandlerOptions): string {
  const forwardedProto = options.trustProxy ? firstHeader(req.headers["x-forwarded-proto"])?.split(",")[0]?.trim() : undefined;
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const protocol = forwardedProto === "https" || forwardedProto === "http" ? forwardedProto : encrypted ? "https" : "http";
  const host = req.headers.host && /^[\w.:[\]-]+$/.test(req.headers.host) ? req.headers.host : "localhost";
  const path = rawUrl.startsWith("/") ? rawUrl : `/${rawUrl}`;
  try {
    return new URL(`${protocol}://${host}${path}`).href;
  } catch {
    return new URL(path, `${protocol}://localhost`).href;
  }
}

/** The client IP per `trustProxy` (see {@link NodeHandlerOptions}). */
export function clientAddress(req: IncomingMessage, trustProxy: boolean | number): string | undefined {
  const socketIp = normalizeIp(req.socket.remoteAddress);
  if (trustProxy === false || trustProxy === 0) return socketIp;
  const header = req.headers["x-forwarded-for"];
  const list = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (list.length === 0) return socketIp;
  const picked = trustProxy === true ? list[0] : list[Math.max(0, list.length - trustProxy)];
  return normalizeIp(picked) ?? socketIp;
}

function normalizeIp(ip: string | undefined): string | undefined {
  if (ip === undefined || ip === "") return undefined;
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function pathnameOf(rawUrl: string): string {
  const end = rawUrl.search(/[?#]/);
  return end === -1 ? rawUrl : rawUrl.slice(0, end);
}

/** Writes a web Response to a ServerResponse, honouring backpressure and stopping when the client leaves. */
async function sendResponse(response: Response, req: IncomingMessage, res: ServerResponse, bodyLeftUnread: boolean, onError: (error: unknown) => void): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  // Unread upload bytes would stall the next request on a kept-alive connection: close it after
  // answering instead of reading (possibly endless) data nobody wants.
  if (bodyLeftUnread) headers["connection"] = "close";
  // A body the handler already holds as text (JSON, problems) goes out with the headers in one write.
  const text = fixedTextOf(response);
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (response.body === null || req.method === "HEAD") {
    res.end();
    return;
  }
  if (text !== undefined) {
    res.end(text, "utf8");
    return;
  }
  await pipeStream(response.body, response.headers.get("content-type") ?? undefined, res, onError);
}

/** Streams a body to the client, honouring backpressure and cancelling the stream when the client leaves. */
async function pipeStream(body: ReadableStream<Uint8Array>, contentType: string | undefined, res: ServerResponse, onError: (error: unknown) => void): Promise<void> {
  // An event stream's headers go out now: its first event may be long in coming.
  if (contentType?.startsWith("text/event-stream")) res.flushHeaders();
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => undefined);
  res.once("close", stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await drainOrClose(res);
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    onError(error);
    res.destroy(error instanceof Error ? error : undefined);
  } finally {
    res.off("close", stop);
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** The subset of a node:http (or https) server the upgrade hook needs. */
export interface UpgradeEmitter {
  on(event: "upgrade", listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: "upgrade", listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  listenerCount(event: "upgrade"): number;
}

/**
 * Serves WebSocket upgrades for `<prefix>/v1/ws` on a Node server: authenticates, authorises,
 * rate-limits and validates the request like any route (credentials in the Authorization header
 * or `?access_token=`), then hands the socket to the handler's realtime hub. Other upgrade
 * paths are left to other listeners (or refused with 404 when this is the only one).
 * Returns a function that removes the hook.
 *
 * @example
 * const server = http.createServer(toNodeHandler(handler));
 * attachWebSocket(server, handler);
 */
export function attachWebSocket(server: UpgradeEmitter, handler: GamifyHandler, options: NodeHandlerOptions = {}): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const rawUrl = req.url ?? "/";
    if (pathnameOf(rawUrl) !== handler.webSocketPath) {
      if (server.listenerCount("upgrade") === 1) writeRaw(socket, 404, { "content-type": "text/plain" }, Buffer.from("Not Found"));
      return;
    }
    socket.on("error", () => socket.destroy());
    let request: Request;
    try {
      request = new Request(requestUrl(req, rawUrl, options), { method: "GET", headers: requestHeaders(req) });
    } catch {
      writeRaw(socket, 400, { "content-type": "text/plain" }, Buffer.from("Bad Request"));
      return;
    }
    const ip = clientAddress(req, options.trustProxy ?? false);
    if (ip !== undefined) setClientIp(request, ip);
    handler
      .authorizeUpgrade(request)
      .then(async (decision) => {
        if (decision.accepted) {
          decision.realtime.handleUpgrade(req, socket, head, decision.filter, decision.principal);
          return;
        }
        const headers: Record<string, string> = {};
        decision.response.headers.forEach((value, name) => (headers[name] = value));
        writeRaw(socket, decision.response.status, headers, Buffer.from(await decision.response.arrayBuffer()));
      })
      .catch(() => socket.destroy());
  };
  server.on("upgrade", onUpgrade);
  return () => server.off("upgrade", onUpgrade);
}

/** Answers on a raw socket (an upgrade that is refused) and closes it. */
function writeRaw(socket: Duplex, status: number, headers: Record<string, string>, body: Buffer): void {
  if (socket.destroyed) return;
  const lines = [`HTTP/1.1 ${status} ${statusText(status)}`];
  for (const [name, value] of Object.entries(headers)) {
    if (name !== "content-length" && name !== "connection" && name !== "transfer-encoding") lines.push(`${name}: ${value}`);
  }
  lines.push(`content-length: ${body.byteLength}`, "connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), body]));
}
