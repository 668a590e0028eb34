import { describe, expect, test } from "vitest";
import { createPlatform, CORS_REQUEST_HEADERS, HTML_CSP, JSON_CSP } from "../src/middleware/index.js";
import { negotiate } from "../src/middleware/compression.js";

const json = (data: unknown, init: ResponseInit = {}) => {
  const text = JSON.stringify(data);
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json");
  headers.set("content-length", String(new TextEncoder().encode(text).byteLength));
  return new Response(text, { ...init, headers });
};
const get = (headers: Record<string, string> = {}, method = "GET") => new Request("http://api.test/v1/leaderboards/xp", { method, headers });
const big = { entries: Array.from({ length: 200 }, (_, i) => ({ userId: `user-${i}`, score: i * 10, rank: i + 1 })) };

async function decode(response: Response, coding: "gzip" | "deflate"): Promise<string> {
  return new Response(response.body!.pipeThrough(new DecompressionStream(coding))).text();
}

describe("security headers", () => {
  test("JSON responses get nosniff, frame denial, no referrer and a locked-down CSP; no HSTS by default", () => {
    const platform = createPlatform({ logger: false });
    const headers = platform.finish(get(), json({ ok: true })).headers;
    expect(headers.get("x-content-type-options")).toBe("nosniff");
    expect(headers.get("x-frame-options")).toBe("DENY");
    expect(headers.get("referrer-policy")).toBe("no-referrer");
    expect(headers.get("content-security-policy")).toBe(JSON_CSP);
    expect(headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(headers.has("strict-transport-security")).toBe(false);
  });

  test("HTML (the docs page) gets a CSP that allows its CDN; a route's own CSP is kept", () => {
    const platform = createPlatform({ logger: false });
    const html = platform.finish(get(), new Response("<!doctype html>", { headers: { "content-type": "text/html; charset=utf-8" } }));
    expect(html.headers.get("content-security-policy")).toBe(HTML_CSP);
    expect(HTML_CSP).toContain("https://cdn.jsdelivr.net");
    const own = platform.finish(get(), new Response("<p>", { headers: { "content-type": "text/html", "content-security-policy": "default-src 'self'" } }));
    expect(own.headers.get("content-security-policy")).toBe("default-src 'self'");
  });

  test("HSTS when asked, with validated settings; all headers can be turned off", () => {
    expect(createPlatform({ logger: false, securityHeaders: { hsts: true } }).finish(get(), json(1)).headers.get("strict-transport-security")).toBe("max-age=15552000");
    const preload = createPlatform({ logger: false, securityHeaders: { hsts: { maxAgeSeconds: 63_072_000, includeSubDomains: true, preload: true } } });
    expect(preload.finish(get(), json(1)).headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains; preload");
    expect(() => createPlatform({ logger: false, securityHeaders: { hsts: { preload: true } } })).toThrow(/preload/);
    const custom = createPlatform({ logger: false, securityHeaders: { contentSecurityPolicy: "default-src 'none'" } });
    expect(custom.finish(get(), json(1)).headers.get("content-security-policy")).toBe("default-src 'none'");
    const off = createPlatform({ logger: false, securityHeaders: false });
    expect(off.finish(get(), json(1)).headers.has("x-content-type-options")).toBe(false);
  });

  test("status, status text and body pass through finish unchanged", async () => {
    const platform = createPlatform({ logger: false, compression: false });
    const response = platform.finish(get(), json({ a: 1 }, { status: 201, statusText: "Created" }));
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Created");
    expect(await response.json()).toEqual({ a: 1 });
    expect(platform.finish(get(), new Response(null, { status: 204 })).status).toBe(204);
  });
});

describe("CORS", () => {
  const preflight = (origin: string, headers: Record<string, string> = {}) =>
    new Request("http://api.test/v1/users/alice/points", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, idempotency-key, content-type", ...headers },
    });

  test("a preflight from an allowed origin gets methods, headers (incl. Authorization, Idempotency-Key, Last-Event-ID) and max-age", () => {
    const platform = createPlatform({ logger: false, cors: { origins: ["https://app.example.com"], maxAgeSeconds: 300 } });
    const response = platform.preflight(preflight("https://app.example.com"))!;
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-methods")).toContain("DELETE");
    for (const header of ["Authorization", "Idempotency-Key", "Last-Event-ID", "Content-Type"]) expect(response.headers.get("access-control-allow-headers")).toContain(header);
    expect(response.headers.get("access-control-max-age")).toBe("300");
    expect(response.headers.get("vary")).toContain("Origin");
    expect(response.headers.has("access-control-allow-credentials")).toBe(false);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("a preflight from another origin gets no allow headers; a non-preflight is not one", () => {
    const platform = createPlatform({ logger: false, cors: { origins: ["https://app.example.com"] } });
    const response = platform.preflight(preflight("https://evil.example"))!;
    expect(response.status).toBe(204);
    expect(response.headers.has("access-control-allow-origin")).toBe(false);
    expect(platform.preflight(get({ origin: "https://app.example.com" }))).toBeNull();
    expect(platform.preflight(new Request("http://api.test/x", { method: "OPTIONS" }))).toBeNull();
  });

  test("actual responses carry the allowed origin and expose the rate-limit and request-id headers", () => {
    const platform = createPlatform({ logger: false, cors: { origins: ["https://app.example.com"] } });
    const ok = platform.finish(get({ origin: "https://app.example.com" }), json(1)).headers;
    expect(ok.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.get("access-control-expose-headers")).toContain("RateLimit-Remaining");
    expect(ok.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect(ok.get("vary")).toContain("Origin");
    const other = platform.finish(get({ origin: "https://evil.example" }), json(1)).headers;
    expect(other.has("access-control-allow-origin")).toBe(false);
  });

  test('"*" allows any origin; with credentials it echoes the origin instead', () => {
    const open = createPlatform({ logger: false, cors: { origins: "*" } });
    expect(open.preflight(preflight("https://a.example"))!.headers.get("access-control-allow-origin")).toBe("*");
    expect(open.finish(get({ origin: "https://b.example" }), json(1)).headers.get("access-control-allow-origin")).toBe("*");
    const withCredentials = createPlatform({ logger: false, cors: { origins: "*", credentials: true } });
    const response = withCredentials.preflight(preflight("https://a.example"))!;
    expect(response.headers.get("access-control-allow-origin")).toBe("https://a.example");
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(withCredentials.finish(get({ origin: "https://b.example" }), json(1)).headers.get("access-control-allow-credentials")).toBe("true");
  });

  test("CORS off answers no preflight; bad origins are refused at startup", () => {
    expect(createPlatform({ logger: false }).preflight(preflight("https://a.example"))).toBeNull();
    expect(() => createPlatform({ logger: false, cors: { origins: ["app.example.com"] } })).toThrow(/origin/);
    expect(() => createPlatform({ logger: false, cors: { origins: ["https://app.example.com/path"] } })).toThrow(/bare origin/);
    expect(CORS_REQUEST_HEADERS).toContain("X-API-Key");
  });
});

describe("compression", () => {
  test("gzip and deflate per Accept-Encoding, decodable, with Vary and no stale Content-Length", async () => {
    const platform = createPlatform({ logger: false });
    for (const coding of ["gzip", "deflate"] as const) {
      const response = platform.finish(get({ "accept-encoding": coding }), json(big, { headers: { etag: '"v1"' } }));
      expect(response.headers.get("content-encoding")).toBe(coding);
      expect(response.headers.has("content-length")).toBe(false);
      expect(response.headers.get("vary")).toContain("Accept-Encoding");
      expect(response.headers.get("etag")).toBe('W/"v1"');
      expect(JSON.parse(await decode(response, coding))).toEqual(big);
    }
  });

  test("small bodies, event streams, no-transform, HEAD and clients that accept nothing stay uncompressed", async () => {
    const platform = createPlatform({ logger: false });
    const gzip = { "accept-encoding": "gzip, deflate, br" };
    expect(platform.finish(get(gzip), json({ status: "ok" })).headers.has("content-encoding")).toBe(false);
    const events = platform.finish(get(gzip), new Response("data: x\n\n".repeat(500), { headers: { "content-type": "text/event-stream" } }));
    expect(events.headers.has("content-encoding")).toBe(false);
    expect(await events.text()).toBe("data: x\n\n".repeat(500));
    expect(platform.finish(get(gzip), json(big, { headers: { "cache-control": "no-transform" } })).headers.has("content-encoding")).toBe(false);
    expect(platform.finish(get(gzip, "HEAD"), json(big)).headers.has("content-encoding")).toBe(false);
    expect(platform.finish(get(), json(big)).headers.has("content-encoding")).toBe(false);
    expect(platform.finish(get({ "accept-encoding": "gzip;q=0, deflate;q=0" }), json(big)).headers.has("content-encoding")).toBe(false);
    expect(platform.finish(get(gzip), new Response(new Uint8Array(5000), { headers: { "content-type": "image/png" } })).headers.has("content-encoding")).toBe(false);
    expect(createPlatform({ logger: false, compression: false }).finish(get(gzip), json(big)).headers.has("content-encoding")).toBe(false);
  });

  test("the threshold is configurable; a body of unknown length is compressed when its type is", async () => {
    const low = createPlatform({ logger: false, compression: { thresholdBytes: 10 } });
    const small = low.finish(get({ "accept-encoding": "gzip" }), json({ status: "ok, compressed" }));
    expect(small.headers.get("content-encoding")).toBe("gzip");
    expect(JSON.parse(await decode(small, "gzip"))).toEqual({ status: "ok, compressed" });
    const stream = createPlatform({ logger: false }).finish(get({ "accept-encoding": "gzip" }), new Response(JSON.stringify(big), { headers: { "content-type": "application/problem+json" } }));
    expect(stream.headers.get("content-encoding")).toBe("gzip");
  });

  test("negotiation follows q-values", () => {
    expect(negotiate("gzip")).toBe("gzip");
    expect(negotiate("deflate, gzip;q=0.5")).toBe("deflate");
    expect(negotiate("gzip;q=0.5, deflate;q=0.5")).toBe("gzip");
    expect(negotiate("*")).toBe("gzip");
    expect(negotiate("br, *;q=0")).toBeUndefined();
    expect(negotiate("identity")).toBeUndefined();
    expect(negotiate("gzip;q=0, *")).toBe("deflate");
    expect(negotiate(null)).toBeUndefined();
  });
});

describe("request ids", () => {
  const route = { id: "leaderboard", method: "GET", path: "/v1/leaderboards/{metric}" };

  test("a sane incoming X-Request-Id is kept and echoed; otherwise one is generated", () => {
    const platform = createPlatform({ logger: false });
    const kept = platform.begin(get({ "x-request-id": "edge-7f3a:42" }), route);
    expect(kept.requestId).toBe("edge-7f3a:42");
    expect(kept.end(json(1)).headers.get("x-request-id")).toBe("edge-7f3a:42");
    for (const bad of ["", "a b", "x".repeat(129), "inject\u0000", "<script>"]) {
      const scope = platform.begin(new Request("http://api.test/", { headers: bad.includes("\u0000") ? {} : { "x-request-id": bad } }), route);
      expect(scope.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    const fresh = platform.begin(get(), route);
    expect(fresh.requestId).not.toBe(platform.begin(get(), route).requestId);
    expect(fresh.end(json(1)).headers.get("x-request-id")).toBe(fresh.requestId);
  });

  test("end() works on a response with immutable headers and only counts once", () => {
    const platform = createPlatform({ logger: false });
    const scope = platform.begin(get(), route);
    const redirect = Response.redirect("http://api.test/docs", 302); // its headers are immutable
    expect(() => redirect.headers.set("x", "y")).toThrow(TypeError);
    const ended = scope.end(redirect);
    expect(ended.status).toBe(302);
    expect(ended.headers.get("location")).toBe("http://api.test/docs");
    expect(ended.headers.get("x-request-id")).toBe(scope.requestId);
    expect(scope.end(json(1)).headers.has("x-request-id")).toBe(false);
  });
});
