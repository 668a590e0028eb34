/** The Node adapter on its own: backpressure, client IPs, and that the entry stays loadable on edge runtimes. */
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import net from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createGamify } from "@gamifykit/core";
import { createGamifyHandler, getClientIp, toNodeHandler } from "../src/index.js";
import { clientAddress } from "../src/node.js";
import { closeLoopbackServers, listenOnLoopback as listen, memoryLogger } from "./handler-support.js";

afterEach(async () => {
  vi.unstubAllGlobals();
  await closeLoopbackServers();
});

/** A POST over node:http's own client (fetch would build web Requests of its own in this process). */
function post(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    request.once("error", reject);
    request.end(body);
  });
}

/** Replaces the global Request and Response with counting stand-ins that still construct the real ones. */
function countWebObjects(): { requests: () => number; responses: () => number } {
  let requests = 0;
  let responses = 0;
  vi.stubGlobal("Request", new Proxy(Request, { construct: (target, args: ConstructorParameters<typeof Request>) => (requests++, new target(...args)) }));
  vi.stubGlobal("Response", new Proxy(Response, { construct: (target, args: ConstructorParameters<typeof Response>) => (responses++, new target(...args)) }));
  return { requests: () => requests, responses: () => responses };
}

describe("the Node fast path", () => {
  test("a createGamifyHandler handler answers a JSON POST and a GET without building a web Request or Response", async () => {
    const gk = createGamify();
    const handler = createGamifyHandler(gk, { logger: false });
    const port = await listen(toNodeHandler(handler));
    const counted = countWebObjects();
    const award = await post(port, "/v1/users/alice/points", '{"amount":5}');
    expect(award.status).toBe(200);
    expect(JSON.parse(award.body)).toMatchObject({ userId: "alice", total: 5 });
    const invalid = await post(port, "/v1/users/alice/points", '{"amount":"five"}');
    expect(invalid.status).toBe(400);
    expect(counted.requests()).toBe(0);
    expect(counted.responses()).toBe(0);
    // The counter is real: any other fetch handler gets a web Request, and its Response is built.
    const wrappedPort = await listen(toNodeHandler((request: Request) => handler(request)));
    expect((await post(wrappedPort, "/v1/users/alice/points", '{"amount":5}')).status).toBe(200);
    expect(counted.requests()).toBeGreaterThan(0);
    expect(counted.responses()).toBeGreaterThan(0);
    await handler.close();
    await gk.close();
  });

  test("an upload that breaks off answers 400 (logged as such), not a logged 500, and changes nothing", async () => {
    const gk = createGamify();
    const { logger, lines } = memoryLogger();
    const handler = createGamifyHandler(gk, { logger });
    const port = await listen(toNodeHandler(handler));
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write('POST /v1/users/alice/points HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"amount":');
    await vi.waitFor(() => expect(lines().some((l) => l["msg"] === "request received")).toBe(true));
    socket.destroy();
    await vi.waitFor(() => expect(lines().find((l) => l["msg"] === "request")).toMatchObject({ status: 400, route: "/v1/users/{userId}/points" }));
    expect(lines().filter((l) => l["level"] === 50)).toEqual([]);
    expect(await gk.getUser("alice")).toBeNull();
    await handler.close();
    await gk.close();
  });
});

