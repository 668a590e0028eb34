import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GamifyError, type GamifyErrorCode } from "@gamifykit/core";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { constantTimeEqual, createPlatform, hashApiKey, hashApiKeyAsync, type Access, type Platform, type Principal } from "../src/middleware/index.js";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
const ADMIN_KEY = "gk_admin_0123456789abcdef";
const READER_KEY = "gk_reader_fedcba9876543210";

function request(headers: Record<string, string> = {}, url = "http://api.test/v1/users/alice"): Request {
  return new Request(url, { headers });
}

async function failure(promise: Promise<unknown>): Promise<GamifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GamifyError);
  return error as GamifyError;
}

function thrown(fn: () => void): GamifyErrorCode | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(GamifyError);
    return (error as GamifyError).code;
  }
}

async function hs256(payload: JWTPayload, options: { expiresIn?: string | number; issuer?: string; audience?: string } = {}): Promise<string> {
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

describe("hashApiKey", () => {
  test("is sha256 hex with a sha256: prefix, the same sync and through WebCrypto", async () => {
    // The FIPS 180-2 test vector for "abc".
    expect(hashApiKey("abc")).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await hashApiKeyAsync("abc")).toBe(hashApiKey("abc"));
    expect(await hashApiKeyAsync("ключ")).toBe(hashApiKey("ключ"));
  });

  test("constantTimeEqual compares whole digests", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false);
  });
});

describe("API keys", () => {
  const platform = createPlatform({
    logger: false,
    auth: {
      apiKeys: [
        { id: "backend", hash: hashApiKey(ADMIN_KEY), role: "admin" },
        { id: "dashboard", hash: hashApiKey(READER_KEY), role: "reader" },
      ],
    },
  });

  test("a key is accepted as a bearer token or in X-API-Key", async () => {
    expect(await platform.authenticate(request({ authorization: `Bearer ${ADMIN_KEY}` }), "admin")).toEqual({ kind: "api-key", id: "backend", role: "admin" });
    expect(await platform.authenticate(request({ "x-api-key": READER_KEY }), "reader")).toEqual({ kind: "api-key", id: "dashboard", role: "reader" });
    expect(await platform.authenticate(request({ authorization: `bearer   ${READER_KEY}` }), "reader")).toMatchObject({ id: "dashboard" });
  });

  test("a wrong, missing or malformed credential is UNAUTHENTICATED with a Bearer challenge", async () => {
    const wrong = await failure(platform.authenticate(request({ authorization: `Bearer ${ADMIN_KEY}x` }), "reader"));
    expect(wrong.code).toBe("UNAUTHENTICATED");
    expect(wrong.details["wwwAuthenticate"]).toMatch(/^Bearer /);
    expect((await failure(platform.authenticate(request({ "x-api-key": "nope" }), "reader"))).code).toBe("UNAUTHENTICATED");
    expect((await failure(platform.authenticate(request(), "reader"))).code).toBe("UNAUTHENTICATED");
    expect((await failure(platform.authenticate(request({ authorization: `Basic ${btoa("a:b")}` }), "reader"))).code).toBe("UNAUTHENTICATED");
    // A raw key pasted where the hash belongs must not work either.
    expect((await failure(platform.authenticate(request({ authorization: `Bearer ${hashApiKey(ADMIN_KEY)}` }), "reader"))).code).toBe("UNAUTHENTICATED");
  });

  test("public routes need no credentials and ignore broken ones", async () => {
    expect(await platform.authenticate(request(), "public")).toEqual({ kind: "anonymous" });
    expect(await platform.authenticate(request({ authorization: "Bearer garbage" }), "public")).toEqual({ kind: "anonymous" });
  });

  test("roles: admin does everything, reader reads, anonymous is UNAUTHENTICATED", () => {
    const admin: Principal = { kind: "api-key", id: "backend", role: "admin" };
    const reader: Principal = { kind: "api-key", id: "dashboard", role: "reader" };
    const cases: [Principal, Access, GamifyErrorCode | undefined][] = [
      [admin, "admin", undefined],
      [admin, "reader", undefined],
      [admin, { self: "alice" }, undefined],
      [reader, "admin", "PERMISSION_DENIED"],
      [reader, "reader", undefined],
      [reader, { self: "alice" }, undefined],
      [{ kind: "anonymous" }, "reader", "UNAUTHENTICATED"],
      [{ kind: "anonymous" }, "admin", "UNAUTHENTICATED"],
      [{ kind: "anonymous" }, "public", undefined],
    ];
    for (const [principal, access, code] of cases) expect(thrown(() => platform.authorize(principal, access)), JSON.stringify([principal, access])).toBe(code);
  });

  test("configuration must hold hashes, known roles and unique ids", () => {
    const build = (apiKeys: { id: string; hash: string; role: "admin" | "reader" }[]) => () => createPlatform({ logger: false, auth: { apiKeys } });
    expect(build([{ id: "a", hash: ADMIN_KEY, role: "admin" }])).toThrow(/sha256:<64 hex chars>/);
    expect(build([{ id: "a", hash: "sha256:abc", role: "admin" }])).toThrow(GamifyError);
    expect(build([{ id: "a", hash: hashApiKey("x"), role: "owner" as "admin" }])).toThrow(/role/);
    expect(
      build([
        { id: "a", hash: hashApiKey("x"), role: "admin" },
        { id: "a", hash: hashApiKey("y"), role: "reader" },
      ]),
    ).toThrow(/unique/);
  });
});

