/**
 * Realtime: how fast the hub fans events out to SSE clients in one process, and what the event
 * buses add to a bare publish → receive round trip on Redis and PostgreSQL.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createGamify, type EventBus, type GamifyEvent } from "@gamifykit/core";
import { createRealtime } from "@gamifykit/http";
import { redisEventBus } from "@gamifykit/redis";
import { postgresEventBus } from "@gamifykit/sql";
import { Redis } from "ioredis";
import pg from "pg";
import type { Row } from "./report.js";
import { Skip, serverUrl } from "./servers.js";
import { compare, type Compared } from "./stats.js";

const AREA = "Realtime";

/** An event of a typical size (an award with a little metadata). */
function sampleEvent(i: number): GamifyEvent {
  return { id: randomUUID(), type: "points_added", userId: `user-${i % 1000}`, at: Date.now(), metric: "xp", delta: 10, total: 10 * i, reason: "lesson", metadata: { lesson: i } };
}

/** Reads a stream to its end in the background, counting the SSE events in it (each starts a line with `id: `). */
function countEvents(body: ReadableStream<Uint8Array>, counts: number[], index: number): void {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // The end of the previous chunk, so a marker split across chunks is still found once.
  let tail = "";
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      const text = tail + decoder.decode(value, { stream: true });
      let found = 0;
      for (let at = text.indexOf("\nid: "); at >= 0; at = text.indexOf("\nid: ", at + 1)) found++;
      counts[index] = (counts[index] ?? 0) + found;
      tail = text.slice(-4);
    }
  })();
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deliveries per second from awards to `clients` SSE streams read in the same process, beside the
 * floor: the same awards to `clients` plain listeners that only serialise each event.
 */
async function fanOut(clients: number, awards: number): Promise<Row> {
  const measure = async (withHub: boolean): Promise<number> => {
    const gk = createGamify({ analytics: false });
    const hub = createRealtime(gk, { maxQueuedEvents: awards + 10 });
    const counts: number[] = [];
    let serialised = 0;
    for (let c = 0; c < clients; c++) {
      if (withHub) countEvents(hub.handleSse(new Request("http://bench/v1/events"), {}).body as ReadableStream<Uint8Array>, counts, c);
      else gk.on("*", (event) => void (serialised += JSON.stringify(event).length > 0 ? 1 : 0));
    }
    const start = performance.now();
    for (let i = 0; i < awards; i++) await gk.addPoints(`user-${i % 100}`, 1, { metric: "xp", reason: "lesson" });
    await until(() => (withHub ? counts.reduce((a, b) => a + b, 0) : serialised) >= clients * awards);
    const seconds = (performance.now() - start) / 1000;
    await hub.close();
    await gk.close();
    return (clients * awards) / seconds;
  };
  // Alternate, so load from other processes hits both alike; keep the median of each.
  const hub: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < 3; r++) {
    hub.push(await measure(true));
    bare.push(await measure(false));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number;
  return {
    area: AREA,
    measure: `SSE fan-out, ${awards} awards to ${clients} clients in one process: deliveries`,
    value: median(hub),
    unit: "events/s",
    baseline: { name: "listeners that only JSON.stringify each event", value: median(bare) },
    better: "higher",
    // Each delivery is a stream chunk the client awaits; the floor does no I/O at all.
    target: 0.25,
  };
}

/** Publishes one event and resolves when the other side received it. */
type RoundTrip = (i: number) => Promise<unknown>;

/** Waits for each published id on the receiving side. */
function receiver(): { expect(id: string): Promise<void>; got(id: string): void } {
  const waiting = new Map<string, () => void>();
  return {
    expect: (id) => new Promise<void>((resolve) => waiting.set(id, resolve)),
    got: (id) => {
      waiting.get(id)?.();
      waiting.delete(id);
    },
  };
}

/** Round trip through two buses (publish on one, receive on the other). */
async function busRoundTrip(a: EventBus, b: EventBus & { ready(): Promise<void> }): Promise<RoundTrip> {
  const r = receiver();
  b.subscribe((event) => r.got(event.id));
  await b.ready();
  return async (i) => {
    const event = sampleEvent(i);
    const received = r.expect(event.id);
    await a.publish(event);
    await received;
  };
}

