/**
 * The platform middleware driven through the real router: roles, 401/403/429, rate-limit and
 * security headers, CORS, compression, logs and metrics as a client sees them.
 */
import { createGamify } from "@gamifykit/core";
import { SignJWT } from "jose";
import { pino } from "pino";
import { describe, expect, test } from "vitest";
import { createGamifyHandler, hashApiKey, type GamifyHandler, type GamifyHandlerOptions } from "../src/index.js";
import { forEachFrontEnd, send } from "./handler-support.js";

const ADMIN_KEY = "gk_admin_through_handler_0001";
const READER_KEY = "gk_reader_through_handler_0002";
const SECRET = "a-test-secret-that-is-long-enough-for-hs256";

const auth = {
  apiKeys: [
    { id: "backend", hash: hashApiKey(ADMIN_KEY), role: "admin" as const },
    { id: "dashboard", hash: hashApiKey(READER_KEY), role: "reader" as const },
  ],
  jwt: { secret: SECRET },
};

function handler(options: GamifyHandlerOptions = {}): GamifyHandler {
  return createGamifyHandler(createGamify(), { logger: false, auth, ...options });
}

const userToken = (userId: string) => new SignJWT({ sub: userId }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));

async function call(h: GamifyHandler, method: string, path: string, headers: Record<string, string> = {}, body?: unknown, ip?: string) {
  const all = new Headers(body === undefined ? headers : { "content-type": "application/json", ...headers });
  const response = await send(h, method, path, all, body === undefined ? undefined : JSON.stringify(body), ip);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const reader = { "x-api-key": READER_KEY };

// Every case runs through the fetch handler and through toNodeHandler on loopback (see forEachFrontEnd).
forEachFrontEnd(() => {
  describe("auth through the handler", () => {
    test("health needs no credentials; everything else answers 401 with WWW-Authenticate: Bearer", async () => {
      const h = handler();
      const health = await call(h, "GET", "/healthz");
      expect(health.status).toBe(200);
      expect(health.headers.get("x-content-type-options")).toBe("nosniff");
      expect(health.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

      const missing = await call(h, "GET", "/v1/users/alice");
      expect(missing.status).toBe(401);
      expect(missing.headers.get("content-type")).toBe("application/problem+json");
      expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(missing.json).toMatchObject({ code: "UNAUTHENTICATED", status: 401 });

      const wrong = await call(h, "POST", "/v1/users/alice/points", { authorization: "Bearer not-a-key" }, { amount: 5 });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    test("admin awards, reader reads but may not award or delete (403), a user token reads only itself", async () => {
      const h = handler();
      expect((await call(h, "POST", "/v1/users/alice/points", admin, { amount: 5, metric: "xp" })).status).toBe(200);
      await call(h, "POST", "/v1/users/bob/points", admin, { amount: 7, metric: "xp" });

      const read = await call(h, "GET", "/v1/users/alice", reader);
      expect(read.status).toBe(200);
      expect(read.json).toMatchObject({ userId: "alice", points: { xp: 5 } });

      const award = await call(h, "POST", "/v1/users/alice/points", reader, { amount: 5 });
      expect(award.status).toBe(403);
      expect(award.json).toMatchObject({ code: "PERMISSION_DENIED" });
      expect((await call(h, "DELETE", "/v1/users/alice", reader)).status).toBe(403);

      const alice = { authorization: `Bearer ${await userToken("alice")}` };
      expect((await call(h, "GET", "/v1/users/alice", alice)).status).toBe(200);
      const other = await call(h, "GET", "/v1/users/bob", alice);
      expect(other.status).toBe(403);
      expect(other.json).toMatchObject({ code: "PERMISSION_DENIED" });
      expect((await call(h, "POST", "/v1/users/alice/points", alice, { amount: 1 })).status).toBe(403);
    });

    test("/metrics is admin-only when auth is on and shows requests by route template", async () => {
      const h = handler();
      await call(h, "GET", "/v1/users/alice", reader);
      expect((await call(h, "GET", "/metrics", reader)).status).toBe(403);
      const metrics = await call(h, "GET", "/metrics", admin);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toContain("text/plain; version=0.0.4");
      expect(metrics.text).toContain('gamifykit_http_requests_total{method="GET",route="/v1/users/{userId}",status="404"} 1');
      expect(metrics.text).not.toContain("/v1/users/alice");
    });
  });

  describe("rate limits through the handler", () => {
    test("success responses carry RateLimit-*; the request over the limit is 429 with Retry-After", async () => {
      const h = handler({ rateLimit: { tiers: { reader: { limit: 2, windowMs: 60_000 }, anonymous: { limit: 1, windowMs: 60_000 } } } });
      // The admin key has no tier configured: unlimited, no headers.
      const award = await call(h, "POST", "/v1/users/alice/points", admin, { amount: 3 });
      expect(award.status).toBe(200);
      expect(award.headers.has("ratelimit-limit")).toBe(false);
      const first = await call(h, "GET", "/v1/users/alice", reader);
      expect(first.status).toBe(200);
      expect(first.headers.get("ratelimit-limit")).toBe("2");
      expect(first.headers.get("ratelimit-remaining")).toBe("1");
      expect(first.headers.get("ratelimit-policy")).toBe("2;w=60");
      await call(h, "GET", "/v1/users/alice", reader);
      const limited = await call(h, "GET", "/v1/users/alice", reader);
      expect(limited.status).toBe(429);
      expect(limited.json).toMatchObject({ code: "RATE_LIMITED", status: 429 });
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(limited.headers.get("ratelimit-remaining")).toBe("0");
      expect(limited.headers.get("ratelimit-limit")).toBe("2");
      expect(limited.headers.get("ratelimit-reset")).toBe(limited.headers.get("retry-after"));
      // Another caller in the same tier (a reader JWT) has its own budget.
      const readerJwt = await new SignJWT({ sub: "svc-1", role: "reader" }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
      const other = await call(h, "GET", "/v1/users/alice", { authorization: `Bearer ${readerJwt}` });
      expect(other.status).toBe(200);
      expect(other.headers.get("ratelimit-remaining")).toBe("1");
      // Health probes are never limited.
      for (let i = 0; i < 3; i++) expect((await call(h, "GET", "/healthz", {}, undefined, "192.0.2.9")).status).toBe(200);
    });

    test("anonymous callers are limited per client IP when auth is off", async () => {
      const h = createGamifyHandler(createGamify(), { logger: false, rateLimit: { tiers: { anonymous: { limit: 1, windowMs: 60_000 } } } });
      expect((await call(h, "GET", "/v1/users/alice", {}, undefined, "192.0.2.1")).status).toBe(404);
      expect((await call(h, "GET", "/v1/users/alice", {}, undefined, "192.0.2.1")).status).toBe(429);
      expect((await call(h, "GET", "/v1/users/alice", {}, undefined, "192.0.2.2")).status).toBe(404);
    });

    test("a counted request that fails still shows the budget it used", async () => {
      const h = handler({ rateLimit: { tiers: { reader: { limit: 5, windowMs: 60_000 } } } });
      const missing = await call(h, "GET", "/v1/users/nobody", reader);
      expect(missing.status).toBe(404);
      expect(missing.headers.get("ratelimit-remaining")).toBe("4");
      const invalid = await call(h, "GET", "/v1/leaderboards/xp?limit=0", reader);
      expect(invalid.status).toBe(400);
      expect(invalid.headers.get("ratelimit-remaining")).toBe("3");
    });
  });

  describe("headers through the handler", () => {
    test("a CORS preflight needs no credentials; actual responses carry CORS and expose the rate-limit headers", async () => {
      const h = handler({ cors: { origins: ["https://app.example.com"], credentials: true } });
      const preflight = await call(h, "OPTIONS", "/v1/users/alice/points", {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, idempotency-key",
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(preflight.headers.get("access-control-allow-headers")).toContain("Idempotency-Key");
      expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
      const actual = await call(h, "GET", "/v1/users/alice", { ...reader, origin: "https://app.example.com" });
      expect(actual.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(actual.headers.get("access-control-expose-headers")).toContain("RateLimit-Remaining");
      // Errors get them too, so a browser client can read a 401.
      const denied = await call(h, "GET", "/v1/users/alice", { origin: "https://app.example.com" });
      expect(denied.status).toBe(401);
      expect(denied.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    });

    test("/docs gets the HTML policy, JSON the locked-down one, HSTS when configured", async () => {
      const h = handler({ securityHeaders: { hsts: { maxAgeSeconds: 600 } } });
      const docs = await call(h, "GET", "/docs");
      expect(docs.status).toBe(200);
      // The page's renderer must come from a host its script-src allows, and the page must have no inline script.
      const scriptSrc = docs.headers.get("content-security-policy")!.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src "))!;
      expect(scriptSrc).not.toContain("'unsafe-inline'");
      const scripts = [...docs.text.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, content] of scripts) {
        expect(content!.trim()).toBe("");
        const src = /src="([^"]+)"/.exec(attributes!)?.[1];
        if (src) expect(scriptSrc.split(" ")).toContain(new URL(src).origin);
      }
      const api = await call(h, "GET", "/openapi.json");
      expect(api.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(api.headers.get("strict-transport-security")).toBe("max-age=600");
    });

    test("small JSON answers and problems go out uncompressed, with their byte length", async () => {
      const h = handler();
      for (const path of ["/healthz", "/v1/users/nobody"]) {
        const response = await send(h, "GET", path, new Headers({ "accept-encoding": "gzip", ...admin }), undefined);
        expect(response.headers.get("content-encoding")).toBeNull();
        const bytes = new Uint8Array(await response.arrayBuffer());
        expect(Number(response.headers.get("content-length"))).toBe(bytes.byteLength);
      }
    });

    test("large JSON is gzip-compressed for clients that accept it; an incoming request id is echoed", async () => {
      const h = handler();
      const response = await send(h, "GET", "/openapi.json", new Headers({ "accept-encoding": "gzip", "x-request-id": "lb-42" }), undefined);
      expect(response.headers.get("content-encoding")).toBe("gzip");
      expect(response.headers.get("x-request-id")).toBe("lb-42");
      const text = await new Response(response.body!.pipeThrough(new DecompressionStream("gzip"))).text();
      expect(JSON.parse(text)).toMatchObject({ openapi: expect.stringMatching(/^3\.1/) });
    });

    test("one info log line per request with the route template and the principal, never the key", async () => {
      const raw: string[] = [];
      const logger = pino({ level: "info" }, { write: (line: string) => void raw.push(line) });
      const h = handler({ logger });
      await call(h, "GET", "/v1/users/alice", { ...admin, "x-request-id": "trace-me" });
      const lines = raw.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line["reqId"] === "trace-me");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ method: "GET", route: "/v1/users/{userId}", status: 404, principal: "api-key:backend" });
      expect(raw.join("")).not.toContain(ADMIN_KEY);
    });
  });
});
