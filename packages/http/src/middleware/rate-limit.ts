import { GamifyError } from "@gamifykit/core";
import type { Logger } from "pino";
import type { Principal, RateLimitOptions, RateLimitTier, RedisLike } from "./types.js";

/** The tiers a caller falls into: its role, or "anonymous". */
export type TierName = "admin" | "reader" | "user" | "anonymous";

/** How many requests a key has made in its current window. */
export interface WindowCount {
  /** Requests counted in this window, including the one just taken. */
  readonly count: number;
  /** Milliseconds until the window resets. */
  readonly resetMs: number;
}

/** Where request counts live. One call per request, atomic per key. */
export interface RateLimitStore {
  /** Counts one request for `key` in a fixed window of `windowMs`. */
  hit(key: string, windowMs: number): Promise<WindowCount>;
}

/** Options of {@link memoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /** Most keys kept; beyond it the least recently used key is dropped. Default 10 000. */
  readonly maxBuckets?: number;
  /** Clock in ms; tests pass a fake one. */
  readonly now?: () => number;
}

/** An in-process store with a bounded number of buckets; memory stays flat however many clients call. */
export interface MemoryRateLimitStore extends RateLimitStore {
  /** Buckets held right now (never above maxBuckets). */
  readonly size: number;
}

/**
 * Fixed-window counters in a Map used as an LRU: every hit moves its key to the end, and when the
 * map is over `maxBuckets` the first (least recently used) key goes. Expired windows are replaced
 * in place, so a burst of one-off IPs can never grow memory past the cap.
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  const maxBuckets = options.maxBuckets ?? 10_000;
  if (!Number.isSafeInteger(maxBuckets) || maxBuckets < 1) {
    throw new GamifyError("INVALID_ARGUMENT", "rateLimit.maxBuckets must be a positive integer.", { details: { maxBuckets } });
  }
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { count: number; resetAt: number }>();
  return {
    get size() {
      return buckets.size;
    },
    async hit(key, windowMs) {
      const at = now();
      const current = buckets.get(key);
      buckets.delete(key);
      const bucket = current && current.resetAt > at ? { count: current.count + 1, resetAt: current.resetAt } : { count: 1, resetAt: at + windowMs };
      buckets.set(key, bucket);
      for (const oldest of buckets.keys()) {
        if (buckets.size <= maxBuckets) break;
        buckets.delete(oldest);
      }
      return { count: bucket.count, resetMs: bucket.resetAt - at };
    },
  };
}

// INCR and the first PEXPIRE in one script, so a crash between them cannot leave a key that never expires.
const WINDOW_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** An ioredis client (or anything with eval/evalsha). The caller owns and closes it. */
  readonly client: RedisLike;
  /** Key prefix; default "gamifykit:ratelimit:". Instances sharing a prefix share budgets. */
  readonly prefix?: string;
}

/**
 * Counters in Redis, shared by every server instance: one EVALSHA per request (EVAL once if the
 * server has not seen the script yet).
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions): RateLimitStore {
  const { client } = options;
  const prefix = options.prefix ?? "gamifykit:ratelimit:";
  let sha: Promise<string> | undefined;
  return {
    async hit(key, windowMs) {
      sha ??= sha1Hex(WINDOW_SCRIPT);
      const args = [1, prefix + key, windowMs] as const;
      let reply: unknown;
      try {
        reply = await client.evalsha(await sha, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
        reply = await client.eval(WINDOW_SCRIPT, ...args);
      }
      if (!Array.isArray(reply) || reply.length !== 2) throw new GamifyError("INTERNAL", "The rate-limit script returned an unexpected reply.");
      return { count: Number(reply[0]), resetMs: Number(reply[1]) };
    },
  };
}

/** Checks one request against its tier and returns the RateLimit-* headers, or throws RATE_LIMITED. */
export interface RateLimiter {
  /** Whether a tier limits this principal (when not, take() has nothing to count). */
  applies(principal: Principal): boolean;
  take(principal: Principal, clientIp: string | undefined): Promise<RateHeaders>;
}

/** The RateLimit-* headers of a counted request (lowercase names); empty when no tier applies. */
export type RateHeaders = Readonly<Record<string, string>>;

export const NO_RATE_HEADERS: RateHeaders = Object.freeze({});

