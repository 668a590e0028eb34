import { GamifyError } from "@gamifykit/core";
import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { RequestHead } from "../exchange.js";
import type { Access, ApiKeyConfig, AuthOptions, JwtConfig, Principal, Role } from "./types.js";

/** The challenge sent with every 401, so clients know to present a bearer credential. */
export const WWW_AUTHENTICATE = 'Bearer realm="gamifykit"';

const HASH_FORMAT = /^sha256:([0-9a-f]{64})$/;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;
const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const ROLE_RANK: Record<Role, number> = { user: 0, reader: 1, admin: 2 };
const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous" });

/**
 * sha256 of a raw API key, hex, prefixed `sha256:` — the form API keys take in configuration.
 * Synchronous, so it needs `node:crypto` (looked up at call time so this module still loads on edge
 * runtimes); anywhere else use {@link hashApiKeyAsync}.
 *
 * @example
 * hashApiKey("s3cret") // "sha256:4e738ca5…"
 */
export function hashApiKey(raw: string): string {
  const nodeCrypto = globalThis.process?.getBuiltinModule?.("node:crypto");
  if (!nodeCrypto) throw new GamifyError("INVALID_ARGUMENT", "hashApiKey needs node:crypto; on this runtime use `await hashApiKeyAsync(raw)`.");
  return `sha256:${nodeCrypto.createHash("sha256").update(raw, "utf8").digest("hex")}`;
}

/** Like {@link hashApiKey}, through WebCrypto, so it runs on any runtime. */
export async function hashApiKeyAsync(raw: string): Promise<string> {
  return `sha256:${toHex(await sha256(raw))}`;
}

/** Resolves and checks callers. */
export interface Authenticator {
  /** True when any credential type is configured; then non-public routes need credentials. */
  readonly enabled: boolean;
  authenticate(request: RequestHead, access: Access): Promise<Principal>;
  authorize(principal: Principal, access: Access): void;
}

interface StoredKey {
  readonly id: string;
  readonly role: "admin" | "reader";
  readonly digest: Uint8Array;
}

/**
 * Builds the authenticator. API keys are stored as sha256 digests; a presented key is hashed with
 * WebCrypto and compared to every stored digest in constant time, so neither the key nor which
 * entry matched leaks through timing. WebCrypto (not node:crypto) keeps auth working on edge runtimes.
 */
export function createAuthenticator(options: AuthOptions | false | undefined): Authenticator {
  if (!options || (!options.apiKeys?.length && !options.jwt)) {
    return {
      enabled: false,
      authenticate: async () => ANONYMOUS,
      authorize: () => undefined,
    };
  }
  const keys = parseApiKeys(options.apiKeys ?? []);
  const jwt = options.jwt ? jwtVerifier(options.jwt) : undefined;

  async function resolve(credential: Credential): Promise<Principal> {
    if (credential.kind === "bearer" && jwt && JWT_SHAPE.test(credential.value)) return jwt(credential.value);
    if (keys.length === 0) {
      throw unauthenticated(
        credential.kind === "api-key"
          ? "This server takes no API keys. Send a signed JWT in `Authorization: Bearer <token>`."
          : "The bearer token is not a valid JWT. Send a signed JWT in `Authorization: Bearer <token>`.",
      );
    }
    return matchApiKey(keys, credential.value);
  }

  return {
    enabled: true,
    async authenticate(request, access) {
      // Public routes (health, docs, preflight) never look at credentials, so a stale token cannot break them.
      if (access === "public") return ANONYMOUS;
      const credential = readCredential(request);
      if (!credential) throw unauthenticated("This route needs credentials: send `Authorization: Bearer <API key or JWT>` or `X-API-Key: <key>`.");
      return resolve(credential);
    },
    authorize(principal, access) {
      if (access === "public") return;
      if (principal.kind === "anonymous") throw unauthenticated("This route needs credentials: send `Authorization: Bearer <API key or JWT>` or `X-API-Key: <key>`.");
      if (!allows(principal, access)) {
        const need = access === "admin" ? "the admin role" : access === "reader" ? "the reader or admin role" : "the reader or admin role, or a user token for this user";
        throw new GamifyError("PERMISSION_DENIED", `Your credentials do not allow this: it needs ${need}.`, { details: { role: principal.role } });
      }
    },
  };
}

