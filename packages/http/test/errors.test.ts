import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { GamifyError, type Gamify } from "@gamifykit/core";
import { SignJWT } from "jose";
import { createRealtime } from "../src/index.js";
import { hashApiKey, schemas, type GamifyHandler } from "../src/index.js";
import { call, faultyStorage, forEachFrontEnd, memoryLogger, testEngine, testHandler } from "./handler-support.js";

let gk: Gamify;
let handler: GamifyHandler;

beforeEach(() => {
  gk = testEngine();
  handler = testHandler(gk, { prefix: "/api", bodyLimit: 1024 });
});

afterEach(async () => {
  await handler.close();
  await gk.close();
});

/** Asserts an RFC 9457 problem with the status and code, and returns its body. */
function expectProblem(r: Awaited<ReturnType<typeof call>>, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toBe("application/problem+json");
  const body = schemas.Problem.parse(r.json);
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.type).toBe(`https://gamifykit.dev/problems/${code.toLowerCase().replaceAll("_", "-")}`);
  expect(body.instance).toBe(r.headers.get("x-request-id"));
  return body;
}

// Every case runs through the fetch handler and through toNodeHandler on loopback (see forEachFrontEnd).
forEachFrontEnd(() => {
  describe("400 invalid input", () => {
    test("a body failing its schema lists every failure with its path", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 0, metric: "no spaces", extra: true } });
      const body = expectProblem(r, 400, "INVALID_ARGUMENT");
      const paths = body.errors?.map((e) => e.path).sort();
      expect(paths).toEqual(["body", "body.amount", "body.metric"]);
      expect(body.errors?.find((e) => e.path === "body.metric")?.message).toContain("1-128 characters");
      expect(await gk.getUser("alice")).toBeNull();
    });

    test("a bad path parameter, query parameter and header are each reported", async () => {
      const r = await call(handler, "POST", `/api/v1/users/${"x".repeat(129)}/points`, { body: { amount: 1 }, headers: { "Idempotency-Key": "has space" } });
      const body = expectProblem(r, 400, "INVALID_ARGUMENT");
      expect(body.errors?.map((e) => e.path).sort()).toEqual(["header.Idempotency-Key", "path.userId"]);
      const q = await call(handler, "GET", `/api/v1/leaderboards/xp?limit=0&mode=best&period=year&at=${encodeURIComponent("next tuesday")}&bogus=1`);
      expect(expectProblem(q, 400, "INVALID_ARGUMENT").errors?.map((e) => e.path).sort()).toEqual(["query", "query.at", "query.limit", "query.mode", "query.period"]);
    });

    test("a query parameter given twice is refused", async () => {
      const r = await call(handler, "GET", "/api/v1/leaderboards/xp?limit=1&limit=2");
      expect(expectProblem(r, 400, "INVALID_ARGUMENT").errors).toEqual([{ path: "query.limit", message: "is given more than once" }]);
    });

    test("malformed JSON answers 400 and changes nothing", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: '{"amount": 5,', headers: { "content-type": "application/json" } });
      expect(expectProblem(r, 400, "INVALID_ARGUMENT").detail).toMatch(/^The body is not valid JSON/);
      expect(await gk.getUser("alice")).toBeNull();
    });

    test("a body that is not UTF-8 answers 400", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: new Uint8Array([0x7b, 0xff, 0x7d]), headers: { "content-type": "application/json" } });
      expect(expectProblem(r, 400, "INVALID_ARGUMENT").detail).toContain("UTF-8");
    });

    test("a required body that is missing answers 400", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: "", headers: { "content-type": "application/json" } });
      expect(expectProblem(r, 400, "INVALID_ARGUMENT").detail).toContain("needs a JSON body");
    });

    test("bad percent-encoding in a path parameter answers 400", async () => {
      const r = await call(handler, "GET", "/api/v1/users/%E0%A4%A");
      expect(expectProblem(r, 400, "INVALID_ARGUMENT").errors).toEqual([{ path: "path.userId", message: "is not valid percent-encoding" }]);
    });

    test("an engine INVALID_ARGUMENT (a batch of zero awards is caught by the schema; an over-long metadata by the engine) answers 400", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/actions", { body: { action: "x", metadata: { blob: "y".repeat(900) } } });
      expect(r.status).toBe(200);
      const big = testHandler(gk, { bodyLimit: 64 * 1024 });
      const engine = await call(big, "POST", "/v1/users/alice/actions", { body: { action: "x", metadata: { blob: "y".repeat(17_000) } } });
      expect(expectProblem(engine, 400, "INVALID_ARGUMENT").detail).toContain("16 KiB");
      await big.close();
    });
  });

  describe("401, 403 and 429 from the platform", () => {
    test("auth on: no credentials answer 401 with WWW-Authenticate, a reader on an admin route 403, an admin 200", async () => {
      const secured = testHandler(gk, {
        auth: {
          apiKeys: [
            { id: "ops", hash: hashApiKey("admin-secret"), role: "admin" },
            { id: "dash", hash: hashApiKey("reader-secret"), role: "reader" },
          ],
        },
      });
      const none = await call(secured, "POST", "/v1/users/alice/points", { body: { amount: 1 } });
      expectProblem(none, 401, "UNAUTHENTICATED");
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const reader = await call(secured, "POST", "/v1/users/alice/points", { body: { amount: 1 }, headers: { "x-api-key": "reader-secret" } });
      expectProblem(reader, 403, "PERMISSION_DENIED");
      const admin = await call(secured, "POST", "/v1/users/alice/points", { body: { amount: 1 }, headers: { authorization: "Bearer admin-secret" } });
      expect(admin.status).toBe(200);
      expect((await call(secured, "GET", "/v1/users/alice", { headers: { "x-api-key": "reader-secret" } })).status).toBe(200);
      // Probes and docs never need credentials; metrics need an admin.
      expect((await call(secured, "GET", "/healthz")).status).toBe(200);
      expect((await call(secured, "GET", "/openapi.json")).status).toBe(200);
      expectProblem(await call(secured, "GET", "/metrics"), 401, "UNAUTHENTICATED");
      expect((await call(secured, "GET", "/metrics", { headers: { "x-api-key": "admin-secret" } })).status).toBe(200);
      await secured.close();
    });

    test("a user token reads only its own user: state, events, rank, around and the event stream", async () => {
      const secret = "a-test-secret-of-at-least-32-bytes!!";
      const token = await new SignJWT({ role: "user" }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime("5m").sign(new TextEncoder().encode(secret));
      const realtime = createRealtime(gk);
      const secured = testHandler(gk, { auth: { jwt: { secret } }, realtime });
      await gk.addPoints("alice", 10, { metric: "xp" });
      await gk.addPoints("bob", 20, { metric: "xp" });
      const as = { authorization: `Bearer ${token}` };
      for (const path of ["/v1/users/alice", "/v1/users/alice/events", "/v1/leaderboards/xp/users/alice", "/v1/leaderboards/xp/users/alice/around"]) {
        expect((await call(secured, "GET", path, { headers: as })).status).toBe(200);
      }
      for (const path of ["/v1/users/bob", "/v1/users/bob/events", "/v1/leaderboards/xp/users/bob", "/v1/leaderboards/xp", "/v1/events", "/v1/events?leaderboard=xp", "/v1/events?userId=bob"]) {
        expectProblem(await call(secured, "GET", path, { headers: as }), 403, "PERMISSION_DENIED");
      }
      expectProblem(await call(secured, "POST", "/v1/users/alice/points", { body: { amount: 1 }, headers: as }), 403, "PERMISSION_DENIED");
      const stream = await secured(new Request("http://gamifykit.test/v1/events?userId=alice", { headers: as }));
      expect(stream.status).toBe(200);
      await stream.body?.cancel();
      await secured.close();
      await realtime.close();
    });

    test("metricsAuth: false opens /metrics while auth is on", async () => {
      const open = testHandler(gk, { auth: { apiKeys: [{ id: "ops", hash: hashApiKey("k"), role: "admin" }] }, metricsAuth: false });
      expect((await call(open, "GET", "/metrics")).status).toBe(200);
      await open.close();
    });

    test("a rate-limited caller gets 429 with Retry-After and RateLimit-* headers; success responses carry RateLimit-*", async () => {
      const limited = testHandler(gk, { rateLimit: { tiers: { anonymous: { limit: 2, windowMs: 60_000 } } } });
      const first = await call(limited, "GET", "/v1/leaderboards/xp");
      expect(first.status).toBe(200);
      expect(first.headers.get("ratelimit-limit")).toBe("2");
      expect(first.headers.get("ratelimit-remaining")).toBe("1");
      await call(limited, "GET", "/v1/leaderboards/xp");
      const third = await call(limited, "GET", "/v1/leaderboards/xp");
      expectProblem(third, 429, "RATE_LIMITED");
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(third.headers.get("ratelimit-remaining")).toBe("0");
      // Probes are never throttled.
      expect((await call(limited, "GET", "/healthz")).status).toBe(200);
      await limited.close();
    });
  });

  describe("404 and 405", () => {
    test("an unknown user answers 404 NOT_FOUND", async () => {
      expectProblem(await call(handler, "GET", "/api/v1/users/ghost"), 404, "NOT_FOUND");
      expectProblem(await call(handler, "DELETE", "/api/v1/users/ghost"), 404, "NOT_FOUND");
    });

    test("a user absent from a board answers 404; a period the board does not keep answers 404", async () => {
      expectProblem(await call(handler, "GET", "/api/v1/leaderboards/xp/users/ghost"), 404, "NOT_FOUND");
      const month = await call(handler, "GET", "/api/v1/leaderboards/xp?period=month");
      expect(expectProblem(month, 404, "NOT_FOUND").detail).toContain('periods: ["month"]');
    });

    test("an unknown route answers 404 naming the docs", async () => {
      const r = await call(handler, "GET", "/api/v2/nothing");
      expect(expectProblem(r, 404, "NOT_FOUND").detail).toContain("/api/docs");
    });

    test("a known path with the wrong method answers 405 with Allow", async () => {
      const r = await call(handler, "PATCH", "/api/v1/users/alice");
      expectProblem(r, 405, "INVALID_ARGUMENT");
      expect(r.headers.get("allow")).toBe("GET, DELETE, HEAD");
    });
  });

  describe("409, 413, 415, 422", () => {
    test("a CONFLICT from the storage answers 409 with its message", async () => {
      const conflicted = testEngine({
        storage: faultyStorage({
          applyAwards: () => {
            throw new GamifyError("CONFLICT", "The award raced a concurrent schema change; retry it.");
          },
        }),
      });
      const h = testHandler(conflicted);
      const r = await call(h, "POST", "/v1/users/alice/points", { body: { amount: 1 } });
      expect(expectProblem(r, 409, "CONFLICT").detail).toBe("The award raced a concurrent schema change; retry it.");
      await h.close();
      await conflicted.close();
    });

    test("a body over the limit answers 413: by Content-Length before reading", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 1, reason: "x".repeat(2000) } });
      expect(expectProblem(r, 413, "PAYLOAD_TOO_LARGE").detail).toContain("1024 bytes");
    });

    test("a body that is not JSON answers 415", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: "amount=5", headers: { "content-type": "application/x-www-form-urlencoded" } });
      expect(expectProblem(r, 415, "INVALID_ARGUMENT").detail).toContain("Content-Type: application/json");
      const noType = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: new Uint8Array([0x7b, 0x7d]) });
      expectProblem(noType, 415, "INVALID_ARGUMENT");
      const latin1 = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: '{"amount":1}', headers: { "content-type": "application/json; charset=iso-8859-1" } });
      expectProblem(latin1, 415, "INVALID_ARGUMENT");
      const vendor = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: '{"amount":1}', headers: { "content-type": "application/vnd.api+json; charset=UTF-8" } });
      expect(vendor.status).toBe(200);
    });

    test("an award past the safe-integer range answers 422 OUT_OF_RANGE and changes nothing", async () => {
      await gk.addPoints("whale", Number.MAX_SAFE_INTEGER);
      const r = await call(handler, "POST", "/api/v1/users/whale/points", { body: { amount: 1 } });
      expectProblem(r, 422, "OUT_OF_RANGE");
      expect((await gk.getUser("whale"))?.points["points"]).toBe(Number.MAX_SAFE_INTEGER);
    });
  });

  describe("5xx", () => {
    test("an unexpected error answers a generic 500 that leaks nothing, and is logged with its request id", async () => {
      const { logger, lines } = memoryLogger();
      const broken = testEngine({
        storage: faultyStorage({
          getUser: () => {
            throw new Error("connect ECONNREFUSED db.internal.example:5432 password=hunter2");
          },
        }),
      });
      const h = testHandler(broken, { logger });
      const r = await call(h, "GET", "/v1/users/alice");
      const body = expectProblem(r, 500, "INTERNAL");
      expect(r.text).not.toMatch(/ECONNREFUSED|db\.internal|hunter2|stack/);
      expect(body.detail).toBe("An unexpected error occurred. The server log has the details under this request's id.");
      const logged = lines().find((l) => l["reqId"] === body.instance && l["level"] === 50);
      expect(JSON.stringify(logged)).toContain("ECONNREFUSED");
      await h.close();
      await broken.close();
    });

    test("a failing storage health check answers 503 on /readyz without its message", async () => {
      const sick = testEngine({
        storage: faultyStorage({
          health: () => {
            throw new GamifyError("STORAGE_UNAVAILABLE", "SQL health failed (connect ECONNREFUSED 10.0.0.7:5432); check the url.");
          },
        }),
      });
      const h = testHandler(sick);
      const r = await call(h, "GET", "/readyz");
      expectProblem(r, 503, "STORAGE_UNAVAILABLE");
      expect(r.text).not.toContain("10.0.0.7");
      expect(r.headers.get("retry-after")).toBe("5");
      expect((await call(h, "GET", "/healthz")).status).toBe(200);
      await h.close();
      await sick.close();
    });

    test("a closed engine answers 503 CLOSED", async () => {
      await gk.close();
      expectProblem(await call(handler, "GET", "/api/v1/users/alice"), 503, "CLOSED");
      expectProblem(await call(handler, "GET", "/api/readyz"), 503, "CLOSED");
    });
  });
});

