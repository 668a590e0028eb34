import assert from "node:assert/strict";
import { afterEach, describe, test } from "vitest";
import { createGamify, levels, memoryStorage, type Gamify, type GamifyEvent } from "@gamifykit/core";
import { expectGamifyError } from "@gamifykit/adapter-tests";
import { createRealtime, matchesFilter, type RealtimeHub, type RealtimeOptions } from "../src/realtime/index.js";
import { Outgoing } from "../src/realtime/outgoing.js";
import { SseClient } from "../src/realtime/sse.js";
import net from "node:net";
import { READER_KEY, SseReader, openDeadWs, openSse, openWs, serveHandler, serveHub, waitFor, type LoopbackServer } from "./realtime-support.js";

/** Everything a test opened, closed after it. */
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(options: RealtimeOptions = {}): Promise<{ gk: Gamify; hub: RealtimeHub; server: LoopbackServer }> {
  const gk = createGamify({ levels: { xp: levels.linear({ step: 100 }) } });
  const hub = createRealtime(gk, { onError: (e) => assert.fail(String(e)), ...options });
  const server = await serveHub(hub);
  cleanup.push(() => gk.close(), () => hub.close(), () => server.close());
  return { gk, hub, server };
}

/** An SSE stream read straight from the hub's Response (no HTTP in between). */
function direct(hub: RealtimeHub, query = "", headers: Record<string, string> = {}): SseReader {
  const response = hub.handleSse(new Request(`http://x/v1/events${query}`, { headers }), Object.fromEntries(new URLSearchParams(query)));
  assert.ok(response.body);
  const reader = new SseReader(response.body);
  cleanup.push(() => reader.cancel());
  return reader;
}

describe("filters", () => {
  const base = { id: "1", userId: "alice", at: 0 };
  const points = { ...base, type: "points_added", metric: "xp", delta: 1, total: 1 } as GamifyEvent;
  test("by user, by leaderboard metric, and both", () => {
    assert.ok(matchesFilter(points, {}));
    assert.ok(matchesFilter(points, { userId: "alice" }));
    assert.ok(!matchesFilter(points, { userId: "bob" }));
    assert.ok(matchesFilter(points, { leaderboard: "xp" }));
    assert.ok(!matchesFilter(points, { leaderboard: "coins" }));
    assert.ok(matchesFilter(points, { userId: "alice", leaderboard: "xp" }));
    assert.ok(!matchesFilter(points, { userId: "bob", leaderboard: "xp" }));
    assert.ok(!matchesFilter({ ...base, type: "badge_awarded", badge: "b" } as GamifyEvent, { leaderboard: "xp" }));
    assert.ok(!matchesFilter({ ...base, type: "action", action: "xp" } as GamifyEvent, { leaderboard: "xp" }));
    assert.ok(matchesFilter({ ...base, type: "level_down", metric: "xp", level: 1, previousLevel: 2 } as GamifyEvent, { leaderboard: "xp" }));
    // Leaderboard event types match by name and their metric field, whatever their other fields.
    for (const type of ["leaderboard_rank_changed", "leaderboard_finished"]) {
      assert.ok(matchesFilter({ ...base, type, metric: "xp" } as unknown as GamifyEvent, { leaderboard: "xp" }));
      assert.ok(!matchesFilter({ ...base, type, metric: "coins" } as unknown as GamifyEvent, { leaderboard: "xp" }));
    }
  });
});

