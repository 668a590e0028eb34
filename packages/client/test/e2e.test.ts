// End to end: the real server (startServer, configured like the CLI) on loopback, driven only
// through the client. Every route, every error status the API can produce, auth with API keys and
// JWT roles, rate limits, and the SSE feed.
import type { RunningServer } from "@gamifykit/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ClientError, createClient, type GamifyClient, type GamifyEvent } from "../src/index.js";
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KEYS, jwt, jwtRs256, startE2eServer, until } from "./e2e-support.js";

let server: RunningServer;
let admin: GamifyClient;
let reader: GamifyClient;
const uid = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

/** The ClientError a call rejects with. */
async function failure(call: Promise<unknown>): Promise<ClientError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  return error as ClientError;
}

beforeAll(async () => {
  server = await startE2eServer({ GAMIFYKIT_BODY_LIMIT: "4096" });
  admin = createClient({ baseUrl: server.url, apiKey: KEYS.admin, retries: 0 });
  reader = createClient({ baseUrl: server.url, apiKey: KEYS.reader, retries: 0 });
});
afterAll(async () => {
  await server?.close();
});

describe("system routes", () => {
  test("health, ready, openapi and metrics", async () => {
    const anonymous = createClient({ baseUrl: server.url });
    expect(await anonymous.health()).toEqual({ status: "ok" });
    expect(await anonymous.ready()).toEqual({ status: "ready" });
    const doc = await anonymous.openapi();
    expect(doc["openapi"]).toMatch(/^3\.1/);
    expect(Object.keys(doc["paths"] as object)).toContain("/v1/users/{userId}/points");
    expect(await admin.metrics()).toMatch(/^# (HELP|TYPE) /m);
    expect((await failure(anonymous.metrics())).status).toBe(401);
    expect((await failure(reader.metrics())).status).toBe(403);
  });
});

describe("every user route", () => {
  test("points, levels, badges, rules, actions, history, deletion", async () => {
    const alice = uid("alice");
    const first = await admin.addPoints(alice, 60, { metric: "xp", reason: "lesson", metadata: { lesson: 1 }, idempotencyKey: "lesson-1" });
    expect(first).toMatchObject({ userId: alice, metric: "xp", delta: 60, total: 60, level: 1, replayed: false });
    const replay = await admin.addPoints(alice, 60, { metric: "xp", idempotencyKey: "lesson-1" });
    expect(replay).toMatchObject({ total: 60, replayed: true });

    const second = await admin.addPoints(alice, 50, { metric: "xp", at: new Date().toISOString() });
    expect(second).toMatchObject({ total: 110, previousTotal: 60, level: 2, previousLevel: 1 });
    expect(second.events.map((e) => e.type)).toEqual(expect.arrayContaining(["points_added", "level_up"]));

    const removed = await admin.removePoints(alice, 500, { metric: "coins" });
    expect(removed).toMatchObject({ metric: "coins", delta: 0, total: 0 }); // the floor clamps
    expect((await admin.removePoints(alice, 10, { metric: "xp" })).total).toBe(100);

    expect(await admin.awardBadge(alice, "early-bird", { reason: "signup" })).toMatchObject({ userId: alice, badge: "early-bird", awarded: true });
    expect((await admin.awardBadge(alice, "early-bird")).awarded).toBe(false);
    expect(await admin.revokeBadge(alice, "early-bird")).toMatchObject({ badge: "early-bird", revoked: true });
    expect((await admin.revokeBadge(alice, "early-bird")).revoked).toBe(false);

    const action = await admin.track(alice, "login", { metadata: { device: "web" } });
    expect(action).toMatchObject({ type: "action", userId: alice, action: "login" });

    const state = await reader.getUser(alice);
    expect(state.points).toMatchObject({ xp: 100, coins: 0 });
    expect(state.levels["xp"]).toBe(2);
    expect(Object.keys(state.badges)).toEqual(["centurion"]); // the xp-100 rule fired

    const page1 = await reader.userEvents(alice, { limit: 2 });
    expect(page1.events).toHaveLength(2);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const rest = await reader.userEvents(alice, { cursor: page1.nextCursor as string, limit: 1000 });
    const types = [...page1.events, ...rest.events].map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["points_added", "level_up", "points_removed", "badge_awarded", "badge_revoked", "action"]));

    await admin.deleteUser(alice);
    expect((await failure(reader.getUser(alice))).code).toBe("NOT_FOUND");
    expect((await failure(admin.deleteUser(alice))).status).toBe(404);
  });

  test("batch applies in order, with idempotency keys per award", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const result = await admin.batch([
      { userId: a, amount: 5, metric: "xp" },
      { userId: b, amount: 7, metric: "xp" },
      { userId: a, amount: 2, metric: "xp", type: "remove" },
    ]);
    expect(result.results.map((r) => [r.userId, r.total])).toEqual([
      [a, 5],
      [b, 7],
      [a, 3],
    ]);
    const again = await admin.batch([{ userId: a, amount: 5, metric: "xp", idempotencyKey: "once" }], { idempotencyKey: "ignored" });
    const replayed = await admin.batch([{ userId: a, amount: 5, metric: "xp", idempotencyKey: "once" }]);
    expect(again.results[0]?.replayed).toBe(false);
    expect(replayed.results[0]).toMatchObject({ replayed: true, total: 8 });
  });

  test("leaderboards: top, rank, around, per period and mode", async () => {
    const metric = `m${Math.random().toString(36).slice(2, 8)}`;
    const users = ["u1", "u2", "u3", "u4"].map(uid);
    await admin.batch(users.map((userId, i) => ({ userId, amount: (i + 1) * 10, metric })));
    await admin.addPoints(users[0] as string, 20, { metric }); // u1 ties u3 at 30
    const board = reader.leaderboard(metric);
    const top = await board.top({ limit: 3 });
    expect(top.count).toBe(4);
    expect(top.entries.map((e) => [e.score, e.rank])).toEqual([
      [40, 1],
      [30, 2],
      [30, 2],
    ]);
    expect((await board.top({ mode: "dense", offset: 3, limit: 10 })).entries.map((e) => e.rank)).toEqual([3]);
    expect(await board.rank(users[1] as string)).toMatchObject({ userId: users[1], score: 20, rank: 4 });
    expect(await board.rank("nobody-here")).toBeNull();
    const around = await board.around(users[1] as string, { radius: 1 });
    // 2·radius+1 entries, kept full at the board's end: the last three.
    expect(around.entries.map((e) => e.score)).toEqual([30, 30, 20]);
    expect(around.entries.at(-1)?.userId).toBe(users[1]);

    const xp = uid("weekly");
    await admin.addPoints(xp, 15, { metric: "xp" });
    const week = await reader.leaderboard("xp").top({ period: "week", limit: 1000 });
    expect(week.entries.some((e) => e.userId === xp && e.score === 15)).toBe(true);
    expect(await reader.leaderboard("xp").rank(xp, { period: "week", at: Date.now() })).toMatchObject({ score: 15 });
  });
});

