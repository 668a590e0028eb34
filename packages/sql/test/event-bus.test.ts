import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, test } from "vitest";
import pg from "pg";
import type { GamifyError, GamifyEvent } from "@gamifykit/core";
import { expectGamifyError, findTestServer } from "@gamifykit/adapter-tests";
import { postgresEventBus } from "../src/index.js";
import { encode } from "../src/event-bus.js";

const server = await findTestServer("postgres");
// Connections of this file carry this application_name, so the checks below count only them.
const applicationName = `gk_bus_test_${randomBytes(4).toString("hex")}`;
const pool = server ? new pg.Pool({ connectionString: server.url, max: 4, application_name: applicationName }) : undefined;
/** The server URL, naming the connections a bus opens itself. */
const namedUrl = () => `${server!.url}?application_name=${applicationName}`;

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

/** A channel no other test or run shares. */
const channel = () => `gk_test_${randomBytes(6).toString("hex")}`;

function event(userId: string, extra: Record<string, unknown> = {}): GamifyEvent {
  return { id: randomUUID(), type: "points_added", userId, at: Date.now(), metric: "xp", delta: 5, total: 5, ...extra } as GamifyEvent;
}

function collect(bus: { subscribe(l: (e: GamifyEvent) => void): () => void }) {
  const seen: GamifyEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  return { seen, until: (n: number) => waitFor(async () => seen.length >= n, 3000, () => `got ${seen.length} of ${n} events`) };
}

