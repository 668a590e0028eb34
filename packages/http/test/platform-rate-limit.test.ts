import { randomUUID } from "node:crypto";
import { findTestServer } from "@gamifykit/adapter-tests";
import { GamifyError } from "@gamifykit/core";
import { Redis } from "ioredis";
import { afterAll, describe, expect, test } from "vitest";
import { createPlatform, memoryRateLimitStore, rateLimitedHeaders, redisRateLimitStore, type Principal, type RedisLike } from "../src/middleware/index.js";

const req = new Request("http://api.test/v1/leaderboards/xp");
const anonymous: Principal = { kind: "anonymous" };
const adminKey: Principal = { kind: "api-key", id: "backend", role: "admin" };
const readerKey: Principal = { kind: "api-key", id: "dashboard", role: "reader" };
const alice: Principal = { kind: "jwt", role: "user", subject: "alice", userId: "alice" };

async function rateLimited(promise: Promise<unknown>): Promise<GamifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GamifyError);
  expect((error as GamifyError).code).toBe("RATE_LIMITED");
  return error as GamifyError;
}

describe("memory rate limits", () => {
  test("the success response carries RateLimit-* headers, and the request over the limit is RATE_LIMITED", async () => {
    const platform = createPlatform({ logger: false, rateLimit: { tiers: { anonymous: { limit: 3, windowMs: 60_000 } } } });
    const first = await platform.rateLimit(req, anonymous, "203.0.113.7");
    expect(Object.fromEntries(first)).toEqual({ "ratelimit-limit": "3", "ratelimit-remaining": "2", "ratelimit-reset": "60", "ratelimit-policy": "3;w=60" });
    expect((await platform.rateLimit(req, anonymous, "203.0.113.7")).get("RateLimit-Remaining")).toBe("1");
    expect((await platform.rateLimit(req, anonymous, "203.0.113.7")).get("RateLimit-Remaining")).toBe("0");
    const error = await rateLimited(platform.rateLimit(req, anonymous, "203.0.113.7"));
    expect(error.details).toMatchObject({ limit: 3, remaining: 0, policy: "3;w=60" });
    expect(error.details["retryAfterSeconds"]).toBeGreaterThanOrEqual(59);
    expect(error.details["resetSeconds"]).toBe(error.details["retryAfterSeconds"]);
    const headers = rateLimitedHeaders(error.details);
    expect(headers.get("Retry-After")).toBe(String(error.details["retryAfterSeconds"]));
    expect(headers.get("RateLimit-Remaining")).toBe("0");
    // Another IP has its own budget.
    expect((await platform.rateLimit(req, anonymous, "203.0.113.8")).get("RateLimit-Remaining")).toBe("2");
  });

  test("budgets are per API key, per JWT subject and per IP, with the tier of the role", async () => {
    const platform = createPlatform({
      logger: false,
      rateLimit: { tiers: { admin: { limit: 5, windowMs: 1000 }, reader: { limit: 2, windowMs: 1000 }, user: { limit: 1, windowMs: 1000 } } },
    });
    for (let i = 0; i < 5; i++) await platform.rateLimit(req, adminKey, "10.0.0.1");
    await rateLimited(platform.rateLimit(req, adminKey, "10.0.0.1"));
    // Same IP, other key: a separate budget.
    expect((await platform.rateLimit(req, readerKey, "10.0.0.1")).get("RateLimit-Limit")).toBe("2");
    await platform.rateLimit(req, readerKey, "10.0.0.2");
    await rateLimited(platform.rateLimit(req, readerKey, "10.0.0.3"));
    expect((await platform.rateLimit(req, alice, undefined)).get("RateLimit-Policy")).toBe("1;w=1");
    await rateLimited(platform.rateLimit(req, alice, "10.0.0.9"));
    // A tier left out is unlimited: no headers.
    expect([...(await platform.rateLimit(req, anonymous, "10.0.0.1"))]).toEqual([]);
  });

  test("a new window starts after windowMs", async () => {
    let now = 1_000_000;
    const store = memoryRateLimitStore({ now: () => now });
    expect(await store.hit("k", 1000)).toEqual({ count: 1, resetMs: 1000 });
    now += 400;
    expect(await store.hit("k", 1000)).toEqual({ count: 2, resetMs: 600 });
    now += 600;
    expect(await store.hit("k", 1000)).toEqual({ count: 1, resetMs: 1000 });
  });

  test("memory stays bounded under many client IPs: least recently used buckets go first", async () => {
    const store = memoryRateLimitStore({ maxBuckets: 1000 });
    await store.hit("anonymous:ip:busy", 60_000);
    for (let i = 0; i < 50_000; i++) {
      await store.hit(`anonymous:ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 60_000);
      // The busy client keeps calling, so it stays recent and keeps its count.
      if (i % 500 === 0) await store.hit("anonymous:ip:busy", 60_000);
      expect(store.size).toBeLessThanOrEqual(1000);
    }
    expect(store.size).toBe(1000);
    expect((await store.hit("anonymous:ip:busy", 60_000)).count).toBe(2 + 100);
    // An IP from the start of the flood was evicted and starts over.
    expect((await store.hit("anonymous:ip:10.0.0.1", 60_000)).count).toBe(1);
  });

  test("bad tiers and bucket caps are refused", () => {
    expect(() => createPlatform({ logger: false, rateLimit: { tiers: { admin: { limit: 0, windowMs: 1000 } } } })).toThrow(/positive integer/);
    expect(() => createPlatform({ logger: false, rateLimit: { tiers: { admin: { limit: 1, windowMs: 1.5 } } } })).toThrow(GamifyError);
    expect(() => createPlatform({ logger: false, rateLimit: { tiers: { owner: { limit: 1, windowMs: 1 } } as never } })).toThrow(/not a tier/);
    expect(() => memoryRateLimitStore({ maxBuckets: 0 })).toThrow(/maxBuckets/);
  });
});

describe("Redis store without a server", () => {
  const unreachable = () => {
    const client = new Redis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined);
    return client;
  };

  test("an unreachable store answers STORAGE_UNAVAILABLE, or lets requests through with failOpen", async () => {
    const client = unreachable();
    try {
      const strict = createPlatform({ logger: false, rateLimit: { store: { redis: client }, tiers: { anonymous: { limit: 1, windowMs: 1000 } } } });
      const error = await strict.rateLimit(req, anonymous, "10.1.1.1").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "STORAGE_UNAVAILABLE" });
      const open = createPlatform({ logger: false, rateLimit: { store: { redis: client }, failOpen: true, tiers: { anonymous: { limit: 1, windowMs: 1000 } } } });
      expect([...(await open.rateLimit(req, anonymous, "10.1.1.1"))]).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});

const server = await findTestServer("redis");
const run = `gk-test:ratelimit-${randomUUID().slice(0, 8)}:`;
const admin = server ? new Redis(server.url) : undefined;

afterAll(async () => {
  if (!admin) return;
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${run}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== "0");
  await admin.quit();
});

/** Wraps a client to count its round trips. */
function counting(client: Redis): { client: RedisLike; calls: () => number } {
  let calls = 0;
  return {
    client: {
      eval: (...args) => {
        calls++;
        return client.eval(...args);
      },
      evalsha: (...args) => {
        calls++;
        return client.evalsha(...args);
      },
    },
    calls: () => calls,
  };
}

describe.runIf(server)("Redis rate limits", () => {
  const prefix = () => `${run}${randomUUID().slice(0, 8)}:`;

  test("counts in Redis with the same headers and 429 as the memory store", async () => {
    const platform = createPlatform({ logger: false, rateLimit: { store: { redis: admin!, prefix: prefix() }, tiers: { reader: { limit: 2, windowMs: 30_000 } } } });
    const first = await platform.rateLimit(req, readerKey, undefined);
    expect(first.get("RateLimit-Remaining")).toBe("1");
    expect(first.get("RateLimit-Reset")).toBe("30");
    expect((await platform.rateLimit(req, readerKey, undefined)).get("RateLimit-Remaining")).toBe("0");
    const error = await rateLimited(platform.rateLimit(req, readerKey, undefined));
    expect(error.details).toMatchObject({ limit: 2, remaining: 0 });
    expect(Number(error.details["retryAfterSeconds"])).toBeGreaterThan(0);
  });

  test("two limiter instances sharing a prefix share one budget", async () => {
    const shared = prefix();
    const second = new Redis(server!.url);
    try {
      const tiers = { anonymous: { limit: 4, windowMs: 30_000 } };
      const a = createPlatform({ logger: false, rateLimit: { store: { redis: admin!, prefix: shared }, tiers } });
      const b = createPlatform({ logger: false, rateLimit: { store: { redis: second, prefix: shared }, tiers } });
      await a.rateLimit(req, anonymous, "198.51.100.1");
      await b.rateLimit(req, anonymous, "198.51.100.1");
      await a.rateLimit(req, anonymous, "198.51.100.1");
      expect((await b.rateLimit(req, anonymous, "198.51.100.1")).get("RateLimit-Remaining")).toBe("0");
      await rateLimited(a.rateLimit(req, anonymous, "198.51.100.1"));
      await rateLimited(b.rateLimit(req, anonymous, "198.51.100.1"));
      // Another IP is untouched in both.
      expect((await b.rateLimit(req, anonymous, "198.51.100.2")).get("RateLimit-Remaining")).toBe("3");
    } finally {
      await second.quit();
    }
  });

  test("one round trip per request, and the window key expires", async () => {
    const keyPrefix = prefix();
    const { client, calls } = counting(admin!);
    const store = redisRateLimitStore({ client, prefix: keyPrefix });
    await store.hit("warm", 5000); // may need EVAL once if the server lacks the script
    const before = calls();
    for (let i = 0; i < 10; i++) await store.hit("anonymous:ip:192.0.2.1", 5000);
    expect(calls() - before).toBe(10);
    expect(await admin!.get(`${keyPrefix}anonymous:ip:192.0.2.1`)).toBe("10");
    const ttl = await admin!.pttl(`${keyPrefix}anonymous:ip:192.0.2.1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  test("a server that has not seen the script gets it by EVAL", async () => {
    const keyPrefix = prefix();
    let noscript = 0;
    const client: RedisLike = {
      eval: (...args) => admin!.eval(...args),
      evalsha: () => {
        noscript++;
        return Promise.reject(new Error("NOSCRIPT No matching script. Please use EVAL."));
      },
    };
    const store = redisRateLimitStore({ client, prefix: keyPrefix });
    expect((await store.hit("k", 5000)).count).toBe(1);
    expect((await store.hit("k", 5000)).count).toBe(2);
    expect(noscript).toBe(2);
  });

  test("an ioredis client fits RedisLike as is", () => {
    const fits: RedisLike = admin!;
    expect(typeof fits.evalsha).toBe("function");
  });
});
