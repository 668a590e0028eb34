import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, describe, test } from "vitest";
import pg from "pg";
import type { GamifyError, GamifyEvent } from "@gamifykit/core";
import { eventBusSuite, expectGamifyError, findTestServer } from "@gamifykit/adapter-tests";
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
  // Even buses share the host's pool; odd ones open their own pool and listener from the URL.
  // 16 000 characters take three NOTIFYs; events over about 1 MB are refused.
  eventBusSuite(
    { describe, test },
    {
      channel,
      bus: (ch, index) => (index % 2 === 0 ? postgresEventBus({ pool: pool!, channel: ch }) : postgresEventBus({ url: namedUrl(), channel: ch })),
    },
    { name: "postgres", largeEventChars: 16_000, tooLargeEventChars: 1_100_000 },
  );

  test("notifications that are not events are reported and skipped", async () => {
    const ch = channel();
    const errors: GamifyError[] = [];
    const a = postgresEventBus({ pool: pool!, channel: ch });
    const b = postgresEventBus({ pool: pool!, channel: ch, onError: (e) => errors.push(e) });
    try {
      const atB = collect(b);
      await b.ready();
      await pool!.query("SELECT pg_notify($1, 'hello')", [ch]);
      await pool!.query("SELECT pg_notify($1, 'ab:1:0:1:{\"id\":1}')", [ch]);
      await a.publish(event("alice"));
      await atB.until(1);
      assert.deepEqual(atB.seen.map((e) => e.userId), ["alice"]);
      assert.deepEqual(
        errors.map((e) => e.code),
        ["INVALID_ARGUMENT", "INVALID_ARGUMENT"],
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("close() ends the listening connection and the pool the bus made, never the host's pool", async () => {
    const ch = channel();
    const hosted = postgresEventBus({ pool: pool!, channel: ch });
    const owned = postgresEventBus({ url: namedUrl(), channel: ch });
    await Promise.all([hosted.ready(), owned.ready()]);
    await owned.publish(event("alice"));
    assert.ok((await listenerCount(ch)) === 2, "one listening connection per bus");
    await Promise.all([hosted.close(), owned.close(), owned.close()]);
    await waitFor(async () => (await listenerCount(ch)) === 0 && (await connectionCount()) <= pool!.totalCount);
    assert.equal((await pool!.query("SELECT 1 AS one")).rows[0].one, 1);
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
