import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { analyticsSuite, findTestServer, leaderboardSuite, storageSuite } from "@gamifykit/adapter-tests";
import { redisAnalytics, redisLeaderboards, redisStorage } from "../src/index.js";
import { deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
// One host-owned client for every store in this file: the stores must never close it.
const client = server ? new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 }) : undefined;
const run = runId("suites");
const keyPrefix = prefixer(run);

afterAll(async () => {
  if (!client) return;
  await deletePrefix(client, run);
  await client.quit();
  await server?.stop();
});

describe.runIf(server)("redis adapter", () => {
  storageSuite({ describe, test }, () => redisStorage({ client, keyPrefix: keyPrefix() }), { name: "redis" });
  leaderboardSuite({ describe, test }, () => redisLeaderboards({ client, keyPrefix: keyPrefix() }), { name: "redis" });
  analyticsSuite({ describe, test }, ({ timeZone }) => redisAnalytics({ client, keyPrefix: keyPrefix(), timeZone }), { name: "redis" });
});