/** Builds the limiter the platform calls per request. With no options it allows everything. */
export function createRateLimiter(options: RateLimitOptions | false | undefined, log: Logger): RateLimiter {
  if (!options) return { applies: () => false, take: async () => NO_RATE_HEADERS };
  const tiers = checkTiers(options.tiers);
  const store: RateLimitStore =
    options.store === undefined || options.store === "memory"
      ? memoryRateLimitStore(options.maxBuckets === undefined ? {} : { maxBuckets: options.maxBuckets })
      : redisRateLimitStore({ client: options.store.redis, ...(options.store.prefix === undefined ? {} : { prefix: options.store.prefix }) });

  return {
    applies: (principal) => tiers[tierOf(principal)] !== undefined,
    async take(principal, clientIp) {
      const tierName = tierOf(principal);
      const tier = tiers[tierName];
      if (!tier) return NO_RATE_HEADERS;
      let counted: WindowCount;
      try {
        counted = await store.hit(`${tierName}:${identityOf(principal, clientIp)}`, tier.windowMs);
      } catch (error) {
        if (error instanceof GamifyError) throw error;
        if (options.failOpen) {
          log.warn({ err: error }, "rate-limit store failed; allowing the request (failOpen)");
          return NO_RATE_HEADERS;
        }
        throw new GamifyError("STORAGE_UNAVAILABLE", "The rate-limit store is unreachable; try again shortly.", { cause: error });
      }
      const resetSeconds = Math.max(1, Math.ceil(counted.resetMs / 1000));
      const remaining = Math.max(0, tier.limit - counted.count);
      const policy = `${tier.limit};w=${Math.ceil(tier.windowMs / 1000)}`;
      if (counted.count > tier.limit) {
        throw new GamifyError("RATE_LIMITED", `Too many requests: the ${tierName} tier allows ${tier.limit} per ${policyWindow(tier)}. Retry after ${resetSeconds} s.`, {
          details: { retryAfterSeconds: resetSeconds, limit: tier.limit, remaining: 0, resetSeconds, policy },
        });
      }
      return {
        "ratelimit-limit": String(tier.limit),
        "ratelimit-remaining": String(remaining),
        "ratelimit-reset": String(resetSeconds),
        "ratelimit-policy": policy,
      };
    },
  };
}

/** Headers for a 429 built from a RATE_LIMITED error's details: Retry-After and RateLimit-*. */
export function rateLimitedHeaders(details: Readonly<Record<string, unknown>>): Headers {
  return new Headers(rateLimitedRecord(details));
}

/** {@link rateLimitedHeaders} as a plain object with lowercase names. */
export function rateLimitedRecord(details: Readonly<Record<string, unknown>>): Record<string, string> {
  const headers: Record<string, string> = {};
  const { retryAfterSeconds, limit, resetSeconds, policy } = details;
  if (typeof retryAfterSeconds === "number") headers["retry-after"] = String(retryAfterSeconds);
  if (typeof limit === "number") headers["ratelimit-limit"] = String(limit);
  headers["ratelimit-remaining"] = "0";
  if (typeof resetSeconds === "number") headers["ratelimit-reset"] = String(resetSeconds);
  if (typeof policy === "string") headers["ratelimit-policy"] = policy;
  return headers;
}

function tierOf(principal: Principal): TierName {
  return principal.kind === "anonymous" ? "anonymous" : principal.role;
}

/** Budgets are per API key, per JWT subject, or per client IP for anonymous callers. */
function identityOf(principal: Principal, clientIp: string | undefined): string {
  if (principal.kind === "api-key") return `key:${principal.id}`;
  if (principal.kind === "jwt") return `sub:${principal.subject}`;
  return `ip:${clientIp ?? "unknown"}`;
}

function checkTiers(tiers: RateLimitOptions["tiers"]): Partial<Record<TierName, RateLimitTier>> {
  for (const [name, tier] of Object.entries(tiers)) {
    if (!["admin", "reader", "user", "anonymous"].includes(name)) {
      throw new GamifyError("INVALID_ARGUMENT", `rateLimit.tiers.${name} is not a tier; use admin, reader, user or anonymous.`);
    }
    if (tier === undefined) continue;
    if (!Number.isSafeInteger(tier.limit) || tier.limit < 1 || !Number.isSafeInteger(tier.windowMs) || tier.windowMs < 1) {
      throw new GamifyError("INVALID_ARGUMENT", `rateLimit.tiers.${name} needs a positive integer limit and windowMs.`, { details: { ...tier } });
    }
  }
  return tiers;
}

function policyWindow(tier: RateLimitTier): string {
  return tier.windowMs % 1000 === 0 ? `${tier.windowMs / 1000} s` : `${tier.windowMs} ms`;
}

async function sha1Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
