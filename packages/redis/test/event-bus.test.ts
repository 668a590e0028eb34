import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import type { GamifyError, GamifyEvent } from "@gamifykit/core";
import { eventBusSuite, expectGamifyError, findTestServer } from "@gamifykit/adapter-tests";
import { redisEventBus } from "../src/index.js";

const server = await findTestServer("redis");
// Connections of this file carry this name, so the checks below never count or kill anyone else's.
const connectionName = `gk-bus-test-${randomUUID().slice(0, 8)}`;
const client = server ? new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName }) : undefined;
/** The server URL, naming the connections a bus opens itself. */
const namedUrl = () => `${server!.url}/?connectionName=${connectionName}`;

afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

/** A channel no other test or run shares. */
const channel = () => `events-${randomUUID()}`;
const keyPrefix = "gk-test:bus:";

function event(userId: string, extra: Record<string, unknown> = {}): GamifyEvent {
  return { id: randomUUID(), type: "points_added", userId, at: Date.now(), metric: "xp", delta: 5, total: 5, ...extra } as GamifyEvent;
}

/** Collects what a bus receives, and waits for a count. */
function collect(bus: { subscribe(l: (e: GamifyEvent) => void): () => void }) {
  const seen: GamifyEvent[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  bus.subscribe((e) => {
    seen.push(e);
    if (waiter && seen.length >= waiter.n) waiter.resolve();
  });
  return {
    seen,
    until: (n: number) =>
      seen.length >= n
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => (waiter = { n, resolve })),
            new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`got ${seen.length} of ${n} events`)), 3000)),
          ]),
  };
}

describe("redisEventBus options", () => {
  test("needs exactly one of client and url, and a non-empty channel", () => {
    assert.throws(() => redisEventBus({}), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisEventBus({ url: "http://x" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisEventBus({ url: "redis://127.0.0.1:1", channel: "" }), { code: "INVALID_ARGUMENT" });
  });

  test("ready() fails with STORAGE_UNAVAILABLE when Redis does not answer, and close() still works", async () => {
    const bus = redisEventBus({ url: "redis://127.0.0.1:1", readyTimeoutMs: 300 });
    await expectGamifyError(bus.ready(), "STORAGE_UNAVAILABLE");
    await expectGamifyError(bus.publish(event("u")), "STORAGE_UNAVAILABLE");
    await bus.close();
  });
});

describe.runIf(server)("redisEventBus on a real Redis", () => {
  // Even buses share the host's client; odd ones open their own connections from the URL.
  eventBusSuite(
    { describe, test },
    {
      channel,
      bus: (ch, index) => (index % 2 === 0 ? redisEventBus({ client, channel: ch, keyPrefix }) : redisEventBus({ url: namedUrl(), channel: ch, keyPrefix })),
    },
    { name: "redis" },
  );

  test("the key prefix is part of the channel, and of the bus's name", async () => {
    const ch = channel();
    const a = redisEventBus({ client, channel: ch, keyPrefix });
    const other = redisEventBus({ client, channel: ch, keyPrefix: "gk-test:other:" });
    const same = redisEventBus({ client, channel: ch, keyPrefix });
    try {
      const atOther = collect(other);
      const atSame = collect(same);
      await Promise.all([other.ready(), same.ready()]);
      assert.equal(a.name, `redis:${keyPrefix}${ch}`);
      await a.publish(event("alice"));
      await atSame.until(1);
      assert.equal(atOther.seen.length, 0);
    } finally {
      await Promise.all([a.close(), other.close(), same.close()]);
    }
  });

  test("messages that are not events are reported and skipped", async () => {
    const ch = channel();
    const errors: GamifyError[] = [];
    const a = redisEventBus({ client, channel: ch, keyPrefix });
    const b = redisEventBus({ client, channel: ch, keyPrefix, onError: (e) => errors.push(e) });
    try {
      const kept = collect(b);
      await b.ready();
      await client!.publish(`${keyPrefix}${ch}`, "not json");
      await client!.publish(`${keyPrefix}${ch}`, JSON.stringify({ o: "x", e: { id: 1 } }));
      await a.publish(event("alice"));
      await kept.until(1);
      assert.equal(kept.seen.length, 1);
      assert.deepEqual(
        errors.map((e) => e.code),
        ["INVALID_ARGUMENT", "INVALID_ARGUMENT"],
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("close() ends only the connections the bus created: the host's client stays usable", async () => {
    const ch = channel();
    const hosted = redisEventBus({ client, channel: ch, keyPrefix });
    const owned = redisEventBus({ url: namedUrl(), channel: ch, keyPrefix });
    const before = await clientCount();
    await Promise.all([hosted.ready(), owned.ready()]);
    await owned.publish(event("alice"));
    assert.equal(await clientCount(), before + 3, "a subscriber each, and the owned bus's publisher");
    await Promise.all([hosted.close(), owned.close(), hosted.close()]);
    assert.equal(await client!.ping(), "PONG");
    await waitFor(async () => (await clientCount()) === before);
  });

  test("the subscription survives a dropped connection: the bus subscribes again when it reconnects", async () => {
    const ch = channel();
    const a = redisEventBus({ client, channel: ch, keyPrefix });
    const b = redisEventBus({ url: namedUrl(), channel: ch, keyPrefix });
    try {
      const atB = collect(b);
      await b.ready();
      // Kill b's subscriber connection from the server side.
      const list = await client!.client("LIST");
      const victim = String(list)
        .split("\n")
        .find((line) => line.includes(`name=${connectionName} `) && line.includes(" sub=1 "));
      assert.ok(victim, "b's subscriber is listed");
      await client!.client("KILL", "ID", /id=(\d+)/.exec(victim)![1]!);
      await waitFor(async () => {
        await a.publish(event("alice"));
        return atB.seen.length > 0;
      });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

async function clientCount(): Promise<number> {
  const list = String(await client!.client("LIST"));
  return list.split("\n").filter((line) => line.includes(`name=${connectionName} `)).length;
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}