/** Whether an authenticated principal may access a route. */
function allows(principal: Exclude<Principal, { kind: "anonymous" }>, access: Exclude<Access, "public">): boolean {
  if (principal.role === "admin") return true;
  if (access === "admin") return false;
  if (principal.role === "reader") return true;
  if (access === "reader") return false;
  return principal.kind === "jwt" && principal.userId !== undefined && principal.userId === access.self;
}

type Credential = { readonly kind: "bearer" | "api-key"; readonly value: string };

function readCredential(request: RequestHead): Credential | undefined {
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match?.[1]) throw unauthenticated("The Authorization header must be `Bearer <API key or JWT>`.");
    return { kind: "bearer", value: match[1] };
  }
  const apiKey = request.headers.get("x-api-key");
  if (apiKey !== null) return { kind: "api-key", value: apiKey.trim() };
  // Browsers cannot set headers on a WebSocket, so the upgrade request may carry the token in the URL.
  if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
    const token = new URL(request.url).searchParams.get("access_token");
    if (token) return { kind: "bearer", value: token };
  }
  return undefined;
}

function parseApiKeys(configs: readonly ApiKeyConfig[]): StoredKey[] {
  const ids = new Set<string>();
  return configs.map((config, index) => {
    const hex = HASH_FORMAT.exec(config.hash)?.[1];
    if (!hex) {
      throw new GamifyError("INVALID_ARGUMENT", `auth.apiKeys[${index}].hash must be "sha256:<64 hex chars>" (use hashApiKey(rawKey)), never the raw key.`, {
        details: { id: config.id },
      });
    }
    if (config.role !== "admin" && config.role !== "reader") {
      throw new GamifyError("INVALID_ARGUMENT", `auth.apiKeys[${index}].role must be "admin" or "reader".`, { details: { id: config.id } });
    }
    if (!config.id || ids.has(config.id)) {
      throw new GamifyError("INVALID_ARGUMENT", `auth.apiKeys[${index}].id must be a unique, non-empty name (it labels logs and rate limits).`, {
        details: { id: config.id },
      });
    }
    ids.add(config.id);
    return { id: config.id, role: config.role, digest: fromHex(hex) };
  });
}

async function matchApiKey(keys: readonly StoredKey[], raw: string): Promise<Principal> {
  const digest = await sha256(raw);
  let found: StoredKey | undefined;
  // Compare against every key, without stopping at the first match, so timing says nothing about which one matched.
  for (const key of keys) if (constantTimeEqual(digest, key.digest) && !found) found = key;
  if (!found) throw unauthenticated("The API key is not valid. Check the key, or ask an admin for a new one.");
  return { kind: "api-key", id: found.id, role: found.role };
}

