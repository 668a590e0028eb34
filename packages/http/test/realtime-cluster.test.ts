/**
 * Two server instances on one shared storage, fanned out through a real event bus: an award made
 * on instance A reaches realtime clients connected to instance B, exactly once.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, levels, type EventBus, type Gamify, type GamifyEvent } from "@gamifykit/core";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisEventBus, redisStores } from "@gamifykit/redis";
import { migrate, postgresEventBus, sqlStores } from "@gamifykit/sql";
import { createRealtime, type RealtimeHub } from "../src/realtime/index.js";
// The SQL package's own test helper drops tables by prefix (pg is its dependency, not ours).
import { openHost } from "../../sql/test/support.js";
import { ADMIN_KEY, READER_KEY, openSse, openWs, serveHandler, waitFor, type LoopbackServer } from "./realtime-support.js";

const redisServer = await findTestServer("redis");
const postgresServer = await findTestServer("postgres");

/** One application instance: its engine, bus, hub and HTTP server. */
interface Instance {
  readonly gk: Gamify;
  readonly bus: EventBus;
  readonly hub: RealtimeHub;
  readonly server: LoopbackServer;
}

/** Makes the engine and bus of one instance, on the shared backend of the current test. */
type Backend = () => { gk: Gamify; bus: EventBus };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function instance(backend: Backend): Promise<Instance> {
  const { gk, bus } = backend();
  const hub = createRealtime(gk, { bus, onError: (e) => assert.fail(String(e)) });
  const server = await serveHandler(gk, hub);
  cleanup.push(
    () => gk.close(),
    () => bus.close(),
    () => hub.close(),
    () => server.close(),
  );
  await hub.ready();
  return { gk, bus, hub, server };
}

const levelsOption = { xp: levels.linear({ step: 100 }) };
/** A watched board: awards to `score` emit leaderboard_rank_changed. */
const leaderboardsOption = [{ metric: "score", watch: { top: 3 } }];

/** Reader credentials: a header for SSE, `?access_token=` for WebSocket (browsers cannot set headers there). */
const auth = { authorization: `Bearer ${READER_KEY}` };
const wsUrl = (i: Instance, query = "") => `${i.server.url.replace("http", "ws")}/v1/ws?access_token=${READER_KEY}${query}`;