// Web Request bodies that are streams; node.test.ts covers the same over a socket.
describe("request body streams (web front end)", () => {
  test("a body over the limit answers 413 while streaming, without a Content-Length", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        // An endless body: the reader must stop on its own once past the limit.
        controller.enqueue(new TextEncoder().encode(pulled === 1 ? '{"amount": 1, "reason": "' : "x".repeat(256)));
      },
    });
    const r = await call(handler, "POST", "/api/v1/users/alice/points", { rawBody: stream, headers: { "content-type": "application/json" } });
    expectProblem(r, 413, "PAYLOAD_TOO_LARGE");
    expect(pulled).toBeLessThan(20);
    expect(await gk.getUser("alice")).toBeNull();
  });

  test("a body stream that breaks off answers 400, not a logged 500", async () => {
    const { logger, lines } = memoryLogger();
    const h = testHandler(gk, { logger });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"amount":'));
        controller.error(new Error("socket hang up"));
      },
    });
    const r = await call(h, "POST", "/v1/users/alice/points", { rawBody: stream, headers: { "content-type": "application/json" } });
    expect(expectProblem(r, 400, "INVALID_ARGUMENT").detail).toContain("could not be read");
    expect(lines().filter((l) => l["level"] === 50)).toEqual([]);
    await h.close();
  });
});
