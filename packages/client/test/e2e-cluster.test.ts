// Two server instances sharing one real Redis (storage, event bus, rate limits), driven through
// the client: an award on instance A reaches SSE and WebSocket clients connected to instance B.
import { randomUUID } from "node:crypto";
import { findTestServer } from "@gamifykit/adapter-tests";
import type { RunningServer } from "@gamifykit/server";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import { ClientError, createClient, type GamifyEvent } from "../src/index.js";
import { KEYS, jwt, startE2eServer, until } from "./e2e-support.js";

const redisServer = await findTestServer("redis");

describe.runIf(redisServer)("two instances on one Redis", () => {
  const prefix = `gk-e2e-${randomUUID().slice(0, 8)}:`;
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    const env = {
      GAMIFYKIT_STORE: "redis",
      GAMIFYKIT_REDIS_URL: redisServer!.url,
      GAMIFYKIT_REDIS_KEY_PREFIX: prefix,
      GAMIFYKIT_BUS: "redis",
      GAMIFYKIT_BUS_CHANNEL: "events",
      GAMIFYKIT_RATE_LIMIT_STORE: "redis",
      GAMIFYKIT_RATE_LIMIT_USER: "3/30s",
    };
    [a, b] = await Promise.all([startE2eServer(env), startE2eServer(env)]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    const redis = new Redis(redisServer!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    await redis.quit();
    await redisServer?.stop();
  });

  test("an award on A reaches an events() iterator on B, and B reads A's state", async () => {
    const userId = `sse-${randomUUID().slice(0, 8)}`;
    const onA = createClient({ baseUrl: a.url, apiKey: KEYS.admin });
    const onB = createClient({ baseUrl: b.url, apiKey: KEYS.reader });
    const controller = new AbortController();
    const seen: GamifyEvent[] = [];
    const feed = (async () => {
      for await (const event of onB.events({ userId, signal: controller.signal })) seen.push(event);
    })();
    await until(() => (b.realtimeConnections?.sse ?? 0) >= 1, "the SSE stream on B");

    const result = await onA.addPoints(userId, 150, { metric: "xp", reason: "cross-instance" });
    await until(() => seen.some((e) => e.type === "level_up"), "A's level_up on B");
    controller.abort();
    await feed;

    const pointsEvent = seen.find((e) => e.type === "points_added");
    expect(pointsEvent?.id).toBe(result.events.find((e) => e.type === "points_added")?.id);
    expect(seen.every((e) => e.userId === userId)).toBe(true);
    expect((await onB.getUser(userId)).points["xp"]).toBe(150);
    expect(await onB.leaderboard("xp").rank(userId)).toMatchObject({ score: 150 });
  });

  test("an award on A reaches a WebSocket on B (Authorization header, and ?access_token= for a user token)", async () => {
    const userId = `ws-${randomUUID().slice(0, 8)}`;
    const wsUrl = `${b.url.replace(/^http/, "ws")}/v1/ws`;
    const open = (socket: WebSocket) =>
      new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
        socket.once("error", reject);
      });
    const reader = new WebSocket(`${wsUrl}?userId=${userId}`, { headers: { authorization: `Bearer ${KEYS.reader}` } });
    const own = new WebSocket(`${wsUrl}?userId=${userId}&access_token=${jwt({ sub: userId })}`);
    const got = { reader: [] as GamifyEvent[], own: [] as GamifyEvent[] };
    reader.on("message", (data) => got.reader.push(JSON.parse(String(data)) as GamifyEvent));
    own.on("message", (data) => got.own.push(JSON.parse(String(data)) as GamifyEvent));
    await Promise.all([open(reader), open(own)]);
    await until(() => (b.realtimeConnections?.ws ?? 0) >= 2, "two WebSockets on B");

    await createClient({ baseUrl: a.url, apiKey: KEYS.admin }).awardBadge(userId, "explorer");
    await until(() => got.reader.length > 0 && got.own.length > 0, "the badge on both sockets");
    expect(got.reader[0]).toMatchObject({ type: "badge_awarded", userId, badge: "explorer" });
    expect(got.own[0]).toMatchObject({ type: "badge_awarded", userId, badge: "explorer" });

    // A user token may not watch someone else.
    const other = new WebSocket(`${wsUrl}?userId=someone-else&access_token=${jwt({ sub: userId })}`);
    await expect(open(other)).rejects.toThrow("upgrade refused: 403");
    // And nobody without credentials.
    await expect(open(new WebSocket(wsUrl))).rejects.toThrow("upgrade refused: 401");
    reader.close();
    own.close();
  });

  test("rate limits are shared: a user's budget spent across A and B", async () => {
    const userId = `rl-${randomUUID().slice(0, 8)}`;
    await createClient({ baseUrl: a.url, apiKey: KEYS.admin }).addPoints(userId, 1);
    const token = jwt({ sub: userId });
    const onA = createClient({ baseUrl: a.url, token, retries: 0 });
    const onB = createClient({ baseUrl: b.url, token, retries: 0 });
    await onA.getUser(userId);
    await onB.getUser(userId);
    await onA.getUser(userId);
    const error = await onB.getUser(userId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ status: 429, code: "RATE_LIMITED" });
  });

  test("events() survives a restart: it reconnects with Last-Event-ID and gets the award it missed from the log", async () => {
    const userId = `resume-${randomUUID().slice(0, 8)}`;
    const env = { GAMIFYKIT_STORE: "redis", GAMIFYKIT_REDIS_URL: redisServer!.url, GAMIFYKIT_REDIS_KEY_PREFIX: prefix };
    const first = await startE2eServer(env);
    const port = String(first.port);
    const admin = createClient({ baseUrl: first.url, apiKey: KEYS.admin });
    const reconnects: unknown[] = [];
    const iterator = createClient({ baseUrl: first.url, apiKey: KEYS.reader }).events({ userId, onReconnect: (info) => reconnects.push(info) });
    const firstEvent = iterator.next();
    await until(() => (first.realtimeConnections?.sse ?? 0) >= 1, "the stream");
    await admin.addPoints(userId, 1, { reason: "before the restart" });
    expect((await firstEvent).value).toMatchObject({ type: "points_added", userId, reason: "before the restart" });

    await first.close(); // ends the stream; the client waits the server's retry hint
    const second = await startE2eServer({ ...env, GAMIFYKIT_PORT: port });
    try {
      await admin.addPoints(userId, 2, { reason: "while the client was away" });
      const { value } = await iterator.next();
      expect(value).toMatchObject({ type: "points_added", userId, reason: "while the client was away", total: 3 });
      expect(reconnects.length).toBeGreaterThanOrEqual(1);
    } finally {
      await iterator.return();
      await second.close();
    }
  });
});
