// The configuration reaches createGamifyHandler: prefix, CORS, trustProxy with rate limits,
// metrics auth, body limit, realtime off. Checked over real HTTP against startServer.
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { formatPretty, loadConfig, startServer, type RunningServer } from "../src/index.js";

async function withServer(env: Record<string, string>, run: (server: RunningServer, origin: string) => Promise<void>): Promise<void> {
  const server = await startServer(loadConfig({ GAMIFYKIT_PROFILE: "test", GAMIFYKIT_PORT: "0", GAMIFYKIT_LOG_LEVEL: "silent", ...env }));
  try {
    await run(server, new URL(server.url).origin);
  } finally {
    await server.close();
  }
}

describe("HTTP options from the configuration", () => {
  test("GAMIFYKIT_PREFIX mounts every route under it", async () => {
    await withServer({ GAMIFYKIT_PREFIX: "/api" }, async (server, origin) => {
      expect(server.url).toBe(`${origin}/api`);
      expect((await fetch(`${origin}/api/healthz`)).status).toBe(200);
      expect((await fetch(`${origin}/api/v1/leaderboards/xp`)).status).toBe(200);
      expect((await fetch(`${origin}/healthz`)).status).toBe(404);
    });
  });

  test("GAMIFYKIT_CORS_ORIGINS answers preflights for listed origins only", async () => {
    await withServer({ GAMIFYKIT_CORS_ORIGINS: "https://app.example.com" }, async (server) => {
      const preflight = (origin: string) =>
        fetch(`${server.url}/v1/users/alice/points`, {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
        });
      const allowed = await preflight("https://app.example.com");
      expect(allowed.status).toBeLessThan(300);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect((await preflight("https://evil.example.com")).headers.get("access-control-allow-origin")).toBeNull();
    });
  });

  test("GAMIFYKIT_TRUST_PROXY makes X-Forwarded-For the rate-limit key", async () => {
    await withServer({ GAMIFYKIT_TRUST_PROXY: "true", GAMIFYKIT_RATE_LIMIT_ANONYMOUS: "2/1m" }, async (server) => {
      const get = (ip: string) => fetch(`${server.url}/v1/leaderboards/xp`, { headers: { "x-forwarded-for": ip } });
      expect((await get("203.0.113.1")).status).toBe(200);
      expect((await get("203.0.113.1")).status).toBe(200);
      const limited = await get("203.0.113.1");
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await get("203.0.113.2")).status).toBe(200);
    });
  });

  test("GAMIFYKIT_METRICS_AUTH=false opens /metrics while the API needs credentials", async () => {
    const hash = `sha256:${createHash("sha256").update("k").digest("hex")}`;
    await withServer({ GAMIFYKIT_API_KEYS: `a:admin:${hash}`, GAMIFYKIT_METRICS_AUTH: "false" }, async (server) => {
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await metrics.text()).toMatch(/^process_resident_memory_bytes /m);
      expect((await fetch(`${server.url}/v1/users/alice`)).status).toBe(401);
      expect((await fetch(`${server.url}/v1/leaderboards/xp`, { headers: { "x-api-key": "k" } })).status).toBe(200);
    });
  });

  test("GAMIFYKIT_REALTIME=false turns the feeds off; GAMIFYKIT_BODY_LIMIT bounds bodies", async () => {
    await withServer({ GAMIFYKIT_REALTIME: "false", GAMIFYKIT_BODY_LIMIT: "64" }, async (server) => {
      expect(server.realtimeConnections).toBeUndefined();
      expect((await fetch(`${server.url}/v1/events`)).status).toBe(404);
      const big = await fetch(`${server.url}/v1/users/alice/points`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ amount: 1, reason: "x".repeat(100) }),
      });
      expect(big.status).toBe(413);
    });
  });
});

describe("pretty logs", () => {
  test("one readable line per pino record", () => {
    const line = formatPretty(JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 1, 12, 34, 56, 789), pid: 1, msg: "request", status: 200, route: "/v1/users/{userId}" }));
    expect(line).toBe("12:34:56.789 INFO  request status=200 route=/v1/users/{userId}\n");
    expect(formatPretty("not json")).toBe("not json\n");
  });
});
