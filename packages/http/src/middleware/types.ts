import type { Logger } from "pino";
import type { Registry } from "prom-client";

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

/** What begin() adds to the scope: the end of the request, and a way to run work inside its span. */
export interface RequestLifecycle {
  /** Records the request's log line, metrics and span end; returns the response with X-Request-Id. Later calls do nothing. */
  end(response: Response, error?: unknown): Response;
  /**
   * Runs `fn` with the request's span as the active OpenTelemetry context, so spans the host's
   * instrumentation opens inside it (database clients, fetch) become its children. Without a
   * registered context manager it just calls `fn`.
   */
  run<T>(fn: () => T): T;
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
  begin(request: Request, route: RouteInfo): RequestScope & RequestLifecycle;
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
  /** "memory" (default, per process) or a Redis client shared by every instance; `prefix` defaults to "gamifykit:ratelimit:". */
  readonly store?: "memory" | { readonly redis: RedisLike; readonly prefix?: string };
  readonly tiers: {
    readonly admin?: RateLimitTier;
    readonly reader?: RateLimitTier;
    readonly user?: RateLimitTier;
    readonly anonymous?: RateLimitTier;
  };
  /** Most buckets the memory store keeps; least recently used go first. Default 10 000. */
  readonly maxBuckets?: number;
  /** When the Redis store fails: false (default) answers 503, true lets the request through and logs a warning. */
  readonly failOpen?: boolean;
}

/** CORS settings. */
export interface CorsOptions {
  readonly origins: readonly string[] | "*";
  readonly credentials?: boolean;
  /** Preflight cache, seconds; default 600. */
  readonly maxAgeSeconds?: number;
}

/** Strict-Transport-Security settings. */
export interface HstsOptions {
  /** Default 15 552 000 (180 days). */
  readonly maxAgeSeconds?: number;
  readonly includeSubDomains?: boolean;
  readonly preload?: boolean;
}

/** Security header settings; every field optional. */
export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security; off by default because it only belongs behind HTTPS. `true` uses the defaults. */
  readonly hsts?: HstsOptions | boolean;
  /** CSP for JSON and other non-HTML responses; default `default-src 'none'; frame-ancestors 'none'`. */
  readonly contentSecurityPolicy?: string;
  /** CSP for HTML responses (the /docs page), which loads its renderer from a CDN. */
  readonly htmlContentSecurityPolicy?: string;
}

/** Metrics settings. */
export interface MetricsOptions {
  /** A prom-client Registry to register into; default a fresh one per platform. */
  readonly registry?: Registry;
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
  /** Compress responses the client accepts gzip/deflate for; default true. */
  readonly compression?: boolean | { readonly thresholdBytes?: number };
  /** Security headers; default on with HSTS off. `false` turns them all off. */
  readonly securityHeaders?: SecurityHeadersOptions | false;
}
