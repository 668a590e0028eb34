/** Helpers for the realtime tests: an SSE parser, loopback servers for a hub, a WebSocket collector. */
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { GamifyEvent } from "@gamifykit/core";
import WebSocket from "ws";
import type { Gamify } from "@gamifykit/core";
import { attachWebSocket, createGamifyHandler, hashApiKey, toNodeHandler } from "../src/index.js";
import type { RealtimeFilter, RealtimeHub } from "../src/realtime/index.js";

/** One parsed server-sent message. */
export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
}

/**
 * Reads an event stream on demand (never in the background, so a test can stop reading). Keeps
 * at most one read pending, so a timed-out wait loses nothing.
 */
export class SseReader {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  done = false;
  error: unknown;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";
  #pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | undefined;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** Engine events received so far (control messages such as `resync` left out). */
  get events(): GamifyEvent[] {
    return this.messages.filter((m) => m.id !== undefined).map((m) => JSON.parse(m.data ?? "null") as GamifyEvent);
  }

  /** Reads until `check()` holds; throws after `ms`. */
  async until(check: () => boolean, ms = 5000, what = "the expected messages"): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (this.done) throw new Error(`the stream ended before ${what} (${this.messages.length} messages)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (${this.messages.length} messages)`);
      this.#pending ??= this.#reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        this.#pending.then(
          (r) => r,
          (error: unknown) => {
            this.error = error;
            return { done: true, value: undefined } as const;
          },
        ),
        new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (result === "timeout") continue;
      this.#pending = undefined;
      if (result.done) {
        this.done = true;
        continue;
      }
      this.#feed(this.#decoder.decode(result.value, { stream: true }));
    }
  }

  /** Reads until `n` engine events arrived. */
  waitEvents(n: number, ms?: number): Promise<void> {
    return this.until(() => this.events.length >= n, ms, `${n} events`);
  }

  /** Reads until the stream ends (or errors). */
  end(ms?: number): Promise<void> {
    return this.until(() => this.done, ms, "the end of the stream");
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }

  #feed(text: string): void {
    this.#buffer += text;
    let cut: number;
    while ((cut = this.#buffer.indexOf("\n\n")) >= 0) {
      const block = this.#buffer.slice(0, cut);
      this.#buffer = this.#buffer.slice(cut + 2);
      const message: Record<string, string> = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
        else {
          const colon = line.indexOf(":");
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).replace(/^ /, "");
          if (field === "retry") this.retry = Number(value);
          else if (field === "id" || field === "event" || field === "data") message[field] = value;
        }
      }
      if (Object.keys(message).length > 0) this.messages.push(message);
    }
  }
}

/** The filter a request asks for: `?userId=` and `?leaderboard=`. */
export function filterOf(url: URL): RealtimeFilter {
  const userId = url.searchParams.get("userId");
  const leaderboard = url.searchParams.get("leaderboard");
  return { ...(userId === null ? {} : { userId }), ...(leaderboard === null ? {} : { leaderboard }) };
}

/** A loopback node:http server for a request handler, plus the upgrade hook; closed by `close()`. */
export interface LoopbackServer {
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

export async function listen(server: http.Server): Promise<LoopbackServer> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Serves a hub directly: GET /v1/events → handleSse, upgrade /v1/ws → handleUpgrade. */
export function serveHub(hub: RealtimeHub): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    let response: Response;
    try {
      response = hub.handleSse(new Request(url, { headers, signal: abort.signal }), filterOf(url));
    } catch (error) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ code: (error as { code?: string }).code }));
      return;
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.flushHeaders();
    if (response.body) pipeline(Readable.fromWeb(response.body as NodeReadableStream), res).catch(() => undefined);
    else res.end();
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    hub.handleUpgrade(req, socket, head, filterOf(url));
  });
  return listen(server);
}

/** Raw API keys the handler-served instances accept. */
export const ADMIN_KEY = "realtime-test-admin-key";
export const READER_KEY = "realtime-test-reader-key";

/**
 * Serves an engine and its hub the way an application does: `createGamifyHandler` with API-key
 * auth, `toNodeHandler` on node:http, and `attachWebSocket` for /v1/ws.
 */
export async function serveHandler(gk: Gamify, hub: RealtimeHub): Promise<LoopbackServer> {
  const handler = createGamifyHandler(gk, {
    realtime: hub,
    logger: false,
    auth: {
      apiKeys: [
        { id: "admin", hash: hashApiKey(ADMIN_KEY), role: "admin" },
        { id: "reader", hash: hashApiKey(READER_KEY), role: "reader" },
      ],
    },
  });
  const server = http.createServer(toNodeHandler(handler));
  const detach = attachWebSocket(server, handler);
  const served = await listen(server);
  return {
    ...served,
    close: async () => {
      detach();
      await served.close();
      await handler.close();
    },
  };
}

/** Opens an SSE stream with fetch; `close()` aborts it. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader & { response: Response; close(): void }> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  if (!response.ok || !response.body) throw new Error(`SSE request failed with ${response.status}: ${await response.text()}`);
  const reader = new SseReader(response.body);
  return Object.assign(reader, { response, close: () => abort.abort() });
}

/** A WebSocket client that collects JSON messages. */
export async function openWs(url: string, headers: Record<string, string> = {}): Promise<{
  socket: WebSocket;
  events: GamifyEvent[];
  until(n: number, ms?: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const socket = new WebSocket(url, { headers });
  const events: GamifyEvent[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.on("message", (data) => events.push(JSON.parse(String(data)) as GamifyEvent));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
  });
  return {
    socket,
    events,
    closed,
    until: (n, ms = 5000) => waitFor(() => events.length >= n, ms, () => `${n} WebSocket messages (got ${events.length})`),
  };
}

/** A raw TCP client that completes a WebSocket handshake and then never reads or answers. */
export async function openDeadWs(url: string): Promise<net.Socket> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await once(socket, "connect");
  socket.write(
    `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const [first] = (await once(socket, "data")) as [Buffer];
  if (!first.toString("latin1").startsWith("HTTP/1.1 101")) throw new Error(`handshake failed: ${first.toString("latin1").split("\r\n")[0]}`);
  socket.pause();
  return socket;
}

export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what: () => string = () => "a condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