describe("toNodeHandler", () => {
  test("streams a large response with backpressure: a client that stops reading stops the producer", async () => {
    const CHUNK = 1024 * 1024;
    const TOTAL = 64;
    let produced = 0;
    const port = await listen(
      toNodeHandler(
        async () =>
          new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                if (produced === TOTAL) return controller.close();
                produced++;
                controller.enqueue(new Uint8Array(CHUNK).fill(97));
              },
            }),
            { headers: { "content-type": "application/octet-stream" } },
          ),
      ),
    );
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.pause();
    socket.write("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Socket buffers hold a few MiB; without backpressure all 64 would be produced by now.
    expect(produced).toBeLessThan(24);
    let received = 0;
    socket.on("data", (chunk: Buffer) => (received += chunk.byteLength));
    socket.resume();
    await once(socket, "end");
    expect(produced).toBe(TOTAL);
    expect(received).toBeGreaterThan(TOTAL * CHUNK);
  });

  test("reads request bodies with backpressure: a handler that has not read yet holds the upload back", async () => {
    const CHUNK = 1024 * 1024;
    const TOTAL = 64;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const port = await listen(
      toNodeHandler(async (request) => {
        await released;
        return new Response(String((await request.arrayBuffer()).byteLength));
      }),
    );
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${TOTAL * CHUNK}\r\nConnection: close\r\n\r\n`);
    let written = 0;
    const chunk = Buffer.alloc(CHUNK, 98);
    const writeAll = (async () => {
      while (written < TOTAL) {
        written++;
        if (!socket.write(chunk)) await once(socket, "drain");
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Kernel buffers take a few MiB; a server reading in flowing mode would have taken all 64.
    expect(written).toBeLessThan(32);
    release();
    await writeAll;
    await once(socket, "end");
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain(`\r\n${TOTAL * CHUNK}\r\n`);
  });

  test("a body the handler never reads does not stall the connection: it is answered, discarded and the connection closed", async () => {
    const gk = createGamify();
    const handler = createGamifyHandler(gk, { logger: false, bodyLimit: 1024 });
    const port = await listen(toNodeHandler(handler));
    for (const [path, status] of [
      ["/v2/nothing", 404],
      ["/v1/users/a/points", 413],
      ["/v2/nothing", 404],
      ["/v1/users/a/points", 413],
    ] as const) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "x".repeat(300_000),
        signal: AbortSignal.timeout(5000),
      });
      expect(response.status).toBe(status);
      expect(response.headers.get("connection")).toBe("close");
      await response.body?.cancel();
    }
    const ok = await fetch(`http://127.0.0.1:${port}/v1/users/a/points`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"amount":1}' });
    expect(ok.headers.get("connection")).toBe("keep-alive");
    await handler.close();
    await gk.close();
  });

  test("passes method, URL, headers and a streamed body to the fetch handler, and the socket's address as client IP", async () => {
    let seen: { method: string; url: string; header: string | null; body: string; ip: string | undefined } | undefined;
    const port = await listen(
      toNodeHandler(async (request) => {
        seen = { method: request.method, url: request.url, header: request.headers.get("x-thing"), body: await request.text(), ip: getClientIp(request) };
        return new Response("ok", { status: 201, headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] });
      }),
    );
    const response = await fetch(`http://127.0.0.1:${port}/p/q?x=1`, { method: "PUT", headers: { "x-thing": "yes" }, body: "hello" });
    expect(response.status).toBe(201);
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(seen).toEqual({ method: "PUT", url: `http://127.0.0.1:${port}/p/q?x=1`, header: "yes", body: "hello", ip: "127.0.0.1" });
  });

  test("a handler that throws answers a generic 500 problem and is reported to onError", async () => {
    const reported: unknown[] = [];
    const port = await listen(
      toNodeHandler(
        async () => {
          throw new Error("secret detail");
        },
        { onError: (error) => reported.push(error) },
      ),
    );
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.text()).not.toContain("secret");
    expect(String(reported[0])).toContain("secret detail");
  });
});

describe("clientAddress", () => {
  const req = (remoteAddress: string, forwarded?: string) =>
    ({ socket: { remoteAddress }, headers: forwarded === undefined ? {} : { "x-forwarded-for": forwarded } }) as unknown as IncomingMessage;

  test("is the socket's address unless a proxy is trusted; IPv4-mapped IPv6 is shown as IPv4", () => {
    expect(clientAddress(req("::ffff:10.0.0.1", "1.2.3.4"), false)).toBe("10.0.0.1");
    expect(clientAddress(req("::1"), true)).toBe("::1");
  });

  test("trustProxy: true takes the leftmost X-Forwarded-For address; n takes the n-th from the right", () => {
    const r = req("10.0.0.1", "203.0.113.9, 198.51.100.7, 10.0.0.2");
    expect(clientAddress(r, true)).toBe("203.0.113.9");
    expect(clientAddress(r, 1)).toBe("10.0.0.2");
    expect(clientAddress(r, 2)).toBe("198.51.100.7");
    expect(clientAddress(r, 9)).toBe("203.0.113.9");
    expect(clientAddress(req("10.0.0.1", " "), 1)).toBe("10.0.0.1");
  });
});

describe("edge runtimes", () => {
  test("the router's modules import no node: built-in at runtime (type-only imports are fine)", () => {
    const src = join(import.meta.dirname, "../src");
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts") && !f.startsWith("middleware") && !f.startsWith("realtime"),
    );
    expect(files).toContain("node.ts");
    const offenders = files.filter((file) => /^import\s+(?!type\b)[^;]*from\s+"node:/m.test(readFileSync(join(src, file), "utf8")));
    expect(offenders).toEqual([]);
  });
});