/** An award through instance A's HTTP API, as an admin. */
async function award(i: Instance, userId: string, body: Record<string, unknown>): Promise<{ events: GamifyEvent[] }> {
  const response = await fetch(`${i.server.url}/v1/users/${userId}/points`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as { events: GamifyEvent[] };
}

/** The tests every backend runs. */
function clusterTests(backend: () => Promise<Backend>): void {
  test("an award on instance A reaches SSE and WebSocket clients on instance B, and A's own clients, each exactly once", async () => {
    const make = await backend();
    const a = await instance(make);
    const b = await instance(make);
    const sseAll = await openSse(`${b.server.url}/v1/events`, auth);
    const sseAlice = await openSse(`${b.server.url}/v1/events?userId=alice`, auth);
    const sseCoins = await openSse(`${b.server.url}/v1/events?leaderboard=coins`, auth);
    const sseOnA = await openSse(`${a.server.url}/v1/events`, auth);
    const wsAll = await openWs(wsUrl(b));
    const wsBob = await openWs(wsUrl(b, "&userId=bob"));
    cleanup.push(() => sseAll.close(), () => sseAlice.close(), () => sseCoins.close(), () => sseOnA.close());
    cleanup.push(() => wsAll.socket.terminate(), () => wsBob.socket.terminate());
    await waitFor(() => b.hub.connections.sse === 3 && b.hub.connections.ws === 2 && a.hub.connections.sse === 1);

    const r1 = await award(a, "alice", { amount: 150, metric: "xp", metadata: { big: "x".repeat(12_000) } }); // + level_up
    const r2 = await award(a, "bob", { amount: 3, metric: "coins" });
    const r3 = await a.gk.awardBadge("bob", "early");
    const all = [...r1.events, ...r2.events, ...r3.events];

    await sseAll.waitEvents(all.length);
    const idsOf = (list: readonly GamifyEvent[]) => list.map((e) => `${e.type}:${e.id}`);
    assert.deepEqual(idsOf(sseAll.events), idsOf(all));
    assert.deepEqual(sseAll.events, all);
    assert.deepEqual(
      sseAll.messages.map((m) => [m.id, m.event]),
      all.map((e) => [e.id, e.type]),
    );
    await wsAll.until(all.length);
    assert.deepEqual(idsOf(wsAll.events), idsOf(all));
    assert.deepEqual(wsAll.events, all);
    await sseAlice.waitEvents(2);
    assert.deepEqual(idsOf(sseAlice.events), idsOf(r1.events));
    await sseCoins.waitEvents(1);
    assert.deepEqual(sseCoins.events, r2.events);
    await wsBob.until(2);
    assert.deepEqual(wsBob.events, [...r2.events, ...r3.events]);
    await sseOnA.waitEvents(all.length);
    assert.deepEqual(idsOf(sseOnA.events), idsOf(all));

    // And back: an award on B reaches A; after it, every stream holds each event once.
    const r4 = await b.gk.addPoints("bob", 1, { metric: "coins" });
    await sseOnA.waitEvents(all.length + 1);
    await sseAll.waitEvents(all.length + 1);
    await wsAll.until(all.length + 1);
    assert.deepEqual(sseOnA.events.at(-1), r4.events[0]);
    for (const ids of [sseAll.events, sseOnA.events, wsAll.events].map((list) => list.map((e) => e.id))) {
      assert.equal(new Set(ids).size, ids.length, "no event twice");
    }
    await sseCoins.waitEvents(2);
    assert.equal(sseCoins.events.length, 2);
    assert.equal(sseAlice.events.length, 2);
  });

  test("a user stream on B resumes with Last-Event-ID from the shared log after awards made on A", async () => {
    const make = await backend();
    const a = await instance(make);
    const b = await instance(make);
    const first = await openSse(`${b.server.url}/v1/events?userId=carol`, auth);
    await waitFor(() => b.hub.connections.sse === 1);
    await a.gk.addPoints("carol", 10);
    await first.waitEvents(1);
    first.close();
    const lastSeen = first.events[0]!.id;
    await waitFor(() => b.hub.connections.sse === 0);
    const missed: GamifyEvent[] = [];
    for (let i = 0; i < 3; i++) missed.push(...(await a.gk.addPoints("carol", 60, { metric: "xp" })).events);

    const resumed = await openSse(`${b.server.url}/v1/events?userId=carol`, { ...auth, "last-event-id": lastSeen });
    cleanup.push(() => resumed.close());
    await resumed.waitEvents(missed.length);
    assert.deepEqual(resumed.events, missed);
    const live = await a.gk.addPoints("carol", 1);
    await resumed.waitEvents(missed.length + 1);
    assert.deepEqual(resumed.events.slice(missed.length), live.events);
  });

  test("leaderboard events made on A reach B's leaderboard streams by their type and metric", async () => {
    const make = await backend();
    const a = await instance(make);
    const b = await instance(make);
    const board = await openSse(`${b.server.url}/v1/events?leaderboard=score`, auth);
    const other = await openSse(`${b.server.url}/v1/events?leaderboard=xp`, auth);
    cleanup.push(() => board.close(), () => other.close());
    await waitFor(() => b.hub.connections.sse === 2);
    const r = await award(a, "dave", { amount: 5, metric: "score" });
    await board.waitEvents(2);
    assert.deepEqual(
      board.events.map((e) => e.type),
      ["points_added", "leaderboard_rank_changed"],
    );
    assert.equal(board.events[0]!.id, r.events[0]!.id);
    assert.deepEqual(
      [board.events[1]!.userId, (board.events[1] as { rank?: number }).rank, (board.events[1] as { metric?: string }).metric],
      ["dave", 1, "score"],
    );
    // Event types matched by name: a board-level event published by any instance, e.g. a finished period.
    const finished = { id: randomUUID(), type: "leaderboard_finished", userId: "#leaderboards", at: Date.now(), metric: "score", period: "week", key: "2026-W48", board: "score/week/2026-W48", start: 0, end: 1, winners: [], count: 0 };
    await a.bus.publish({ ...finished, id: randomUUID(), metric: "coins" } as unknown as GamifyEvent);
    await a.bus.publish(finished as unknown as GamifyEvent);
    await board.waitEvents(3);
    assert.deepEqual(board.events[2], finished);
    await a.gk.addPoints("erin", 1, { metric: "xp" });
    await other.waitEvents(1);
    assert.deepEqual(
      other.events.map((e) => e.type),
      ["points_added"],
    );
  });
}

describe.runIf(redisServer)("two instances on Redis (redisStores + redisEventBus)", () => {
  const url = redisServer?.url ?? "";
  const roots: string[] = [];
  afterAll(async () => {
    const client = new Redis(url);
    for (const root of roots) {
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${root}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== "0");
    }
    await client.quit();
  });
  clusterTests(async () => {
    const keyPrefix = `gk-test:realtime-${randomUUID().slice(0, 8)}:`;
    roots.push(keyPrefix);
    const channel = `events-${randomUUID()}`;
    return () => ({
      gk: createGamify({ ...redisStores({ url, keyPrefix }), levels: levelsOption, leaderboards: leaderboardsOption }),
      bus: redisEventBus({ url, keyPrefix, channel }),
    });
  });
});

describe.runIf(postgresServer)("two instances on PostgreSQL (sqlStores + postgresEventBus)", () => {
  const url = postgresServer?.url ?? "";
  const prefixes: string[] = [];
  afterAll(async () => {
    const host = openHost("postgres", url);
    await host.dropPrefixes(prefixes);
    await host.end();
  });
  clusterTests(async () => {
    const tablePrefix = `gkt_${randomBytes(6).toString("hex")}_`;
    prefixes.push(tablePrefix);
    await migrate({ url, tablePrefix });
    const channel = `gk_test_${randomBytes(6).toString("hex")}`;
    return () => ({
      gk: createGamify({ ...sqlStores({ url, tablePrefix, poolSize: 4 }), levels: levelsOption, leaderboards: leaderboardsOption }),
      bus: postgresEventBus({ url, channel }),
    });
  });
});
