import { GamifyError } from "@gamifykit/core";
import { pino, type Logger } from "pino";

/** A role a credential can carry. */
export type Role = "admin" | "reader" | "user";

/** Who is calling. */
export type Principal =
  | { readonly kind: "anonymous" }
  | { readonly kind: "api-key"; readonly id: string; readonly role: "admin" | "reader" }
  | { readonly kind: "jwt"; readonly role: Role; readonly subject: string; readonly userId?: string };

/**
 * What a route needs. "public": no credentials. "reader": admin or reader. "admin": admin only.
 * `{ self: userId }`: admin, reader, or a user token whose userId equals it.
 */
export type Access = "public" | "admin" | "reader" | { readonly self: string };

/** Per-request state handed to routes. */
export interface RequestScope {
  /** From a valid incoming X-Request-Id, or generated. */
  readonly requestId: string;
  /** Set by authenticate(). */
  readonly principal: Principal;
  /** Child logger carrying the request id. */
  readonly log: Logger;
}

/** The route a request matched. `path` is the template, e.g. `/v1/users/{userId}`. */
export interface RouteInfo {
  readonly id: string;
  readonly method: string;
  readonly path: string;
}

/** The platform middleware the router calls; see the HTTP contract for the order. */
export interface Platform {
  /** CORS preflight answer, or null when the request is not a preflight. */
  preflight(request: Request): Response | null;
  /** Starts a request: request id, log child, OTel span, metrics timer. Call end() exactly once. */
  begin(request: Request, route: RouteInfo): RequestScope & { end(response: Response, error?: unknown): Response };
  /** Resolves the caller; throws UNAUTHENTICATED for bad credentials, or for missing ones when auth is configured and access is not "public". */
  authenticate(request: Request, access: Access): Promise<Principal>;
  /** Throws PERMISSION_DENIED (or UNAUTHENTICATED for anonymous) when the principal may not do it. */
  authorize(principal: Principal, access: Access): void;
  /** Takes one token for the caller, or throws RATE_LIMITED; returns the RateLimit-* headers for the success response. */
  rateLimit(request: Request, principal: Principal, clientIp: string | undefined): Promise<Headers>;
  /** Adds security headers, CORS headers and compression to the final response. */
  finish(request: Request, response: Response): Response;
  /** Prometheus text for GET /metrics. */
  metrics(): Promise<Response>;
  /** Releases timers and clients the platform owns. */
  close(): Promise<void>;
}

/** An API key as stored in configuration: never the raw key, only its hash. */
export interface ApiKeyConfig {
  readonly id: string;
  /** `sha256:<hex>` of the raw key; see {@link hashApiKey}. */
  readonly hash: string;
  readonly role: "admin" | "reader";
}

/** JWT verification settings. Exactly one of secret, publicKey or jwksUrl. */
export interface JwtConfig {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** RS256 public key, PEM (SPKI). */
  readonly publicKey?: string;
  /** JWKS endpoint for rotating keys. */
  readonly jwksUrl?: string;
  readonly issuer?: string | readonly string[];
  readonly audience?: string | readonly string[];
  /** Claim holding the role; default "role". */
  readonly roleClaim?: string;
  /** Claim holding the user id; default "sub". */
  readonly userClaim?: string;
  /** Seconds of clock skew to accept on exp/nbf; default 5. */
  readonly clockToleranceSeconds?: number;
}

/** Authentication settings. */
export interface AuthOptions {
  readonly apiKeys?: readonly ApiKeyConfig[];
  readonly jwt?: JwtConfig;
}

/** One rate-limit tier: `limit` requests per `windowMs`. */
export interface RateLimitTier {
  readonly limit: number;
  readonly windowMs: number;
}

/** The subset of an ioredis client the Redis limiter uses. */
export interface RedisLike {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Rate-limit settings. A tier left out is unlimited. */
export interface RateLimitOptions {
  readonly store?: "memory" | { readonly redis: RedisLike; readonly prefix?: string };
  readonly tiers: {
    readonly admin?: RateLimitTier;
    readonly reader?: RateLimitTier;
    readonly user?: RateLimitTier;
    readonly anonymous?: RateLimitTier;
  };
  /** Most buckets the memory store keeps; least recently used go first. Default 10 000. */
  readonly maxBuckets?: number;
}

/** CORS settings. */
export interface CorsOptions {
  readonly origins: readonly string[] | "*";
  readonly credentials?: boolean;
  /** Preflight cache, seconds; default 600. */
  readonly maxAgeSeconds?: number;
}

/** Metrics settings. */
export interface MetricsOptions {
  /** A prom-client Registry to register into; default a fresh one per platform. */
  readonly registry?: import("prom-client").Registry;
  /** Also collect prom-client's default process metrics; default false. */
  readonly defaultMetrics?: boolean;
}

/** The auth/rateLimit/cors/logger/metrics/compression fields of createGamifyHandler's options. */
export interface PlatformOptions {
  readonly auth?: AuthOptions | false;
  readonly rateLimit?: RateLimitOptions | false;
  readonly cors?: CorsOptions | false;
  readonly logger?: Logger | false;
  readonly metrics?: MetricsOptions | false;
  readonly compression?: boolean;
}

const REQUEST_ID = /^[\w.:@\-]{1,128}$/;
const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

/** sha256 of a raw API key, hex, prefixed `sha256:` — the form API keys take in configuration. */
export function hashApiKey(raw: string): string {
  // Looked up at call time, not imported, so the module still loads on edge runtimes without node:crypto.
  const nodeCrypto = globalThis.process?.getBuiltinModule?.("node:crypto");
  if (!nodeCrypto) throw new GamifyError("INVALID_ARGUMENT", "hashApiKey needs node:crypto; on other runtimes use hashApiKeyAsync(raw).");
  return `sha256:${nodeCrypto.createHash("sha256").update(raw, "utf8").digest("hex")}`;
}

/** Builds the platform middleware. With every option off it only sets request ids and security headers. */
export function createPlatform(options: PlatformOptions = {}): Platform {
  const logger = options.logger === false ? pino({ level: "silent" }) : (options.logger ?? pino({ level: "info" }));
  return {
    preflight: () => null,
    begin(request, route) {
      const incoming = request.headers.get("x-request-id");
      const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
      const log = logger.child({ reqId: requestId });
      const started = performance.now();
      let ended = false;
      return {
        requestId,
        principal: ANONYMOUS,
        log,
        end(response) {
          if (ended) return response;
          ended = true;
          const headers = new Headers(response.headers);
          headers.set("x-request-id", requestId);
          log.info({ method: route.method, route: route.path, status: response.status, durationMs: performance.now() - started }, "request");
          return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
        },
      };
    },
    async authenticate() {
      if (options.auth) throw new GamifyError("INTERNAL", "Auth is being implemented; leave `auth` unset for now.");
      return ANONYMOUS;
    },
    authorize() {},
    async rateLimit() {
      return new Headers();
    },
    finish(_request, response) {
      const headers = new Headers(response.headers);
      headers.set("x-content-type-options", "nosniff");
      headers.set("x-frame-options", "DENY");
      headers.set("referrer-policy", "no-referrer");
      if (!headers.has("content-security-policy")) headers.set("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    },
    async metrics() {
      return new Response("", { status: 200, headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    },
    async close() {},
  };
}