describe("server-sent events", () => {
  test("each event arrives once with its id, type and JSON, after a retry hint; filters by user and by leaderboard", async () => {
    const { gk, hub, server } = await setup({ retryMs: 1234 });
    const all = await openSse(`${server.url}/v1/events`);
    const alice = await openSse(`${server.url}/v1/events?userId=alice`);
    const xp = await openSse(`${server.url}/v1/events?leaderboard=xp`);
    cleanup.push(() => all.close(), () => alice.close(), () => xp.close());
    assert.equal(all.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(all.response.headers.get("cache-control"), "no-cache, no-transform");
    await waitFor(() => hub.connections.sse === 3);

    const r1 = await gk.addPoints("alice", 150, { metric: "xp" }); // points_added + level_up
    const r2 = await gk.addPoints("bob", 5, { metric: "coins" });
    const b = await gk.awardBadge("alice", "first");
    const expected = [...r1.events, ...r2.events, ...b.events];

    await all.waitEvents(expected.length);
    assert.deepEqual(all.events, expected);
    assert.equal(all.retry, 1234);
    assert.deepEqual(
      all.messages.map((m) => [m.id, m.event]),
      expected.map((e) => [e.id, e.type]),
    );
    await alice.waitEvents(3);
    assert.deepEqual(alice.events, [...r1.events, ...b.events]);
    await xp.waitEvents(2);
    assert.deepEqual(xp.events, r1.events);
    // Nothing more arrives (no duplicate of any event).
    await gk.addPoints("carol", 1, { metric: "xp" });
    await xp.waitEvents(3);
    await all.waitEvents(expected.length + 1);
    assert.equal(new Set(all.events.map((e) => e.id)).size, all.events.length);
    assert.equal(alice.events.length, 3);
  });

  test("the engine's leaderboard events reach leaderboard streams of their metric", async () => {
    const gk = createGamify({ leaderboards: [{ metric: "xp", watch: { top: 3 } }, { metric: "coins" }] });
    const hub = createRealtime(gk, { onError: (e) => assert.fail(String(e)) });
    cleanup.push(() => gk.close(), () => hub.close());
    const xp = direct(hub, "?leaderboard=xp");
    const coins = direct(hub, "?leaderboard=coins");
    const r1 = await gk.addPoints("alice", 10, { metric: "xp" });
    const r2 = await gk.addPoints("bob", 20, { metric: "xp" });
    await gk.addPoints("bob", 5, { metric: "coins" });
    await xp.until(() => xp.events.filter((e) => e.type === "leaderboard_rank_changed").length >= 3, 3000, "three rank changes");
    const changes = xp.events.filter((e) => e.type === "leaderboard_rank_changed");
    // alice enters at 1; bob enters at 1 and pushes alice to 2.
    assert.deepEqual(
      changes.map((e) => [e.userId, (e as { rank: number }).rank, (e as { metric: string }).metric]).sort(),
      [
        ["alice", 1, "xp"],
        ["alice", 2, "xp"],
        ["bob", 1, "xp"],
      ],
    );
    assert.ok(xp.events.some((e) => e.id === r1.events[0]!.id) && xp.events.some((e) => e.id === r2.events[0]!.id));
    await coins.waitEvents(1);
    assert.deepEqual(
      coins.events.map((e) => e.type),
      ["points_added"],
    );
  });

  test("heartbeats are comment lines sent while the stream is idle", async () => {
    const { server } = await setup({ heartbeatMs: 30 });
    const sse = await openSse(`${server.url}/v1/events`);
    cleanup.push(() => sse.close());
    await sse.until(() => sse.comments.filter((c) => c === "ping").length >= 3, 3000, "three heartbeats");
    assert.deepEqual(sse.messages, []);
  });

  test("a client that disconnects is forgotten, also behind the handler and the Node adapter", async () => {
    const { gk, hub, server } = await setup();
    const sse = await openSse(`${server.url}/v1/events`);
    await waitFor(() => hub.connections.sse === 1);
    sse.close();
    await waitFor(() => hub.connections.sse === 0);
    const viaHandler = await serveHandler(gk, hub);
    cleanup.push(() => viaHandler.close());
    const again = await openSse(`${viaHandler.url}/v1/events`, { authorization: `Bearer ${READER_KEY}` });
    const ws = await openWs(`${viaHandler.url.replace("http", "ws")}/v1/ws?access_token=${READER_KEY}`);
    await waitFor(() => hub.connections.sse === 1 && hub.connections.ws === 1);
    again.close();
    ws.socket.close();
    await waitFor(() => hub.connections.sse === 0 && hub.connections.ws === 0);
  });

  test("Last-Event-ID on a user stream replays the user's log after that id, then goes live, without gaps or duplicates", async () => {
    const { gk, hub, server } = await setup();
    const first = await openSse(`${server.url}/v1/events?userId=alice`);
    await waitFor(() => hub.connections.sse === 1);
    for (let i = 0; i < 3; i++) await gk.addPoints("alice", 40, { metric: "xp" });
    await first.waitEvents(4); // 3 awards, one level_up at 120
    first.close();
    const lastSeen = first.events[1]!.id;
    await waitFor(() => hub.connections.sse === 0);

    // Missed while away: more awards (a level_up among them), and another user's award.
    for (let i = 0; i < 3; i++) await gk.addPoints("alice", 50, { metric: "xp" });
    await gk.addPoints("bob", 10);
    // Awards racing the reconnection and its replay.
    const racing = Promise.all(Array.from({ length: 20 }, () => gk.addPoints("alice", 7, { metric: "xp" })));
    const second = await openSse(`${server.url}/v1/events?userId=alice`, { "last-event-id": lastSeen });
    cleanup.push(() => second.close());
    await racing;
    const log = await allEvents(gk, "alice");
    const afterLast = log.slice(log.findIndex((e) => e.id === lastSeen) + 1);
    await second.waitEvents(afterLast.length);
    await gk.addPoints("alice", 1, { metric: "xp" });
    await second.waitEvents(afterLast.length + 1);
    const ids = second.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    assert.deepEqual(new Set(ids.slice(0, afterLast.length)), new Set(afterLast.map((e) => e.id)), "exactly the missed events first");
    // The replayed part (before the racing awards) comes in log order.
    assert.deepEqual(ids.slice(0, 4), afterLast.slice(0, 4).map((e) => e.id));
    assert.ok(!second.messages.some((m) => m.event === "resync"));
  });

  test("Last-Event-ID on other streams replays from the in-memory buffer; an id it no longer holds gets a resync event", async () => {
    const { gk, hub, server } = await setup({ replayBufferSize: 5 });
    const first = await openSse(`${server.url}/v1/events?leaderboard=xp`);
    await waitFor(() => hub.connections.sse === 1);
    await gk.addPoints("alice", 10, { metric: "xp" });
    await first.waitEvents(1);
    first.close();
    const lastSeen = first.events[0]!.id;
    await gk.addPoints("bob", 10, { metric: "xp" });
    await gk.awardBadge("bob", "b1"); // not on the xp board
    await gk.addPoints("carol", 10, { metric: "xp" });

    const resumed = await openSse(`${server.url}/v1/events?leaderboard=xp`, { "last-event-id": lastSeen });
    cleanup.push(() => resumed.close());
    await resumed.waitEvents(2);
    assert.deepEqual(
      resumed.events.map((e) => e.userId),
      ["bob", "carol"],
    );
    // The query parameter works too, for clients that cannot set headers.
    const viaQuery = await openSse(`${server.url}/v1/events?leaderboard=xp&lastEventId=${lastSeen}`);
    cleanup.push(() => viaQuery.close());
    await viaQuery.waitEvents(2);

    // Five more events push the first out of the five-event buffer.
    for (let i = 0; i < 5; i++) await gk.addPoints("dave", 1, { metric: "coins" });
    const tooLate = await openSse(`${server.url}/v1/events?leaderboard=xp`, { "last-event-id": lastSeen });
    cleanup.push(() => tooLate.close());
    await tooLate.until(() => tooLate.messages.some((m) => m.event === "resync"), 3000, "a resync event");
    assert.equal(JSON.parse(tooLate.messages[0]!.data!).lastEventId, lastSeen);
    await gk.addPoints("erin", 1, { metric: "xp" });
    await tooLate.waitEvents(1);
    assert.equal(tooLate.events[0]!.userId, "erin");
  });

  test("a user stream resumes with the events its log does not keep (rank changes) and those this instance never saw", async () => {
    const storage = memoryStorage();
    const leaderboards = [{ metric: "xp", watch: { top: 3 } }];
    const gk = createGamify({ storage, leaderboards });
    // Another engine on the same storage, with no bus: the hub never sees its events.
    const elsewhere = createGamify({ storage, leaderboards });
    const hub = createRealtime(gk, { onError: (e) => assert.fail(String(e)) });
    cleanup.push(() => hub.close(), () => gk.close(), () => elsewhere.close());
    const first = direct(hub, "?userId=alice");
    const r1 = await gk.addPoints("alice", 10, { metric: "coins" });
    await first.waitEvents(1);
    await first.cancel();
    const r2 = await gk.addPoints("alice", 10, { metric: "xp" }); // points_added + leaderboard_rank_changed (not logged)
    const r3 = await elsewhere.addPoints("alice", 1, { metric: "coins" }); // logged, never delivered here
    const resumed = direct(hub, "?userId=alice", { "last-event-id": r1.events[0]!.id });
    await resumed.waitEvents(3);
    assert.deepEqual(
      resumed.events.map((e) => e.type),
      ["points_added", "leaderboard_rank_changed", "points_added"],
    );
    assert.equal(resumed.events[0]!.id, r2.events[0]!.id);
    assert.equal(resumed.events[2]!.id, r3.events[0]!.id);
    const live = await gk.addPoints("alice", 1, { metric: "coins" });
    await resumed.waitEvents(4);
    assert.equal(resumed.events[3]!.id, live.events[0]!.id);
    assert.ok(!resumed.messages.some((m) => m.event === "resync"));
  });

  test("without a buffer, a user stream resumes from the user's log; an id held nowhere gets a resync event", async () => {
    const { gk, hub } = await setup({ replayBufferSize: 0 });
    const r = await gk.addPoints("alice", 1);
    await gk.addPoints("alice", 2);
    const unknown = direct(hub, "?userId=alice", { "last-event-id": "no-such-id" });
    await unknown.until(() => unknown.messages.some((m) => m.event === "resync"), 3000, "a resync event");
    const fromLog = direct(hub, "?userId=alice", { "last-event-id": r.events[0]!.id });
    await fromLog.waitEvents(1);
    assert.equal(fromLog.events[0]!.type, "points_added");
    assert.equal((fromLog.events[0] as { delta: number }).delta, 2);
  });

  test("a reader that stops reading is dropped once more than maxQueuedEvents wait, and its memory released", async () => {
    const { gk, hub } = await setup({ maxQueuedEvents: 5 });
    const reader = direct(hub);
    await reader.until(() => reader.retry !== undefined, 1000, "the retry hint");
    await gk.addPoints("alice", 1);
    await reader.waitEvents(1);
    // Stop reading: five events still fit in the queue...
    for (let i = 0; i < 5; i++) await gk.addPoints("alice", 1);
    assert.equal(hub.connections.sse, 1);
    // ...the sixth is one too many.
    await gk.addPoints("alice", 1);
    assert.equal(hub.connections.sse, 0);
    await reader.end();
    assert.equal((reader.error as { code?: string }).code, "CLOSED");
  });

  test("over HTTP, through the handler and the Node adapter, a client that stops reading its socket is dropped", async () => {
    const gk = createGamify();
    const hub = createRealtime(gk, { maxQueuedEvents: 10 });
    const server = await serveHandler(gk, hub);
    cleanup.push(() => gk.close(), () => hub.close(), () => server.close());
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    cleanup.push(() => void socket.destroy());
    socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${READER_KEY}\r\nAccept: text/event-stream\r\n\r\n`);
    await waitFor(() => hub.connections.sse === 1);
    // Never read: the kernel buffers fill, the adapter stops pulling, the hub's queue fills.
    socket.pause();
    const metadata = { blob: "x".repeat(16_000) };
    let sent = 0;
    while (hub.connections.sse === 1 && sent < 5000) {
      await gk.addPoints("alice", 1, { metadata });
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(hub.connections.sse, 0, `still connected after ${sent} events`);
    assert.ok(sent > 10, "the socket buffers absorbed some events first");
  });

  test("a reader that leaves even a little unread for two heartbeats is dropped", async () => {
    const { gk, hub } = await setup({ heartbeatMs: 20 });
    const reader = direct(hub);
    await reader.until(() => reader.retry !== undefined, 1000, "the retry hint");
    await gk.addPoints("alice", 1);
    await waitFor(() => hub.connections.sse === 0, 2000, () => "the stalled client to be dropped");
    // A client that keeps reading survives many heartbeats.
    const reading = direct(hub);
    await reading.until(() => reading.comments.filter((c) => c === "ping").length >= 6, 3000, "six heartbeats");
    assert.equal(hub.connections.sse, 1);
  });

  test("bad filters, foreign user tokens and a closed hub are refused with typed errors", async () => {
    const { hub } = await setup();
    const request = () => new Request("http://x/v1/events");
    assert.throws(() => hub.handleSse(request(), { userId: "" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => hub.handleSse(request(), { leaderboard: "no spaces" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => hub.handleSse(new Request("http://x", { headers: { "last-event-id": "x".repeat(300) } }), {}), { code: "INVALID_ARGUMENT" });
    const user = { kind: "jwt", role: "user", subject: "alice", userId: "alice" } as const;
    assert.throws(() => hub.handleSse(request(), { userId: "bob" }, user), { code: "PERMISSION_DENIED" });
    assert.throws(() => hub.handleSse(request(), {}, user), { code: "PERMISSION_DENIED" });
    const own = hub.handleSse(request(), { userId: "alice" }, user);
    assert.equal(own.status, 200);
    await own.body?.cancel();
    await hub.close();
    assert.throws(() => hub.handleSse(request(), {}), { code: "CLOSED" });
  });

  test("options are validated", () => {
    const gk = createGamify();
    cleanup.push(() => gk.close());
    assert.throws(() => createRealtime(gk, { heartbeatMs: 0 }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => createRealtime(gk, { maxQueuedEvents: 0 }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => createRealtime(gk, { replayBufferSize: -1 }), { code: "INVALID_ARGUMENT" });
  });
});

describe("SSE replay seam", () => {
  test("an event the replay took from the log is not sent again when its live copy arrives late over the bus", async () => {
    const client = new SseClient({ filter: {}, maxQueuedEvents: 100, retryMs: 1000, maxStalledTicks: 2, onEnd: () => undefined });
    const reader = new SseReader(client.stream);
    cleanup.push(() => reader.cancel());
    const event = (id: string) => ({ id, type: "points_added", userId: "alice", at: 0, metric: "xp", delta: 1, total: 1 }) as GamifyEvent;
    client.beginReplay();
    await client.replay(event("logged"));
    client.endReplay();
    client.push(new Outgoing(event("logged"))); // the bus delivers it after the log did
    client.push(new Outgoing(event("next")));
    await reader.until(() => reader.events.length >= 2);
    assert.deepEqual(
      reader.events.map((e) => e.id),
      ["logged", "next"],
    );
  });
});

describe("WebSocket", () => {
  test("each matching event arrives once as a JSON message; filters by user and by leaderboard", async () => {
    const { gk, hub, server } = await setup();
    const ws = server.url.replace("http", "ws");
    const all = await openWs(`${ws}/v1/ws`);
    const bob = await openWs(`${ws}/v1/ws?userId=bob`);
    const coins = await openWs(`${ws}/v1/ws?leaderboard=coins`);
    cleanup.push(() => all.socket.terminate(), () => bob.socket.terminate(), () => coins.socket.terminate());
    await waitFor(() => hub.connections.ws === 3);
    const r1 = await gk.addPoints("alice", 150, { metric: "xp" });
    const r2 = await gk.addPoints("bob", 5, { metric: "coins" });
    const r3 = await gk.track("bob", "login");
    await all.until(4);
    assert.deepEqual(all.events, [...r1.events, ...r2.events, r3]);
    await bob.until(2);
    assert.deepEqual(bob.events, [...r2.events, r3]);
    await coins.until(1);
    assert.deepEqual(coins.events, r2.events);
  });

  test("pings keep a live peer connected; a peer that does not answer is terminated", async () => {
    // Long enough for a live peer on a busy machine to answer each ping before the next.
    const { hub, server } = await setup({ heartbeatMs: 150 });
    const ws = server.url.replace("http", "ws");
    const live = await openWs(`${ws}/v1/ws`);
    cleanup.push(() => live.socket.terminate());
    let pings = 0;
    live.socket.on("ping", () => pings++);
    const dead = await openDeadWs(`${ws}/v1/ws`);
    cleanup.push(() => void dead.destroy());
    await waitFor(() => hub.connections.ws === 2);
    await waitFor(() => hub.connections.ws === 1, 3000, () => "the dead peer to be terminated");
    await waitFor(() => pings >= 4, 3000, () => "four pings");
    assert.equal(live.socket.readyState, live.socket.OPEN);
  });

  test("a peer that stops reading is terminated once its unsent data exceeds maxBufferedBytes", async () => {
    const { gk, hub, server } = await setup({ maxBufferedBytes: 64 * 1024 });
    const dead = await openDeadWs(`${server.url.replace("http", "ws")}/v1/ws`);
    cleanup.push(() => void dead.destroy());
    await waitFor(() => hub.connections.ws === 1);
    const metadata = { blob: "x".repeat(16_000) };
    let sent = 0;
    // Kernel socket buffers absorb some megabytes first; then the socket's own buffer grows.
    while (hub.connections.ws === 1 && sent < 5000) {
      await gk.addPoints("alice", 1, { metadata });
      sent++;
      // Let the socket write, so the kernel buffers fill as they would in a busy server.
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(hub.connections.ws, 0, `still connected after ${sent} events`);
  });

  test("bad filters are refused with a problem+json HTTP answer", async () => {
    const { server } = await setup();
    await assert.rejects(openWs(`${server.url.replace("http", "ws")}/v1/ws?userId=`), /upgrade refused with 400/);
  });
});

describe("close()", () => {
  test("ends every stream and socket, and stops delivering", async () => {
    const { gk, hub, server } = await setup();
    const sse = await openSse(`${server.url}/v1/events`);
    const ws = await openWs(`${server.url.replace("http", "ws")}/v1/ws`);
    await waitFor(() => hub.connections.sse === 1 && hub.connections.ws === 1);
    await hub.close();
    await sse.end();
    assert.deepEqual(await ws.closed, { code: 1001, reason: "server shutting down" });
    assert.deepEqual(hub.connections, { sse: 0, ws: 0 });
    await gk.addPoints("alice", 1);
    await hub.close();
    await expectGamifyError(Promise.resolve().then(() => hub.handleSse(new Request("http://x"), {})), "CLOSED");
  });
});

async function allEvents(gk: Gamify, userId: string): Promise<GamifyEvent[]> {
  const events: GamifyEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await gk.events(userId, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return events;
}
