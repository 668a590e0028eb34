/** Helpers for the router tests: an engine on a fixed clock, a handler, and a request shortcut. */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createGamify, levels, memoryStorage, type Gamify, type GamifyOptions, type Storage } from "@gamifykit/core";
import { pino, type Logger } from "pino";
import { createGamifyHandler, type GamifyHandler, type GamifyHandlerOptions } from "../src/index.js";

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

/** A request against a handler; `body` objects are sent as JSON unless `rawBody` is given. */
export async function call(
  handler: GamifyHandler,
  method: string,
  path: string,
  init: { body?: unknown; rawBody?: RequestInit["body"]; headers?: Record<string, string> } = {},
): Promise<Call> {
  const headers = new Headers(init.headers);
  let body: RequestInit["body"] = init.rawBody;
  if (init.body !== undefined && body === undefined) {
    body = JSON.stringify(init.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const request = new Request(`http://gamifykit.test${path}`, { method, headers, ...(body === undefined ? {} : { body, duplex: "half" }) } as RequestInit);
  const response = await handler(request);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, response };
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
  for (const server of loopbackServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
