import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, expectTypeOf, test } from "vitest";
import { ClientError, createClient, parseSse, type AwardResult, type GamifyEvent, type UserState } from "../src/index.js";
import { json, problem, scriptedServer } from "./support.js";

const award = { userId: "alice", metric: "xp", delta: 5, total: 5, previousTotal: 0, level: 1, previousLevel: 1, replayed: false, events: [] };
const servers: { close(): Promise<void> }[] = [];
async function serve(...answers: Parameters<typeof scriptedServer>) {
  const server = await scriptedServer(...answers);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("requests", () => {
  test("sends credentials, JSON and an Idempotency-Key; encodes path segments", async () => {
    const server = await serve(json(200, award));
    const client = createClient({ baseUrl: `${server.url}/api/`, apiKey: "k1" });
    const result = await client.addPoints("a/b c", 5, { metric: "xp", reason: "r" });
    expect(result).toEqual(award);
    const [seen] = server.seen;
    expect(seen?.method).toBe("POST");
    expect(seen?.url).toBe("/api/v1/users/a%2Fb%20c/points");
    expect(seen?.headers["x-api-key"]).toBe("k1");
    expect(seen?.headers["content-type"]).toBe("application/json");
    expect(seen?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(seen?.body ?? "")).toEqual({ metric: "xp", reason: "r", amount: 5 });
  });

  test("a token function is called per request; query parameters are encoded", async () => {
    const server = await serve(json(200, { board: "xp", entries: [], count: 0 }));
    let n = 0;
    const client = createClient({ baseUrl: server.url, token: () => `t${++n}` });
    await client.leaderboard("xp").top({ period: "week", limit: 3 });
    await client.leaderboard("xp").top();
    expect(server.seen.map((s) => s.headers.authorization)).toEqual(["Bearer t1", "Bearer t2"]);
    expect(server.seen[0]?.url).toBe("/v1/leaderboards/xp?period=week&limit=3");
  });

  test("problem answers become ClientError with code, status, detail and request id", async () => {
    const server = await serve(problem(404, "NOT_FOUND"));
    const client = createClient({ baseUrl: server.url });
    const error = await client.getUser("ghost").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: "NOT_FOUND", status: 404, detail: "detail of NOT_FOUND", requestId: "req-1" });
  });

  test("rank answers null for a user not on the board", async () => {
    const server = await serve(problem(404, "NOT_FOUND"));
    expect(await createClient({ baseUrl: server.url }).leaderboard("xp").rank("ghost")).toBeNull();
  });

  test("429 is retried after Retry-After with the same Idempotency-Key", async () => {
    const server = await serve(problem(429, "RATE_LIMITED", { "retry-after": "1" }), json(200, award));
    const started = Date.now();
    const result = await createClient({ baseUrl: server.url }).addPoints("alice", 5);
    expect(result.total).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]?.headers["idempotency-key"]).toBe(server.seen[0]?.headers["idempotency-key"]);
  });

  test("503 is retried for idempotent calls, with bounded attempts", async () => {
    const server = await serve(problem(503, "STORAGE_UNAVAILABLE"));
    const client = createClient({ baseUrl: server.url, retries: 2 });
    const error = await client.getUser("alice").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "STORAGE_UNAVAILABLE", status: 503 });
    expect(server.seen).toHaveLength(3);
  });

  test("503 is not retried for track (not idempotent); 400 is never retried", async () => {
    const server = await serve(problem(503, "STORAGE_UNAVAILABLE"));
    await expect(createClient({ baseUrl: server.url }).track("alice", "login")).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
    expect(server.seen).toHaveLength(1);
    const bad = await serve(problem(400, "INVALID_ARGUMENT"));
    await expect(createClient({ baseUrl: bad.url }).getUser("x")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", status: 400 });
    expect(bad.seen).toHaveLength(1);
  });

  test("a Retry-After longer than maxRetryDelayMs fails at once, carrying it", async () => {
    const server = await serve(problem(429, "RATE_LIMITED", { "retry-after": "120" }));
    const error = await createClient({ baseUrl: server.url, maxRetryDelayMs: 5000 })
      .getUser("alice")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 120 });
    expect(server.seen).toHaveLength(1);
  });

  test("network errors are retried for idempotent calls and reported as NETWORK_ERROR", async () => {
    const server = await serve((req) => req.socket.destroy());
    const error = await createClient({ baseUrl: server.url, retries: 1 })
      .getUser("alice")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "NETWORK_ERROR", status: 0 });
    expect(server.seen).toHaveLength(2);
  });

  test("timeouts are TIMEOUT; the caller's abort rejects with its reason and stops retrying", async () => {
    const server = await serve(() => undefined); // never answers
    await expect(createClient({ baseUrl: server.url, timeoutMs: 100, retries: 0 }).getUser("a")).rejects.toMatchObject({ code: "TIMEOUT" });
    const controller = new AbortController();
    const call = createClient({ baseUrl: server.url }).getUser("a", { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user left")), 50);
    await expect(call).rejects.toThrow("user left");
  });

  test("a body that stalls past timeoutMs is TIMEOUT; a body that is not JSON is INTERNAL", async () => {
    const stall = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"userId":'); // and nothing more
    });
    await expect(createClient({ baseUrl: stall.url, timeoutMs: 150, retries: 0 }).getUser("a")).rejects.toMatchObject({ code: "TIMEOUT", status: 0 });
    const garbage = await serve((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("<html>"));
    await expect(createClient({ baseUrl: garbage.url }).getUser("a")).rejects.toMatchObject({ code: "INTERNAL", status: 200 });
  });

  test("batch gives every award an idempotency key derived from one key per call", async () => {
    const server = await serve(problem(503, "STORAGE_UNAVAILABLE"), json(200, { results: [award, award] }));
    await createClient({ baseUrl: server.url }).batch([{ userId: "a", amount: 1 }, { userId: "b", amount: 2, idempotencyKey: "mine" }]);
    const bodies = server.seen.map((s) => JSON.parse(s.body) as { awards: { idempotencyKey: string }[] });
    expect(bodies[0]?.awards[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}:0$/);
    expect(bodies[0]?.awards[1]?.idempotencyKey).toBe("mine");
    expect(bodies[1]).toEqual(bodies[0]);
  });

  test("refuses a bad baseUrl and apiKey together with token", () => {
    expect(() => createClient({ baseUrl: "localhost:3000" })).toThrow(/baseUrl/);
    expect(() => createClient({ baseUrl: "http://x", apiKey: "a", token: "b" })).toThrow(/not both/);
  });
});

