/**
 * Helpers for the router tests: an engine on a fixed clock, a handler, and a request shortcut that
 * goes through either front end of the handler (see {@link forEachFrontEnd}).
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createGamify, levels, memoryStorage, type Gamify, type GamifyOptions, type Storage } from "@gamifykit/core";
import { pino, type Logger } from "pino";
import { afterEach, beforeEach, describe } from "vitest";
import { createGamifyHandler, setClientIp, toNodeHandler, type GamifyHandler, type GamifyHandlerOptions } from "../src/index.js";

/** 2026-11-25T12:00:00Z, a Wednesday. */
export const NOW = Date.parse("2026-11-25T12:00:00Z");

/** An engine on a fixed clock with levels on xp, a coins floor, and all/week boards for xp. */
export function testEngine(options: GamifyOptions = {}): Gamify {
  return createGamify({
    clock: () => NOW,
    levels: { xp: levels.quadratic({ base: 100 }) },
    metrics: { coins: { floor: 0 } },
    leaderboards: [{ metric: "xp", periods: ["all", "week"] }],
    ...options,
  });
}

/** A pino logger that keeps its lines in memory. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = pino({ level: "debug" }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A storage that delegates to memory but lets a test make chosen methods fail. */
export function faultyStorage(faults: Partial<Record<keyof Storage, () => never>>): Storage {
  const inner = memoryStorage();
  return new Proxy(inner, {
    get(target, key, receiver) {
      const fault = faults[key as keyof Storage];
      if (fault) return async () => fault();
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

export interface Call {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
  readonly response: Response;
}

/** The two ways a request reaches the handler's core. */
export type FrontEnd = "web" | "node";

/** Which front end {@link call} goes through; set per test by {@link forEachFrontEnd}. */
let active: FrontEnd = "web";

/**
 * Declares `body`'s tests once per front end, so one table of cases proves both answer alike:
 * "web" calls the fetch handler with a Request; "node" serves the same handler through
 * toNodeHandler (with trustProxy, so a test's client IP travels as X-Forwarded-For) on loopback
 * and sends a real HTTP request.
 */
export function forEachFrontEnd(body: (frontEnd: FrontEnd) => void): void {
  describe.each(["web", "node"] as const)("%s front end", (frontEnd) => {
    beforeEach(() => {
      active = frontEnd;
    });
    afterEach(async () => {
      active = "web";
      await closeLoopbackServers();
    });
    body(frontEnd);
  });
}

/** A request against a handler; `body` objects are sent as JSON unless `rawBody` is given. */
export async function call(
  handler: GamifyHandler,
  method: string,
  path: string,
  init: { body?: unknown; rawBody?: RequestInit["body"]; headers?: Record<string, string>; ip?: string } = {},
): Promise<Call> {
  const headers = new Headers(init.headers);
  let body: RequestInit["body"] = init.rawBody;
  if (init.body !== undefined && body === undefined) {
    body = JSON.stringify(init.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const response = await send(handler, method, path, headers, body, init.ip);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, response };
}

/** Sends a request through the active front end and returns what the client received. */
export async function send(handler: GamifyHandler, method: string, path: string, headers: Headers, body: RequestInit["body"], ip?: string): Promise<Response> {
  if (active === "node") return sendOverNode(handler, method, path, headers, body, ip);
  const request = new Request(`http://gamifykit.test${path}`, { method, headers, ...(body === undefined || body === null ? {} : { body, duplex: "half" }) } as RequestInit);
  if (ip !== undefined) setClientIp(request, ip);
  return handler(request);
}

const nodePorts = new WeakMap<GamifyHandler, Promise<number>>();
// Connection-level headers node:http adds; the web front end has no connection to describe.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "date", "transfer-encoding"]);

async function sendOverNode(handler: GamifyHandler, method: string, path: string, headers: Headers, body: RequestInit["body"], ip?: string): Promise<Response> {
  let port = nodePorts.get(handler);
  if (!port) {
    port = listenOnLoopback(toNodeHandler(handler, { trustProxy: true }));
    nodePorts.set(handler, port);
    // A port belongs to the test that opened it: closeLoopbackServers runs after each test.
    afterCurrentTest(() => nodePorts.delete(handler));
  }
  const outgoing: Record<string, string> = { host: "gamifykit.test" };
  headers.forEach((value, name) => (outgoing[name] = value));
  if (ip !== undefined) outgoing["x-forwarded-for"] = ip;
  const bytes = body === undefined || body === null ? undefined : new Uint8Array(await new Response(body).arrayBuffer());
  if (bytes !== undefined) outgoing["content-length"] = String(bytes.byteLength);
  const target = await port;
  return new Promise<Response>((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port: target, method, path, headers: outgoing, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () => {
        const received = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = (res.rawHeaders[i] as string).toLowerCase();
          if (!HOP_BY_HOP.has(name)) received.append(name, res.rawHeaders[i + 1] as string);
        }
        const status = res.statusCode ?? 0;
        const empty = method === "HEAD" || status === 204 || status === 304;
        resolve(new Response(empty ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? "", headers: received }));
      });
    });
    request.once("error", reject);
    request.end(bytes);
  });
}

const cleanups: (() => void)[] = [];
function afterCurrentTest(cleanup: () => void): void {
  cleanups.push(cleanup);
}

/** A handler with logs off unless given. */
export function testHandler(gk: Gamify, options: GamifyHandlerOptions = {}): GamifyHandler {
  return createGamifyHandler(gk, { logger: false, ...options });
}

const loopbackServers: http.Server[] = [];

/** Serves `listener` on an ephemeral loopback port; returns the port. Close with {@link closeLoopbackServers}. */
export async function listenOnLoopback(listener: http.RequestListener): Promise<number> {
  const server = http.createServer(listener);
  loopbackServers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Closes every server {@link listenOnLoopback} opened (call it in `afterEach`). */
export async function closeLoopbackServers(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) cleanup();
  for (const server of loopbackServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