/** Compares two byte arrays without branching on their contents. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false; // both are sha256 digests: the length is public
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

function jwtVerifier(config: JwtConfig): (token: string) => Promise<Principal> {
  const sources = [config.secret, config.publicKey, config.jwksUrl].filter((value) => value !== undefined);
  if (sources.length !== 1) throw new GamifyError("INVALID_ARGUMENT", "auth.jwt needs exactly one of `secret` (HS256), `publicKey` (RS256 PEM) or `jwksUrl`.");
  const roleClaim = config.roleClaim ?? "role";
  const userClaim = config.userClaim ?? "sub";
  const clockTolerance = config.clockToleranceSeconds ?? 5;
  const claims = {
    clockTolerance,
    ...(config.issuer === undefined ? {} : { issuer: typeof config.issuer === "string" ? config.issuer : [...config.issuer] }),
    ...(config.audience === undefined ? {} : { audience: typeof config.audience === "string" ? config.audience : [...config.audience] }),
  };

  let verify: (token: string) => Promise<JWTPayload>;
  if (config.secret !== undefined) {
    if (config.secret.length < 32) throw new GamifyError("INVALID_ARGUMENT", "auth.jwt.secret must be at least 32 characters for HS256.");
    const key = new TextEncoder().encode(config.secret);
    verify = async (token) => (await jwtVerify(token, key, { ...claims, algorithms: ["HS256"] })).payload;
  } else if (config.publicKey !== undefined) {
    const pem = config.publicKey.trim();
    // The import is async, so only the shape can be checked at startup; that catches a certificate or private key passed by mistake.
    if (!/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/.test(pem)) {
      throw new GamifyError("INVALID_ARGUMENT", "auth.jwt.publicKey must be a PEM SPKI public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----).");
    }
    let key: ReturnType<typeof importSPKI> | undefined;
    verify = async (token) => {
      key ??= importSPKI(pem, "RS256").catch((cause: unknown) => {
        // A server misconfiguration, not the caller's fault: a 500 that the log explains.
        throw new GamifyError("INTERNAL", "auth.jwt.publicKey could not be imported as an RS256 public key; check the PEM.", { cause });
      });
      return (await jwtVerify(token, await key, { ...claims, algorithms: ["RS256"] })).payload;
    };
  } else {
    let url: URL;
    try {
      url = new URL(config.jwksUrl ?? "");
    } catch (cause) {
      throw new GamifyError("INVALID_ARGUMENT", "auth.jwt.jwksUrl must be an absolute URL.", { cause });
    }
    const jwks: JWTVerifyGetKey = createRemoteJWKSet(url);
    verify = async (token) => (await jwtVerify(token, jwks, { ...claims, algorithms: ASYMMETRIC_ALGORITHMS })).payload;
  }

  return async (token) => {
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (error) {
      if (error instanceof GamifyError) throw error;
      if (config.jwksUrl !== undefined && keySourceFailed(error)) {
        // Our key source is down, not the caller's token: a 503 tells clients to retry rather than re-login.
        throw new GamifyError("STORAGE_UNAVAILABLE", "The JWKS endpoint could not be read to verify the token; try again shortly.", { cause: error });
      }
      throw unauthenticated(describeJwtError(error), error);
    }
    const role = readRole(payload[roleClaim]);
    if (!role) throw unauthenticated(`The token's "${roleClaim}" claim must be "admin", "reader" or "user".`);
    const user = payload[userClaim];
    const userId = typeof user === "string" && user !== "" ? user : undefined;
    const subject = typeof payload.sub === "string" && payload.sub !== "" ? payload.sub : userId;
    if (subject === undefined) throw unauthenticated(`The token needs a "sub" or "${userClaim}" claim.`);
    if (role === "user" && userId === undefined) throw unauthenticated(`A user token needs the user id in its "${userClaim}" claim.`);
    return userId === undefined ? { kind: "jwt", role, subject } : { kind: "jwt", role, subject, userId };
  };
}

/** A role claim may be a string or a list (as identity providers emit); the strongest known role wins; absent means "user". */
function readRole(claim: unknown): Role | undefined {
  if (claim === undefined) return "user";
  const values: unknown[] = Array.isArray(claim) ? claim : [claim];
  let best: Role | undefined;
  for (const value of values) {
    if (value === "admin" || value === "reader" || value === "user") {
      if (best === undefined || ROLE_RANK[value] > ROLE_RANK[best]) best = value;
    }
  }
  return best;
}

function describeJwtError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "The token has expired. Get a new one.";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token's "${error.claim}" claim is not accepted (${error.reason}).`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The token's signature does not verify.";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "The token is signed with an algorithm this server does not accept.";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "No key in the JWKS matches the token's key id.";
  if (error instanceof joseErrors.JWKSInvalid) return "The JWKS holds no usable key for this token.";
  return "The token is not a valid JWT.";
}

/** A JWKS fetch that failed (timeout, network, non-200, bad JSON), as opposed to a bad token. */
function keySourceFailed(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout) return true;
  if (!(error instanceof joseErrors.JOSEError)) return true; // fetch's own TypeError
  return error.code === "ERR_JOSE_GENERIC" && /JSON Web Key Set/.test(error.message);
}

function unauthenticated(message: string, cause?: unknown): GamifyError {
  return new GamifyError("UNAUTHENTICATED", message, {
    details: { wwwAuthenticate: WWW_AUTHENTICATE },
    ...(cause === undefined ? {} : { cause }),
  });
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
