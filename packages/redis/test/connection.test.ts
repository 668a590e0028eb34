import assert from "node:assert/strict";
import net from "node:net";
import { afterAll, describe, test } from "vitest";
import { Cluster, Redis } from "ioredis";
import { createGamify, levels } from "@gamifykit/core";
import { expectGamifyError, findTestServer } from "@gamifykit/adapter-tests";
import { defineScript, createConnection } from "../src/connection.js";
import { redisLeaderboards, redisStorage, redisStores } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

/** Nothing listens on port 1: connections are refused at once. */
const CLOSED_PORT = "redis://127.0.0.1:1";

/** Runs `fn` and returns how long it took, in milliseconds. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe("redis adapter without a server", () => {
  test("health() and an award fail with STORAGE_UNAVAILABLE within two seconds when nothing listens", async () => {
    const storage = redisStorage({ url: CLOSED_PORT });
    const gk = createGamify({ storage, analytics: false });
    try {
      assert.ok((await timed(() => expectGamifyError(storage.health(), "STORAGE_UNAVAILABLE"))) < 2000);
      assert.ok((await timed(() => expectGamifyError(gk.addPoints("u", 1), "STORAGE_UNAVAILABLE"))) < 2000);
      const error = await expectGamifyError(storage.getUser("u"), "STORAGE_UNAVAILABLE");
      assert.ok(error.cause instanceof Error, "the driver error is the cause");
    } finally {
      await gk.close();
    }
  });

  test("a host client that never connects cannot make a call hang: commandTimeoutMs bounds it", async () => {
    // No timeouts, unlimited retries: left alone, ioredis would queue these commands forever.
    const client = new Redis(CLOSED_PORT, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    client.on("error", () => undefined);
    const boards = redisLeaderboards({ client, commandTimeoutMs: 300 });
    try {
      const elapsed = await timed(() => expectGamifyError(boards.top("b", { offset: 0, limit: 10, mode: "standard" }), "STORAGE_UNAVAILABLE"));
      assert.ok(elapsed >= 250 && elapsed < 1500, `failed after ${elapsed} ms`);
      await boards.close();
      assert.notEqual(client.status, "end", "close() leaves a host's client alone");
    } finally {
      client.disconnect();
    }
  });

  test("bad options, and Redis Cluster clients, are rejected at construction with INVALID_ARGUMENT", () => {
    assert.throws(() => redisStorage({}), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisStorage({ url: "http://localhost" }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisStorage({ url: CLOSED_PORT, commandTimeoutMs: 0 }), { code: "INVALID_ARGUMENT" });
    assert.throws(() => redisStores({ url: CLOSED_PORT, timeZone: "Mars/Olympus" }), { code: "INVALID_ARGUMENT" });
    const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
    assert.throws(() => redisStorage({ client: cluster as unknown as Redis }), { code: "INVALID_ARGUMENT" });
  });
});

const server = await findTestServer("redis");
const run = runId("conn");
const keyPrefix = prefixer(run);
const admin = server ? new Redis(server.url) : undefined;

afterAll(async () => {
  if (!admin) return;
  await deletePrefix(admin, run);
  await admin.quit();
});

/** A TCP proxy to Redis that the test can cut and restore, to simulate a lost connection. */
async function proxyTo(url: string) {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  let listener: net.Server | undefined;
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const start = () =>
    new Promise<void>((resolve) => {
      listener = net.createServer((downstream) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        for (const s of [downstream, upstream]) {
          sockets.add(s);
          s.on("error", () => undefined);
          s.on("close", () => sockets.delete(s));
        }
        downstream.pipe(upstream).pipe(downstream);
      });
      listener.listen(port, "127.0.0.1", () => resolve());
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (listener) listener.close(() => resolve());
      else resolve();
    });
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}

describe.runIf(server)("redis adapter connection handling", () => {
  test("after the connection drops, calls fail fast while Redis is unreachable and succeed again once it is back", async () => {
    const proxy = await proxyTo(server!.url);
    const prefix = keyPrefix();
    const storage = redisStorage({ url: proxy.url, keyPrefix: prefix, commandTimeoutMs: 1000 });
    const gk = createGamify({ storage, analytics: false });
    try {
      assert.equal((await gk.addPoints("u", 1)).total, 1);
      await proxy.stop();
      assert.ok((await timed(() => expectGamifyError(gk.addPoints("u", 1), "STORAGE_UNAVAILABLE"))) < 1500);
      await proxy.start();
      // The client reconnects on its own, with backoff capped at two seconds.
      let total: number | undefined;
      for (let i = 0; i < 40 && total === undefined; i++) {
        total = await gk.addPoints("u", 1).then(
          (r) => r.total,
          () => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
        );
      }
      assert.equal(total, 2);
    } finally {
      await gk.close();
      await proxy.stop();
    }
  });

  test("a script the server has not cached (NOSCRIPT) runs with EVAL and is cached for the next EVALSHA", async () => {
    const connection = createConnection({ client: admin, keyPrefix: keyPrefix() }, "test");
    const script = defineScript("probe", `-- ${run}\nreturn ARGV[1] .. KEYS[1]`);
    const [before] = (await admin!.script("EXISTS", script.sha)) as number[];
    assert.equal(before, 0);
    assert.equal(await connection.eval(script, ["k"], ["v"]), "vk");
    const [after] = (await admin!.script("EXISTS", script.sha)) as number[];
    assert.equal(after, 1);
    assert.equal(await connection.eval(script, ["k"], ["w"]), "wk");
  });

  test("a level table lost from Redis (flush, failover) is loaded again and levels stay exact", async () => {
    const prefix = keyPrefix();
    const storage = redisStorage({ client: admin, keyPrefix: prefix });
    const gk = createGamify({ storage, analytics: false, levels: { xp: levels.table([0, 100, 200, 300]) } });
    try {
      assert.equal((await gk.addPoints("u", 150, { metric: "xp" })).level, 2);
      // SCAN pages through the whole keyspace, which other test files share: loop to the end.
      const tables: string[] = [];
      let cursor = "0";
      do {
        const [next, keys] = await admin!.scan(cursor, "MATCH", `${prefix}levels:*`, "COUNT", 1000);
        cursor = next;
        tables.push(...keys);
      } while (cursor !== "0");
      assert.equal(tables.length, 1);
      await admin!.del(...tables);
      const r = await gk.addPoints("u", 100, { metric: "xp" });
      assert.deepEqual([r.previousLevel, r.level], [2, 3]);
    } finally {
      await gk.close();
    }
  });

  test("redisStores share one connection: it stays open until the last of the three stores closes", async () => {
    const stores = redisStores({ url: server!.url, keyPrefix: keyPrefix() });
    await stores.storage.health();
    await stores.storage.close();
    await stores.analytics.close();
    await stores.leaderboardStore.health();
    await stores.leaderboardStore.close();
    await expectGamifyError(stores.leaderboardStore.health(), "CLOSED");
    await expectGamifyError(stores.storage.getUser("u"), "CLOSED");
  });
});