describe("no auth configured", () => {
  const platform = createPlatform({ logger: false });
  test("everyone is anonymous and allowed", async () => {
    expect(await platform.authenticate(request({ authorization: "Bearer whatever" }), "admin")).toEqual({ kind: "anonymous" });
    expect(thrown(() => platform.authorize({ kind: "anonymous" }, "admin"))).toBeUndefined();
    expect(thrown(() => platform.authorize({ kind: "anonymous" }, { self: "bob" }))).toBeUndefined();
  });
});

describe("JWT with HS256", () => {
  const platform = createPlatform({ logger: false, auth: { jwt: { secret: SECRET, issuer: "https://issuer.test", audience: "gamifykit", clockToleranceSeconds: 30 } } });
  const claims = { issuer: "https://issuer.test", audience: "gamifykit", expiresIn: "5m" };

  test("roles come from the role claim; a user token carries its user id", async () => {
    const admin = await hs256({ sub: "ops-1", role: "admin" }, claims);
    expect(await platform.authenticate(request({ authorization: `Bearer ${admin}` }), "admin")).toEqual({ kind: "jwt", role: "admin", subject: "ops-1", userId: "ops-1" });
    const user = await hs256({ sub: "alice" }, claims);
    expect(await platform.authenticate(request({ authorization: `Bearer ${user}` }), { self: "alice" })).toEqual({ kind: "jwt", role: "user", subject: "alice", userId: "alice" });
    // Identity providers often send a list: the strongest known role wins.
    const listed = await hs256({ sub: "svc", role: ["viewer", "reader"] }, claims);
    expect(await platform.authenticate(request({ authorization: `Bearer ${listed}` }), "reader")).toMatchObject({ role: "reader" });
  });

  test("a user token reads only its own user", () => {
    const alice: Principal = { kind: "jwt", role: "user", subject: "alice", userId: "alice" };
    expect(thrown(() => platform.authorize(alice, { self: "alice" }))).toBeUndefined();
    expect(thrown(() => platform.authorize(alice, { self: "bob" }))).toBe("PERMISSION_DENIED");
    expect(thrown(() => platform.authorize(alice, "reader"))).toBe("PERMISSION_DENIED");
    expect(thrown(() => platform.authorize(alice, "admin"))).toBe("PERMISSION_DENIED");
    const reader: Principal = { kind: "jwt", role: "reader", subject: "svc" };
    expect(thrown(() => platform.authorize(reader, { self: "bob" }))).toBeUndefined();
    expect(thrown(() => platform.authorize(reader, "admin"))).toBe("PERMISSION_DENIED");
  });

  test("wrong issuer, audience, signature, expiry or role is UNAUTHENTICATED", async () => {
    const bad = [
      await hs256({ sub: "alice" }, { ...claims, issuer: "https://evil.test" }),
      await hs256({ sub: "alice" }, { ...claims, audience: "other" }),
      await hs256({ sub: "alice" }, { ...claims, expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      await hs256({ sub: "alice", role: "superuser" }, claims),
      await hs256({ role: "admin" }, claims),
      // Flip a character in the middle of the signature: the last one may carry only padding bits.
      tamperSignature(await hs256({ sub: "alice", role: "admin" }, claims)),
      await new SignJWT({ sub: "alice", role: "admin" }).setProtectedHeader({ alg: "HS256" }).setIssuer(claims.issuer).setAudience(claims.audience).sign(new TextEncoder().encode(`${SECRET}-other`)),
    ];
    for (const token of bad) {
      const error = await failure(platform.authenticate(request({ authorization: `Bearer ${token}` }), "reader"));
      expect(error.code, token).toBe("UNAUTHENTICATED");
      expect(error.details["wwwAuthenticate"]).toBeDefined();
    }
  });

  test("clock tolerance accepts a token that expired within it", async () => {
    const justExpired = await hs256({ sub: "alice" }, { ...claims, expiresIn: Math.floor(Date.now() / 1000) - 10 });
    expect(await platform.authenticate(request({ authorization: `Bearer ${justExpired}` }), { self: "alice" })).toMatchObject({ userId: "alice" });
  });

  test("an unsigned (alg none) token is refused", async () => {
    const none = `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${btoa(JSON.stringify({ sub: "alice", role: "admin", iss: claims.issuer, aud: claims.audience })).replace(/=+$/, "")}.`;
    expect((await failure(platform.authenticate(request({ authorization: `Bearer ${none}` }), "admin"))).code).toBe("UNAUTHENTICATED");
  });

  test("a WebSocket upgrade may carry the token as ?access_token; ordinary requests may not", async () => {
    const token = await hs256({ sub: "alice" }, claims);
    const url = `http://api.test/v1/ws?userId=alice&access_token=${token}`;
    expect(await platform.authenticate(request({ upgrade: "websocket" }, url), { self: "alice" })).toMatchObject({ userId: "alice" });
    expect((await failure(platform.authenticate(request({}, url), { self: "alice" }))).code).toBe("UNAUTHENTICATED");
  });

  test("custom role and user claims", async () => {
    const custom = createPlatform({ logger: false, auth: { jwt: { secret: SECRET, roleClaim: "gk_role", userClaim: "uid" } } });
    const token = await hs256({ sub: "auth0|123", uid: "alice", gk_role: "user" });
    expect(await custom.authenticate(request({ authorization: `Bearer ${token}` }), { self: "alice" })).toEqual({
      kind: "jwt",
      role: "user",
      subject: "auth0|123",
      userId: "alice",
    });
    const noUser = await hs256({ sub: "auth0|123", gk_role: "user" });
    expect((await failure(custom.authenticate(request({ authorization: `Bearer ${noUser}` }), { self: "alice" }))).code).toBe("UNAUTHENTICATED");
  });

  test("without API keys configured, a key or an opaque bearer is refused with a hint", async () => {
    const byHeader = await failure(platform.authenticate(request({ "x-api-key": ADMIN_KEY }), "reader"));
    expect(byHeader).toMatchObject({ code: "UNAUTHENTICATED", message: expect.stringMatching(/no API keys/) });
    const opaque = await failure(platform.authenticate(request({ authorization: `Bearer ${ADMIN_KEY}` }), "reader"));
    expect(opaque).toMatchObject({ code: "UNAUTHENTICATED", message: expect.stringMatching(/not a valid JWT/) });
  });

  test("configuration errors are named", () => {
    expect(() => createPlatform({ logger: false, auth: { jwt: { secret: "short" } } })).toThrow(/at least 32/);
    expect(() => createPlatform({ logger: false, auth: { jwt: {} } })).toThrow(/exactly one/);
    expect(() => createPlatform({ logger: false, auth: { jwt: { secret: SECRET, jwksUrl: "https://x.test/jwks" } } })).toThrow(/exactly one/);
    expect(() => createPlatform({ logger: false, auth: { jwt: { jwksUrl: "not a url" } } })).toThrow(/absolute URL/);
  });
});

describe("JWT with RS256 and JWKS", () => {
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let server: Server;
  let jwksUrl: string;
  let jwksRequests = 0;

  beforeAll(async () => {
    keys = await generateKeyPair("RS256", { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    server = createServer((req, res) => {
      jwksRequests++;
      if (req.url === "/.well-known/jwks.json") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const rs256 = (payload: JWTPayload, kid = "k1") => new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid }).setIssuedAt().setExpirationTime("5m").sign(keys.privateKey);

  test("a PEM public key verifies RS256 tokens and refuses HS256 ones", async () => {
    const platform = createPlatform({ logger: false, auth: { jwt: { publicKey: await exportSPKI(keys.publicKey) } } });
    expect(await platform.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "bob", role: "reader" })}` }), "reader")).toMatchObject({ role: "reader", subject: "bob" });
    expect((await failure(platform.authenticate(request({ authorization: `Bearer ${await hs256({ sub: "bob", role: "admin" })}` }), "admin"))).code).toBe("UNAUTHENTICATED");
  });

  test("a bad PEM is a configuration error: refused at startup when it is not a public key, INTERNAL when it does not import", async () => {
    expect(() => createPlatform({ logger: false, auth: { jwt: { publicKey: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" } } })).toThrow(/PEM SPKI/);
    const platform = createPlatform({ logger: false, auth: { jwt: { publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" } } });
    const error = await failure(platform.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "bob" })}` }), "reader"));
    expect(error.code).toBe("INTERNAL");
  });

  test("a JWKS URL is fetched once and verifies tokens by key id", async () => {
    const platform = createPlatform({ logger: false, auth: { jwt: { jwksUrl: `${jwksUrl}/.well-known/jwks.json` } } });
    const before = jwksRequests;
    expect(await platform.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "carol", role: "admin" })}` }), "admin")).toMatchObject({ role: "admin", subject: "carol" });
    expect(await platform.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "alice" })}` }), { self: "alice" })).toMatchObject({ userId: "alice" });
    expect(jwksRequests - before).toBe(1);
    expect((await failure(platform.authenticate(request({ authorization: `Bearer ${await hs256({ sub: "x", role: "admin" })}` }), "admin"))).code).toBe("UNAUTHENTICATED");
  });

  test("an unreachable or broken JWKS endpoint is STORAGE_UNAVAILABLE (503), not the caller's fault", async () => {
    const broken = createPlatform({ logger: false, auth: { jwt: { jwksUrl: `${jwksUrl}/missing` } } });
    expect((await failure(broken.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "x" })}` }), "reader"))).code).toBe("STORAGE_UNAVAILABLE");
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = createPlatform({ logger: false, auth: { jwt: { jwksUrl: `http://127.0.0.1:${port}/jwks` } } });
    expect((await failure(down.authenticate(request({ authorization: `Bearer ${await rs256({ sub: "x" })}` }), "reader"))).code).toBe("STORAGE_UNAVAILABLE");
  });
});

describe("API keys and JWT together", () => {
  let platform: Platform;
  beforeAll(() => {
    platform = createPlatform({ logger: false, auth: { apiKeys: [{ id: "backend", hash: hashApiKey(ADMIN_KEY), role: "admin" }], jwt: { secret: SECRET } } });
  });

  test("a JWT-shaped bearer is verified as a JWT, anything else as a key", async () => {
    expect(await platform.authenticate(request({ authorization: `Bearer ${ADMIN_KEY}` }), "admin")).toMatchObject({ kind: "api-key" });
    expect(await platform.authenticate(request({ authorization: `Bearer ${await hs256({ sub: "alice" })}` }), { self: "alice" })).toMatchObject({ kind: "jwt" });
  });
});

/** The token with one signature character changed where all six of its bits count. */
function tamperSignature(token: string): string {
  const at = token.lastIndexOf(".") + 5;
  return token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
}