describe("events()", () => {
  test("parses the stream, skips heartbeats, and reconnects with Last-Event-ID", async () => {
    const event = (id: string) => ({ id, type: "points_added", userId: "alice", at: 1, metric: "xp", amount: 1, total: 1 });
    const server = await serve(
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(`retry: 10\n: connected\n\nid: e1\nevent: points_added\ndata: ${JSON.stringify(event("e1"))}\n\n: ping\n\n`);
      },
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`event: resync\ndata: {"lastEventId":"e1","reason":"gone"}\n\nid: e2\r\ndata: ${JSON.stringify(event("e2"))}\r\n\r\n`);
      },
    );
    const resyncs: unknown[] = [];
    const client = createClient({ baseUrl: server.url, apiKey: "k" });
    const got: GamifyEvent[] = [];
    for await (const e of client.events({ userId: "alice", onResync: (info) => resyncs.push(info) })) {
      got.push(e);
      if (got.length === 2) break;
    }
    expect(got.map((e) => e.id)).toEqual(["e1", "e2"]);
    expect(resyncs).toEqual([{ lastEventId: "e1", reason: "gone" }]);
    expect(server.seen[0]?.url).toBe("/v1/events?userId=alice");
    expect(server.seen[0]?.headers["last-event-id"]).toBeUndefined();
    expect(server.seen[1]?.headers["last-event-id"]).toBe("e1");
    expect(server.seen[1]?.headers["x-api-key"]).toBe("k");
  });

  test("a 403 ends the iteration with a ClientError; abort ends it quietly", async () => {
    const server = await serve(problem(403, "PERMISSION_DENIED"));
    const client = createClient({ baseUrl: server.url });
    await expect(client.events({ userId: "bob" }).next()).rejects.toMatchObject({ code: "PERMISSION_DENIED", status: 403 });
    const open = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": connected\n\n");
    });
    const controller = new AbortController();
    const iterator = createClient({ baseUrl: open.url }).events({ signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });
});