describe("error statuses", () => {
  test("400 INVALID_ARGUMENT with field errors", async () => {
    const error = await failure(admin.addPoints("alice", 0));
    expect(error).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
    expect(error.errors.map((e) => e.path)).toContain("body.amount");
    expect(error.requestId).toEqual(expect.any(String));
    expect((await failure(reader.leaderboard("xp").top({ limit: 5000 }))).status).toBe(400);
    expect((await failure(admin.getUser("bad id with spaces"))).status).toBe(400);
  });

  test("401 without or with wrong credentials, 403 for a reader awarding", async () => {
    const none = await failure(createClient({ baseUrl: server.url }).getUser("alice"));
    expect(none).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect((await failure(createClient({ baseUrl: server.url, apiKey: "wrong" }).getUser("alice"))).code).toBe("UNAUTHENTICATED");
    expect((await failure(createClient({ baseUrl: server.url, token: jwt({ sub: "x" }, "another-secret-another-secret-another") }).getUser("x"))).status).toBe(401);
    expect(await failure(reader.addPoints("alice", 1))).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect((await failure(reader.batch([{ userId: "alice", amount: 1 }]))).status).toBe(403);
  });

  test("404 NOT_FOUND for an unknown user", async () => {
    expect(await failure(reader.getUser(uid("ghost")))).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  test("413 PAYLOAD_TOO_LARGE over GAMIFYKIT_BODY_LIMIT", async () => {
    const error = await failure(admin.addPoints("alice", 1, { metadata: { blob: "x".repeat(5000) } }));
    expect(error).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
  });

  test("415 for a body that is not JSON", async () => {
    // The client always sends JSON; a fetch that relabels the body stands in for a misconfigured proxy.
    const relabel: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("content-type", "text/plain");
      return fetch(input, { ...init, headers });
    };
    const error = await failure(createClient({ baseUrl: server.url, apiKey: KEYS.admin, fetch: relabel, retries: 0 }).addPoints("alice", 1));
    expect(error).toMatchObject({ status: 415, code: "INVALID_ARGUMENT" });
  });

  test("422 OUT_OF_RANGE when a total would leave the safe-integer range", async () => {
    const big = uid("big");
    await admin.addPoints(big, Number.MAX_SAFE_INTEGER, { metric: "coins" });
    expect(await failure(admin.addPoints(big, 1, { metric: "coins" }))).toMatchObject({ status: 422, code: "OUT_OF_RANGE" });
    expect((await reader.getUser(big)).points["coins"]).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe("JWT roles", () => {
  test("admin and reader tokens; a user token reads only its own user", async () => {
    const carol = uid("carol");
    const dave = uid("dave");
    const asAdmin = createClient({ baseUrl: server.url, token: jwt({ sub: "svc", role: "admin" }), retries: 0 });
    const asReader = createClient({ baseUrl: server.url, token: jwt({ sub: "dash", role: "reader" }), retries: 0 });
    const asCarol = createClient({ baseUrl: server.url, token: jwt({ sub: carol }), retries: 0 });
    await asAdmin.addPoints(carol, 20, { metric: "xp" });
    await asAdmin.addPoints(dave, 30, { metric: "xp" });

    expect((await asReader.getUser(dave)).points["xp"]).toBe(30);
    expect((await failure(asReader.addPoints(dave, 1))).status).toBe(403);

    expect((await asCarol.getUser(carol)).points["xp"]).toBe(20);
    expect((await asCarol.userEvents(carol)).events.length).toBeGreaterThan(0);
    expect(await asCarol.leaderboard("xp").rank(carol)).toMatchObject({ userId: carol, score: 20 });
    expect((await asCarol.leaderboard("xp").around(carol, { radius: 1 })).entries.some((e) => e.userId === carol)).toBe(true);
    expect(await failure(asCarol.getUser(dave))).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect((await failure(asCarol.leaderboard("xp").top())).status).toBe(403);
    expect((await failure(asCarol.addPoints(carol, 1))).status).toBe(403);
    expect((await failure(asCarol.events({ userId: dave }).next())).status).toBe(403);
    expect((await failure(asCarol.events().next())).status).toBe(403);
  });
});

describe("JWT with an RS256 public key, issuer and audience", () => {
  test("GAMIFYKIT_JWT_PUBLIC_KEY verifies tokens; a wrong audience or signer is 401", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rs = await startE2eServer({
      GAMIFYKIT_JWT_SECRET: "",
      GAMIFYKIT_JWT_PUBLIC_KEY: publicKey.export({ type: "spki", format: "pem" }).toString().trim(),
      GAMIFYKIT_JWT_ISSUER: "https://idp.example.com",
      GAMIFYKIT_JWT_AUDIENCE: "gamifykit",
    });
    try {
      const claims = { sub: "ops", role: "admin", iss: "https://idp.example.com", aud: "gamifykit" };
      const good = createClient({ baseUrl: rs.url, token: jwtRs256(claims, privateKey), retries: 0 });
      expect((await good.addPoints(uid("rs"), 3)).total).toBe(3);
      const wrongAudience = createClient({ baseUrl: rs.url, token: jwtRs256({ ...claims, aud: "other" }, privateKey), retries: 0 });
      expect((await failure(wrongAudience.getUser("x"))).status).toBe(401);
      const wrongKey = createClient({ baseUrl: rs.url, token: jwtRs256(claims, other.privateKey), retries: 0 });
      expect((await failure(wrongKey.getUser("x"))).code).toBe("UNAUTHENTICATED");
      expect((await failure(createClient({ baseUrl: rs.url, token: jwt(claims), retries: 0 }).getUser("x"))).status).toBe(401);
    } finally {
      await rs.close();
    }
  });
});

describe("JWT from a JWKS endpoint", () => {
  test("GAMIFYKIT_JWT_JWKS_URL fetches the identity provider's keys", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), alg: "RS256", use: "sig" }] });
    let fetched = 0;
    const idp = createServer((_req, res) => {
      fetched++;
      res.writeHead(200, { "content-type": "application/json" }).end(jwks);
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    const server = await startE2eServer({ GAMIFYKIT_JWT_SECRET: "", GAMIFYKIT_JWT_JWKS_URL: jwksUrl });
    try {
      const user = uid("jwks");
      await createClient({ baseUrl: server.url, apiKey: KEYS.admin }).addPoints(user, 4);
      const asUser = createClient({ baseUrl: server.url, token: jwtRs256({ sub: user }, privateKey), retries: 0 });
      expect((await asUser.getUser(user)).points["points"]).toBe(4);
      expect(fetched).toBeGreaterThan(0);
      const forged = createClient({ baseUrl: server.url, token: jwtRs256({ sub: user }, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey), retries: 0 });
      expect((await failure(forged.getUser(user))).status).toBe(401);
    } finally {
      await server.close();
      idp.closeAllConnections();
      await new Promise((resolve) => idp.close(resolve));
    }
  });
});

