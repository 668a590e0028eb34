/**
 * The handler mounted for real: node:http, express and fastify on ephemeral loopback ports,
 * spoken to over TCP with fetch, raw sockets and a WebSocket client.
 */
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import type { Gamify } from "@gamifykit/core";
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { attachWebSocket, createRealtime, hashApiKey, toNodeHandler, type GamifyHandler, type RealtimeHub } from "../src/index.js";
import { testEngine, testHandler } from "./handler-support.js";

let gk: Gamify;
let realtime: RealtimeHub;
let handler: GamifyHandler;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  gk = testEngine();
  realtime = createRealtime(gk, { heartbeatMs: 60_000 });
  handler = testHandler(gk, { prefix: "/api", realtime, bodyLimit: 4096 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await realtime.close();
  await handler.close();
  await gk.close();
});

/** Starts a node:http server on an ephemeral loopback port; closed after the test. */
async function listen(server: http.Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startFastify(): Promise<{ app: FastifyInstance; base: string }> {
  const listener = toNodeHandler(handler);
  // forceCloseConnections: fetch's pool may hold a connection that never sent a request, which close() would wait for.
  const app = Fastify({ forceCloseConnections: true });
  // The pattern the README documents: an encapsulated plugin without body parsers, hijacking the reply.
  await app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser("*", (_request, _payload, done) => done(null));
    api.all("/api/*", (request, reply) => {
      reply.hijack();
      listener(request.raw, reply.raw);
    });
  });
  app.get("/", async () => "fastify's own route");
  app.post("/echo", async (request) => request.body);
  await app.listen({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => app.close());
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

async function startExpress(): Promise<{ server: http.Server; base: string }> {
  const app = express();
  app.use(toNodeHandler(handler));
  app.use(express.json());
  app.get("/", (_req, res) => {
    res.type("text").send("express's own route");
  });
  app.post("/echo", (req, res) => {
    res.json(req.body);
  });
  const server = http.createServer(app);
  return { server, base: await listen(server) };
}

/** The same behaviour through every mount. */
const mounts: [string, () => Promise<string>][] = [
  ["node:http", () => listen(http.createServer(toNodeHandler(handler)))],
  ["express", async () => (await startExpress()).base],
  ["fastify", async () => (await startFastify()).base],
];

describe.each(mounts)("mounted in %s under /api", (_name, start) => {
  test("serves reads and JSON writes with streamed bodies", async () => {
    const base = await start();
    expect(await (await fetch(`${base}/api/healthz`)).json()).toEqual({ status: "ok" });
    const award = await fetch(`${base}/api/v1/users/alice/points`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-1" },
      body: JSON.stringify({ amount: 150, metric: "xp" }),
    });
    expect(award.status).toBe(200);
    expect(await award.json()).toMatchObject({ total: 150, level: 2, replayed: false });
    const user = await fetch(`${base}/api/v1/users/alice`);
    expect((await user.json()) as unknown).toMatchObject({ points: { xp: 150 } });
    const missing = await fetch(`${base}/api/v1/users/ghost`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
  });

  test("answers 413 to a chunked upload past the limit and closes the connection", async () => {
    const base = await start();
    const { port } = new URL(base);
    const socket = net.connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.write("POST /api/v1/users/alice/points HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    const chunk = "x".repeat(1024);
    // Keep sending until the server answers; it must answer without reading everything.
    for (let i = 0; i < 64 && !received.includes("\r\n\r\n"); i++) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise<void>((resolve) => {
      if (socket.destroyed || socket.readableEnded) resolve();
      socket.once("close", () => resolve());
      setTimeout(resolve, 2000);
    });
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received.toLowerCase()).toContain("connection: close");
    expect(received).toContain('"code":"PAYLOAD_TOO_LARGE"');
    socket.destroy();
    expect(await gk.getUser("alice")).toBeNull();
  });

  test("streams server-sent events, and ends the stream when the client disconnects", async () => {
    const base = await start();
    const abort = new AbortController();
    const response = await fetch(`${base}/api/v1/events?userId=alice`, { signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("content-encoding")).toBeNull();
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await expect.poll(() => realtime.connections.sse).toBe(1);
    await gk.addPoints("alice", 9);
    let text = "";
    while (!text.includes('"delta":9')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"type":"points_added"');
    abort.abort();
    await expect.poll(() => realtime.connections.sse, { timeout: 5000 }).toBe(0);
  });
});

describe("express", () => {
  test("calls next() for paths outside the prefix, so the app's own routes and body parsers still work", async () => {
    const { base } = await startExpress();
    expect(await (await fetch(`${base}/`)).text()).toBe("express's own route");
    const echo = await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    expect(await echo.json()).toEqual({ a: 1 });
    const unknown = await fetch(`${base}/api/nothing`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toBe("application/problem+json");
  });

  test("works under app.use(prefix, …) too (it routes on originalUrl), and without a prefix passes on every path that is not its route", async () => {
    const app = express();
    app.use("/api", toNodeHandler(handler));
    const root = testHandler(gk, { realtime });
    cleanups.push(() => root.close());
    app.use(toNodeHandler(root));
    app.get("/about", (_req, res) => {
      res.type("text").send("about");
    });
    const base = await listen(http.createServer(app));
    expect(await (await fetch(`${base}/api/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${base}/about`)).text()).toBe("about");
    expect((await fetch(`${base}/v1/users/ghost`)).headers.get("content-type")).toBe("application/problem+json");
  });

  test("mounted after express.json(), it uses the parsed body", async () => {
    const app = express();
    app.use(express.json());
    app.use(toNodeHandler(handler));
    const base = await listen(http.createServer(app));
    const r = await fetch(`${base}/api/v1/users/bob/points`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"amount":4}' });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ userId: "bob", total: 4 });
  });
});

describe("fastify", () => {
  test("leaves fastify's own routes and body parsing alone", async () => {
    const { base } = await startFastify();
    expect(await (await fetch(`${base}/`)).text()).toBe("fastify's own route");
    const echo = await fetch(`${base}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":2}' });
    expect(await echo.json()).toEqual({ a: 2 });
  });
});

describe("client IP", () => {
  test("comes from the socket, or from X-Forwarded-For under trustProxy (seen through the anonymous rate limit)", async () => {
    const limited = testHandler(gk, { rateLimit: { tiers: { anonymous: { limit: 1, windowMs: 60_000 } } } });
    cleanups.push(() => limited.close());
    const direct = await listen(http.createServer(toNodeHandler(limited)));
    const get = (base: string, ip: string) => fetch(`${base}/v1/leaderboards/xp`, { headers: { "x-forwarded-for": ip } });
    expect((await get(direct, "203.0.113.1")).status).toBe(200);
    // Without trustProxy the header is ignored: both requests are 127.0.0.1.
    expect((await get(direct, "203.0.113.2")).status).toBe(429);

    const proxied = await listen(http.createServer(toNodeHandler(limited, { trustProxy: 1 })));
    expect((await get(proxied, "198.51.100.1")).status).toBe(200);
    expect((await get(proxied, "198.51.100.2")).status).toBe(200);
    // trustProxy: 1 takes the address the proxy appended (rightmost), so a spoofed left entry changes nothing.
    expect((await get(proxied, "10.9.9.9, 198.51.100.2")).status).toBe(429);
  });
});

describe("WebSocket upgrades with attachWebSocket", () => {
  async function wsServer(h: GamifyHandler): Promise<string> {
    const server = http.createServer(toNodeHandler(h));
    attachWebSocket(server, h);
    return (await listen(server)).replace("http:", "ws:");
  }

  /** Opens a socket; resolves with it once open, or with the HTTP status it was refused with. */
  function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket | number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      ws.once("error", reject);
    });
  }

  test("delivers the filtered events as JSON messages", async () => {
    const base = await wsServer(handler);
    const ws = await connect(`${base}/api/v1/ws?userId=alice`);
    if (typeof ws === "number") throw new Error(`refused with ${ws}`);
    const message = new Promise<string>((resolve) => ws.once("message", (data: Buffer) => resolve(data.toString("utf8"))));
    await expect.poll(() => realtime.connections.ws).toBe(1);
    await gk.addPoints("bob", 1);
    await gk.addPoints("alice", 3);
    expect(JSON.parse(await message)).toMatchObject({ type: "points_added", userId: "alice", delta: 3 });
    ws.close();
    await expect.poll(() => realtime.connections.ws).toBe(0);
  });

  test("checks credentials like any route, also from ?access_token=", async () => {
    const secured = testHandler(gk, { prefix: "/api", realtime, auth: { apiKeys: [{ id: "r", hash: hashApiKey("reader-key"), role: "reader" }] } });
    cleanups.push(() => secured.close());
    const base = await wsServer(secured);
    expect(await connect(`${base}/api/v1/ws`)).toBe(401);
    expect(await connect(`${base}/api/v1/ws`, { "x-api-key": "wrong" })).toBe(401);
    const ws = await connect(`${base}/api/v1/ws?access_token=reader-key&leaderboard=xp`);
    expect(ws).toBeInstanceOf(WebSocket);
    (ws as WebSocket).close();
    expect(await connect(`${base}/api/v1/ws?access_token=reader-key&userId=bad%20id`)).toBe(400);
  });

  test("answers 404 when realtime is off, and leaves other upgrade paths alone", async () => {
    const off = testHandler(gk, { prefix: "/api" });
    cleanups.push(() => off.close());
    const base = await wsServer(off);
    expect(await connect(`${base}/api/v1/ws`)).toBe(404);
    expect(await connect(`${base}/elsewhere`)).toBe(404);
  });
});

describe("the fetch-handler example", () => {
  test("exports { fetch } that serves the API", async () => {
    const { default: app } = await import("../../../examples/fetch-handler/index.js");
    const r = await app.fetch(new Request("http://edge.test/v1/users/zoe/points", { method: "POST", headers: { "content-type": "application/json" }, body: '{"amount":2}' }));
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ userId: "zoe", total: 2 });
  });
});
