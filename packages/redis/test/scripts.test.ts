import assert from "node:assert/strict";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, levels } from "@gamifykit/core";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisStorage, redisStores } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const run = runId("scripts");
const keyPrefix = prefixer(run);
const client = server ? new Redis(server.url) : undefined;

afterAll(async () => {
  if (!client) return;
  await deletePrefix(client, run);
  await client.quit();
});

/** Counts the commands `fn` sends through `redis`. */
async function commandsSentBy(redis: Redis, fn: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    sent.push(command.name);
    return (original as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  try {
    await fn();
  } finally {
    redis.sendCommand = original;
  }
  return sent;
}

describe.runIf(server)("redis scripts", () => {
  test("an award with a level and an idempotency key is one EVALSHA; its leaderboard update is one more", async () => {
    const host = new Redis(server!.url);
    const stores = redisStores({ client: host, keyPrefix: keyPrefix() });
    const gk = createGamify({ ...stores, analytics: false, levels: { xp: levels.linear({ step: 100 }) }, leaderboards: [{ metric: "xp", periods: ["all", "week"] }] });
    try {
      await gk.addPoints("warm", 1, { metric: "xp" }); // loads the level table and caches the scripts
      const storageOnly = createGamify({ storage: stores.storage, analytics: false, levels: { xp: levels.linear({ step: 100 }) } });
      // No threshold crossed: the engine has no level_up event to append afterwards (that is its own call).
      assert.deepEqual(await commandsSentBy(host, () => storageOnly.addPoints("u", 50, { metric: "xp", idempotencyKey: "k" })), ["evalsha"]);
      assert.deepEqual(await commandsSentBy(host, () => gk.addPoints("v", 50, { metric: "xp", idempotencyKey: "k" })), ["evalsha", "evalsha"]);
    } finally {
      await gk.close();
      await host.quit();
    }
  });

  test("idempotency keys expire after idempotencyTtlMs of the engine clock, and expired records are swept", async () => {
    let now = Date.now();
    const prefix = keyPrefix();
    const storage = redisStorage({ client, keyPrefix: prefix, idempotencyTtlMs: 1000 });
    const gk = createGamify({ storage, analytics: false, clock: () => now });
    try {
      assert.equal((await gk.addPoints("u", 5, { idempotencyKey: "a" })).replayed, false);
      now += 999;
      assert.equal((await gk.addPoints("u", 5, { idempotencyKey: "a" })).replayed, true);
      now += 1;
      const again = await gk.addPoints("u", 5, { idempotencyKey: "a" });
      assert.equal(again.replayed, false, "the key expired");
      assert.equal(again.total, 10);
      now += 1000;
      await gk.addPoints("u", 1); // any award sweeps a few expired records
      assert.equal(await client!.hlen(`${prefix}u:{u}:idem`), 0);
      assert.equal(await client!.zcard(`${prefix}u:{u}:idemx`), 0);
      const ttl = await client!.pttl(`${prefix}u:{u}:idem`);
      assert.ok(ttl === -2 || (ttl > 0 && ttl <= 1000), "a quiet user's records expire as a whole");
    } finally {
      await gk.close();
    }
  });

  test("totals and board scores at the edge of the safe-integer range are stored and returned exactly", async () => {
    const stores = redisStores({ client, keyPrefix: keyPrefix() });
    const gk = createGamify({ ...stores, analytics: false });
    try {
      const max = Number.MAX_SAFE_INTEGER;
      assert.equal((await gk.addPoints("big", max - 1)).total, max - 1);
      assert.equal((await gk.addPoints("big", 1)).total, max);
      assert.equal((await gk.getUser("big"))?.points.points, max);
      assert.equal((await gk.removePoints("small", max)).total, -max);
      const top = await gk.leaderboard("points").top({ limit: 10 });
      assert.deepEqual(
        top.map((e) => [e.userId, e.score, e.rank]),
        [
          ["big", max, 1],
          ["small", -max, 2],
        ],
      );
      assert.deepEqual(await gk.leaderboard("points", { mode: "dense" }).rank("small"), { userId: "small", score: -max, rank: 2 });
    } finally {
      await gk.close();
    }
  });
});