describe("rate limits", () => {
  test("429 with Retry-After once a tier is spent; the client waits it out when allowed to retry", async () => {
    const limited = await startE2eServer({ GAMIFYKIT_RATE_LIMIT_READER: "3/1s" });
    try {
      const strict = createClient({ baseUrl: limited.url, apiKey: KEYS.reader, retries: 0 });
      for (let i = 0; i < 3; i++) await strict.leaderboard("xp").top();
      const error = await failure(strict.leaderboard("xp").top());
      expect(error).toMatchObject({ status: 429, code: "RATE_LIMITED" });
      expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // The admin key has its own budget.
      await createClient({ baseUrl: limited.url, apiKey: KEYS.admin, retries: 0 }).leaderboard("xp").top();
      const patient = createClient({ baseUrl: limited.url, apiKey: KEYS.reader, retries: 2 });
      expect((await patient.leaderboard("xp").top()).board).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});

describe("503 when the storage is down", () => {
  test("ready and reads answer 503 STORAGE_UNAVAILABLE (retried, then thrown)", async () => {
    const down = await startE2eServer({ GAMIFYKIT_STORE: "redis", GAMIFYKIT_REDIS_URL: "redis://127.0.0.1:1", GAMIFYKIT_RATE_LIMIT_STORE: "memory" });
    try {
      const client = createClient({ baseUrl: down.url, apiKey: KEYS.admin, retries: 1 });
      expect(await failure(client.ready({ retries: 0 }))).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
      expect(await failure(client.getUser("alice"))).toMatchObject({ status: 503, code: "STORAGE_UNAVAILABLE" });
      expect(await client.health()).toEqual({ status: "ok" });
    } finally {
      await down.close();
    }
  });
});

describe("realtime over SSE", () => {
  test("events() delivers a user's awards; a leaderboard filter sees only that board's events", async () => {
    const erin = uid("erin");
    const controller = new AbortController();
    const byUser: GamifyEvent[] = [];
    const byBoard: GamifyEvent[] = [];
    const userFeed = (async () => {
      for await (const e of reader.events({ userId: erin, signal: controller.signal })) byUser.push(e);
    })();
    const boardFeed = (async () => {
      for await (const e of reader.events({ leaderboard: "xp", signal: controller.signal })) byBoard.push(e);
    })();
    await until(() => (server.realtimeConnections?.sse ?? 0) >= 2, "two SSE connections");
    await admin.addPoints(erin, 5, { metric: "coins" });
    await admin.addPoints(erin, 120, { metric: "xp" });
    await until(() => byUser.some((e) => e.type === "level_up"), "erin's level_up");
    await until(() => byBoard.some((e) => e.userId === erin && e.type === "points_added"), "the xp award on the board feed");
    controller.abort();
    await Promise.all([userFeed, boardFeed]);
    expect(byUser.every((e) => e.userId === erin)).toBe(true);
    expect(byUser.map((e) => e.type)).toEqual(expect.arrayContaining(["points_added", "level_up", "badge_awarded"]));
    expect(byBoard.some((e) => e.type === "points_added" && "metric" in e && e.metric === "coins")).toBe(false);
  });

  test("a user token follows its own events", async () => {
    const fay = uid("fay");
    const asFay = createClient({ baseUrl: server.url, token: jwt({ sub: fay }) });
    const iterator = asFay.events({ userId: fay });
    const first = iterator.next();
    await until(() => (server.realtimeConnections?.sse ?? 0) >= 1, "fay's stream");
    await admin.track(fay, "login");
    const { value } = await first;
    expect(value).toMatchObject({ type: "action", userId: fay });
    await iterator.return();
  });
});
