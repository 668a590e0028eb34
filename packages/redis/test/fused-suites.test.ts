/**
 * The storage conformance suite again, on the fused path: every storage comes from
 * `redisStores`, so the engines the suite builds (`createGamify({ storage })`) default their
 * leaderboard store to the storage's sibling and move boards inside the award script.
 * Board behaviour on this path is checked in fused.test.ts.
 */
import assert from "node:assert/strict";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, type LeaderboardStore, type Storage } from "@gamifykit/core";
import { findTestServer, leaderboardSuite, storageSuite } from "@gamifykit/adapter-tests";
import { redisLeaderboards, redisStorage, redisStores } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const client = server ? new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 }) : undefined;
const run = runId("fused-suites");
const keyPrefix = prefixer(run);

afterAll(async () => {
  if (!client) return;
  await deletePrefix(client, run);
  await client.quit();
});

function fusedStorage(): Storage {
  const made = redisStores({ client, keyPrefix: keyPrefix() });
  void made.analytics.close();
  return made.storage;
}

describe.runIf(server)("redis, boards in the award script", () => {
  test("an engine given only the storage moves the sibling board store inside the award", async () => {
    const storage = fusedStorage();
    const gk = createGamify({ analytics: false, storage });
    try {
      await gk.addPoints("b", 4);
      assert.equal((await storage.leaderboards?.rank("points/all/all", "b", "standard"))?.score, 4);
    } finally {
      await gk.close();
    }
  });

  storageSuite({ describe, test }, fusedStorage, { name: "redis, fused" });

  // The leaderboard suite with engines whose storage owns the board store: every board an award
  // moves (periods, seasons, scopes) is written by the award script, and claims go to Redis.
  const prefixes = new WeakMap<LeaderboardStore, string>();
  leaderboardSuite(
    { describe, test },
    () => {
      const prefix = keyPrefix();
      const store = redisLeaderboards({ client, keyPrefix: prefix });
      prefixes.set(store, prefix);
      return store;
    },
    { name: "redis, fused", storage: (store) => redisStorage({ client, keyPrefix: prefixes.get(store) ?? keyPrefix(), leaderboards: store }) },
  );
});