function latencyRows(transport: string, floorName: string, c: Compared): Row[] {
  return (["p50", "p99"] as const).map(
    (p): Row => ({
      area: AREA,
      measure: `${transport}: publish → receive, 1 in flight: ${p} latency`,
      value: c.subject.latency[p],
      unit: "ms",
      baseline: { name: floorName, value: c.floor.latency[p] },
      better: "lower",
    }),
  );
}

async function redisRows(quick: boolean): Promise<Row[]> {
  const url = await serverUrl("redis");
  const channel = `gkbench:${randomBytes(6).toString("hex")}:events`;
  const a = redisEventBus({ url, channel, keyPrefix: "" });
  const b = redisEventBus({ url, channel, keyPrefix: "" });
  const pub = new Redis(url);
  const sub = new Redis(url);
  try {
    const r = receiver();
    sub.on("message", (_channel: string, message: string) => r.got((JSON.parse(message) as { id: string }).id));
    await sub.subscribe(`${channel}:bare`);
    const bare: RoundTrip = async (i) => {
      const event = sampleEvent(i);
      const received = r.expect(event.id);
      await pub.publish(`${channel}:bare`, JSON.stringify(event));
      await received;
    };
    const viaBus = await busRoundTrip(a, b);
    const total = quick ? 100 : 5_000;
    const rows = latencyRows("redisEventBus", "bare ioredis PUBLISH → SUBSCRIBE", await compare(quick ? 1 : 3, total, 1, viaBus, bare));
    const many = await compare(quick ? 1 : 3, total * 2, 64, viaBus, bare);
    rows.push({ area: AREA, measure: "redisEventBus: events through the bus, 64 in flight", value: many.subject.rate, unit: "events/s", baseline: { name: "bare ioredis PUBLISH → SUBSCRIBE", value: many.floor.rate }, better: "higher", target: 0.5 });
    return rows;
  } finally {
    await Promise.all([a.close(), b.close(), pub.quit(), sub.quit()]);
  }
}

async function postgresRows(quick: boolean): Promise<Row[]> {
  const url = await serverUrl("postgres");
  const channel = `gkbench_${randomBytes(6).toString("hex")}`;
  const a = postgresEventBus({ url, channel });
  const b = postgresEventBus({ url, channel });
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const listener = new pg.Client({ connectionString: url });
  try {
    const r = receiver();
    await listener.connect();
    listener.on("notification", (message) => r.got((JSON.parse(message.payload ?? "{}") as { id: string }).id));
    await listener.query(`LISTEN "${channel}_bare"`);
    const bare: RoundTrip = async (i) => {
      const event = sampleEvent(i);
      const received = r.expect(event.id);
      await pool.query("SELECT pg_notify($1, $2)", [`${channel}_bare`, JSON.stringify(event)]);
      await received;
    };
    const viaBus = await busRoundTrip(a, b);
    const total = quick ? 100 : 3_000;
    const rows = latencyRows("postgresEventBus", "bare pg_notify → LISTEN", await compare(quick ? 1 : 3, total, 1, viaBus, bare));
    const many = await compare(quick ? 1 : 3, total * 2, 64, viaBus, bare);
    rows.push({ area: AREA, measure: "postgresEventBus: events through the bus, 64 in flight", value: many.subject.rate, unit: "events/s", baseline: { name: "bare pg_notify → LISTEN (one connection)", value: many.floor.rate }, better: "higher", target: 0.5 });
    return rows;
  } finally {
    await Promise.all([a.close(), b.close(), pool.end(), listener.end()]);
  }
}

/** The realtime area: in-process fan-out always; the buses when their servers answer. */
export async function realtimeBench(quick: boolean): Promise<Row[]> {
  const rows: Row[] = [await fanOut(quick ? 10 : 100, quick ? 100 : 2_000)];
  for (const part of [redisRows, postgresRows]) {
    try {
      rows.push(...(await part(quick)));
    } catch (error) {
      if (!(error instanceof Skip)) throw error;
      console.log(`realtime: ${error.message}`);
    }
  }
  return rows;
}