describe("postgresEventBus options and framing", () => {
  test("needs exactly one of url and pool, and a plain channel name", () => {
    assert.throws(() => postgresEventBus({} as never), { code: "INVALID_ARGUMENT" });
    assert.throws(() => postgresEventBus({ url: "mysql://x" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => postgresEventBus({ url: "postgres://x/db", channel: 'bad"name' }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => postgresEventBus({ url: "postgres://x/db", channel: "x".repeat(64) }), { code: "INVALID_ARGUMENT" });
  });

  test("every notification is ASCII and under 8000 bytes; small events take one", () => {
    assert.equal(encode("ab", 1, event("u")).length, 1);
    const big = encode("ab", 2, event("u", { metadata: { text: "é✓𝄞".repeat(4000) } }));
    assert.ok(big.length > 1);
    for (const frame of big) {
      assert.ok(Buffer.byteLength(frame) < 8000, `${Buffer.byteLength(frame)} bytes`);
      assert.match(frame, /^[\x20-\x7e]*$/);
    }
  });

  test("ready() fails with STORAGE_UNAVAILABLE when nothing listens, and close() still works", async () => {
    const bus = postgresEventBus({ url: "postgres://postgres@127.0.0.1:1/test", readyTimeoutMs: 300 });
    await expectGamifyError(bus.ready(), "STORAGE_UNAVAILABLE");
    await expectGamifyError(bus.publish(event("u")), "STORAGE_UNAVAILABLE");
    await bus.close();
  });
});

describe.runIf(server)("postgresEventBus on a real PostgreSQL", () => {
  test("an event published on one bus reaches every other bus on the channel, as published, and never echoes", async () => {
    const ch = channel();
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ url: namedUrl(), channel: ch });
    const c = postgresEventBus({ pool: pool!, channel: ch });
    try {
      const atA = collect(a);
      const atB = collect(b);
      const atC = collect(c);
      await Promise.all([a.ready(), b.ready(), c.ready()]);
      const sent = [event("alice", { metadata: { note: "héllo ✓ 𝄞" } }), event("bob")];
      for (const e of sent) await a.publish(e);
      await Promise.all([atB.until(2), atC.until(2)]);
      assert.deepEqual(atB.seen, sent);
      assert.deepEqual(atC.seen, sent);
      await b.publish(event("carol"));
      await atA.until(1);
      await atC.until(3);
      assert.deepEqual(
        atA.seen.map((e) => e.userId),
        ["carol"],
      );
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  test("an event larger than one NOTIFY arrives whole, in order with the events around it", async () => {
    const ch = channel();
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ pool: pool!, channel: ch });
    try {
      const atB = collect(b);
      await b.ready();
      const big = event("alice", { metadata: { text: "x".repeat(16_000), more: "ü".repeat(300) } });
      const sent = [event("before"), big, event("after")];
      for (const e of sent) await a.publish(e);
      await Promise.all(Array.from({ length: 5 }, (_, i) => a.publish(event(`p${i}`, { metadata: { pad: "y".repeat(9000) } }))));
      await atB.until(8);
      assert.deepEqual(atB.seen.slice(0, 3), sent);
      assert.deepEqual(atB.seen.slice(3).map((e) => e.userId).sort(), ["p0", "p1", "p2", "p3", "p4"]);
      await expectGamifyError(a.publish(event("huge", { metadata: { text: "z".repeat(1_100_000) } })), "PAYLOAD_TOO_LARGE");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("concurrent publishes arrive in the order they were made, large ones included", async () => {
    const ch = channel();
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ pool: pool!, channel: ch });
    try {
      const atB = collect(b);
      await b.ready();
      const sent = Array.from({ length: 60 }, (_, i) => event(`u${i}`, i % 7 === 0 ? { metadata: { pad: "q".repeat(10_000) } } : {}));
      await Promise.all(sent.map((e) => a.publish(e)));
      await atB.until(sent.length);
      assert.deepEqual(
        atB.seen.map((e) => e.id),
        sent.map((e) => e.id),
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("notifications that are not events are reported and skipped; channels are separate", async () => {
    const ch = channel();
    const errors: GamifyError[] = [];
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ pool: pool!, channel: ch, onError: (e) => errors.push(e) });
    const other = postgresEventBus({ pool: pool!, channel: channel() });
    try {
      const atB = collect(b);
      const atOther = collect(other);
      await Promise.all([b.ready(), other.ready()]);
      await pool!.query("SELECT pg_notify($1, 'hello')", [ch]);
      await pool!.query("SELECT pg_notify($1, 'ab:1:0:1:{\"id\":1}')", [ch]);
      await a.publish(event("alice"));
      await atB.until(1);
      assert.equal(atOther.seen.length, 0);
      assert.deepEqual(
        errors.map((e) => e.code),
        ["INVALID_ARGUMENT", "INVALID_ARGUMENT"],
      );
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  test("close() ends the listening connection and the pool the bus made, never the host's pool; calls afterwards fail with CLOSED", async () => {
    const ch = channel();
    const hosted = postgresEventBus({ pool: pool!, channel: ch });
    const owned = postgresEventBus({ url: namedUrl(), channel: ch });
    await Promise.all([hosted.ready(), owned.ready()]);
    await owned.publish(event("alice"));
    assert.ok((await listenerCount(ch)) === 2, "one listening connection per bus");
    await Promise.all([hosted.close(), owned.close(), owned.close()]);
    await waitFor(async () => (await listenerCount(ch)) === 0 && (await connectionCount()) <= pool!.totalCount);
    assert.equal((await pool!.query("SELECT 1 AS one")).rows[0].one, 1);
    await expectGamifyError(hosted.publish(event("alice")), "CLOSED");
    assert.throws(() => owned.subscribe(() => undefined), { code: "CLOSED" });
  });

  test("the bus listens again after its connection is terminated", async () => {
    const ch = channel();
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ url: namedUrl(), channel: ch });
    try {
      const atB = collect(b);
      await b.ready();
      const killed = await pool!.query(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE $2",
        [applicationName, `LISTEN "${ch}"`],
      );
      assert.equal(killed.rowCount, 1);
      await waitFor(async () => {
        await a.publish(event("alice"));
        return atB.seen.length > 0;
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** Connections LISTENing on the channel (their last statement was the LISTEN). */
async function listenerCount(ch: string): Promise<number> {
  const r = await pool!.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query = $2", [applicationName, `LISTEN "${ch}"`]);
  return r.rows[0].n as number;
}

async function connectionCount(): Promise<number> {
  const r = await pool!.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [applicationName]);
  return r.rows[0].n as number;
}

async function waitFor(check: () => Promise<boolean>, ms = 5000, what: () => string = () => "condition"): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
