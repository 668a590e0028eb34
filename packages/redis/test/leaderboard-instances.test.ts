/**
 * Several engine instances, each with its own Redis connection and stores on one key prefix (as
 * separate server processes would have): an award's scoped boards move inside its one script, and
 * each finished board is announced by exactly one instance.
 */
import assert from "node:assert/strict";
import { afterAll, describe, test } from "vitest";
import { Redis } from "ioredis";
import { createGamify, periodKey, type Gamify, type LeaderboardFinishedEvent } from "@gamifykit/core";
import { findTestServer } from "@gamifykit/adapter-tests";
import { redisStores } from "../src/index.js";
import { commandsSentBy, deletePrefix, prefixer, runId } from "./helpers.js";

const server = await findTestServer("redis");
const run = runId("instances");
const keyPrefix = prefixer(run);
const clients: Redis[] = [];
const HOUR = 3_600_000;
const YEAR = new Date().getUTCFullYear() + 1;
const DAY_START = Date.UTC(YEAR, 4, 12);

afterAll(async () => {
  const [first] = clients;
  if (first) await deletePrefix(first, run);
  await Promise.all(clients.map((c) => c.quit()));
});

describe.runIf(server)("redis, several engine instances", () => {
  test("an award with scopes, periods and a season is one EVALSHA (a finishing scope's registry entry costs one more, once)", async () => {
    const client = new Redis(server?.url ?? "");
    clients.push(client);
    const now = DAY_START + 9 * HOUR;
    const gk = createGamify({
      ...redisStores({ client, keyPrefix: keyPrefix() }),
      analytics: false,
      clock: () => now,
      finishLeaderboards: "manual",
      leaderboards: [
        { metric: "xp", periods: ["day", "week", "month"], seasons: [{ id: "s1", start: DAY_START - 40 * 24 * HOUR, end: DAY_START + 40 * 24 * HOUR }] },
        { metric: "coins", periods: ["week"], finishAfter: HOUR },
      ],
    });
    try {
      await gk.addPoints("warm", 1, { metric: "xp" }); // caches the script
      const award = (userId: string, metric: string) => commandsSentBy(client, () => gk.addPoints(userId, 5, { metric, scopes: ["team-1", "team-2"] }));
      assert.deepEqual(await award("a", "xp"), ["evalsha"], "5 boards × 3 (main and two scopes) in one script");
      assert.deepEqual(await award("a", "coins"), ["evalsha", "evalsha", "evalsha"], "first sight of two finishing scopes: registered, then the award");
      assert.deepEqual(await award("b", "coins"), ["evalsha"], "registered scopes are remembered");
      for (const period of ["all", "day", "week", "month", "season"] as const) {
        assert.equal((await gk.leaderboard("xp", { period, scope: "team-2" }).rank("a"))?.score, 5, period);
      }
    } finally {
      await gk.close();
    }
  });

  test("each finished board (main and scoped) is announced exactly once across 4 instances on separate connections", async () => {
    const prefix = keyPrefix();
    let now = DAY_START + 9 * HOUR;
    const engines: Gamify[] = [];
    const seen: LeaderboardFinishedEvent[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new Redis(server?.url ?? "", { lazyConnect: true });
      clients.push(client);
      const stores = redisStores({ client, keyPrefix: prefix });
      const gk = createGamify({
        ...stores,
        clock: () => now,
        finishLeaderboards: "manual",
        leaderboards: [{ metric: "xp", periods: ["day"], finishAfter: 0, winners: 2 }],
      });
      gk.on("leaderboard_finished", (e) => void seen.push(e));
      engines.push(gk);
    }
    try {
      // Awards from every instance, each with scopes: one script per award moves all six boards.
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => (engines[i % 4] as Gamify).addPoints(`u${i % 10}`, 1 + i, { metric: "xp", scopes: [`team-${i % 2}`] })),
      );
      const key = periodKey("day", now, "UTC");
      const first = engines[0] as Gamify;
      assert.equal(await first.leaderboard("xp", { period: "day", scope: "team-0" }).count(), 5);
      now = DAY_START + 24 * HOUR;
      const results = await Promise.all(engines.flatMap((gk) => [gk.finishLeaderboards(), gk.finishLeaderboards()]));
      const boards = results.flat().map((e) => e.board).sort();
      assert.deepEqual(boards, [`xp/day/${key}`, `xp/day/${key}/team-0`, `xp/day/${key}/team-1`]);
      assert.equal(seen.length, 3, "each announcement reached the listeners of the instance that made it, once");
      const main = seen.find((e) => e.scope === undefined);
      assert.deepEqual(main?.winners.map((w) => w.userId), ["u9", "u8"]);
      assert.equal(main?.count, 10);
      const logged = await first.events(`u0`);
      assert.ok(logged.events.every((e) => e.type !== "leaderboard_finished"), "announcements are not in users' logs");
    } finally {
      for (const gk of engines) await gk.close();
    }
  });
});