describe("events() liveness", () => {
  test("a stream silent past idleTimeoutMs, or a server that never answers, is dropped and reconnected", async () => {
    const event = { id: "e9", type: "action", userId: "u", at: 1, action: "login" };
    const server = await serve(
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("retry: 10\n: connected\n\n"); // then silence
      },
      () => undefined, // never answers
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`id: e9\ndata: ${JSON.stringify(event)}\n\n`);
      },
    );
    const reconnects: { error?: unknown }[] = [];
    const client = createClient({ baseUrl: server.url, timeoutMs: 200 });
    const iterator = client.events({ idleTimeoutMs: 200, onReconnect: (info) => reconnects.push(info) });
    const { value } = await iterator.next();
    await iterator.return();
    expect(value).toMatchObject({ id: "e9" });
    expect(server.seen).toHaveLength(3);
    expect(reconnects.map((r) => (r.error as ClientError).code)).toEqual(["TIMEOUT", "TIMEOUT"]);
    expect((reconnects[0]?.error as ClientError).detail).toMatch(/sent nothing for 200 ms/);
    expect((reconnects[1]?.error as ClientError).detail).toMatch(/did not answer for 200 ms/);
  });
});

describe("events() and server errors", () => {
  test("a 5xx is retried (with Retry-After when given); the feed goes on", async () => {
    const event = { id: "e1", type: "action", userId: "u", at: 1, action: "login" };
    const server = await serve(problem(500, "INTERNAL"), problem(503, "STORAGE_UNAVAILABLE", { "retry-after": "0" }), (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`id: e1\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const errors: unknown[] = [];
    const iterator = createClient({ baseUrl: server.url }).events({ onReconnect: (info) => errors.push(info.error) });
    expect((await iterator.next()).value).toMatchObject({ id: "e1" });
    await iterator.return();
    expect(errors.map((e) => (e as ClientError).status)).toEqual([500, 503]);
  });
});

describe("parseSse", () => {
  async function* chunks(...parts: string[]) {
    yield* parts;
  }
  test("follows the WHATWG rules: CR/LF/CRLF, split chunks, multi-line data, BOM, comments", async () => {
    const ids: string[] = [];
    const retries: number[] = [];
    const out = [];
    for await (const m of parseSse(chunks("\uFEFFdata: a\r", "\ndata:b\n\n", ": c\n", "event: x\nid: 7\ndata", "\n\nid: 8\n\nretry: 50\ndata: z\r\r"), { onId: (i) => ids.push(i), onRetry: (r) => retries.push(r) })) {
      out.push(m);
    }
    expect(out).toEqual([
      { event: "message", data: "a\nb", id: undefined },
      { event: "x", data: "", id: "7" },
      { event: "message", data: "z", id: "8" },
    ]);
    expect(ids).toEqual(["7", "8"]);
    expect(retries).toEqual([50]);
  });
});

describe("package", () => {
  test("no node: imports in the client's sources (browsers and edge runtimes)", () => {
    const dir = new URL("../src/", import.meta.url);
    const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(readFileSync(new URL(String(file), dir), "utf8")).not.toMatch(/from "node:|require\("node:/);
  });

  test("method types come from the generated OpenAPI paths", () => {
    const client = createClient({ baseUrl: "http://127.0.0.1:1" });
    expectTypeOf(client.getUser).returns.resolves.toEqualTypeOf<UserState>();
    expectTypeOf(client.addPoints).returns.resolves.toEqualTypeOf<AwardResult>();
    expectTypeOf<UserState>().not.toBeNever();
    expectTypeOf<AwardResult["total"]>().toEqualTypeOf<number>();
    expectTypeOf<GamifyEvent["type"]>().toExtend<string>();
  });
});
