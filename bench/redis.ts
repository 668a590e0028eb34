import { randomBytes } from "node:crypto";
import { redisStores } from "@gamifykit/redis";
import { Redis } from "ioredis";
import { Leaderboard, LeaderboardMatrix } from "redis-rank";
import { AWARD, benchEngine, pointsOf, userOf } from "./award.js";
import type { Row } from "./report.js";
import { serverUrl } from "./servers.js";
import { compare, drive, type Compared } from "./stats.js";

const AREA = "Redis (one connection)";
const FLOOR = "EVALSHA of one ZINCRBY";
const ZINCRBY = "return redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])";

/** Throughput and latency rows of one subject/floor comparison. */
function rows(measure: string, floorName: string, c: Compared, target?: number): Row[] {
  const base = { area: AREA } as const;
  return [
    { ...base, measure: `${measure}: throughput`, value: c.subject.rate, unit: "ops/s", baseline: { name: floorName, value: c.floor.rate }, better: "higher", ...(target === undefined ? {} : { target }) },
    ...(["p50", "p95", "p99"] as const).map(
      (p): Row => ({ ...base, measure: `${measure}: ${p} latency`, value: c.subject.latency[p], unit: "ms", baseline: { name: floorName, value: c.floor.latency[p] }, better: "lower" }),
    ),
  ];
}

/** Calls and microseconds Redis has spent in EVALSHA so far (INFO commandstats). */
async function evalshaStats(client: Redis): Promise<{ calls: number; usec: number }> {
  const info = await client.info("commandstats");
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}

/** Redis's own CPU time per EVALSHA while `op` runs `total` times, 32 in flight (other clients' EVALSHAs would count too). */
async function serverMicros(client: Redis, total: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const before = await evalshaStats(client);
  await drive(total, 32, op);
  const after = await evalshaStats(client);
  return (after.usec - before.usec) / Math.max(1, after.calls - before.calls);
}

/** Deletes every key under `prefix` (SCAN + UNLINK, never KEYS). */
async function dropPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== "0");
}

/**
 * Awards through the engine on `redisStores`, at 1, 32 and 256 in flight on one connection,
 * beside a bare EVALSHA of a one-line ZINCRBY script on the same connection; then leaderboard
 * updates and rank reads beside `redis-rank` on the same server.
 */
export async function redisBench(quick: boolean): Promise<Row[]> {
  const url = await serverUrl("redis");
  const prefix = `gkbench:${randomBytes(6).toString("hex")}:`;
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const stores = redisStores({ client, keyPrefix: prefix });
  const gk = benchEngine(stores);
  const users = quick ? 100 : 10_000;
  const rounds = quick ? 1 : 3;
  const out: Row[] = [];
  try {
    const sha = (await client.script("LOAD", ZINCRBY)) as string;
    const bareKey = `${prefix}bare`;
    const bare = (i: number) => client.evalsha(sha, 1, bareKey, pointsOf(i), userOf(i, users));
    const award = (i: number) => gk.addPoints(userOf(i, users), pointsOf(i), { metric: "xp" });

    for (const inFlight of [1, 32, 256]) {
      const total = quick ? 200 : inFlight === 1 ? 4_000 : 20_000;
      out.push(...rows(`${AWARD}, ${inFlight} in flight`, FLOOR, await compare(rounds, total, inFlight, award, bare), 0.8));
    }

    // Where the time goes: Redis's own time per script, from its command statistics.
    const sample = quick ? 100 : 5_000;
    out.push({
      area: AREA,
      measure: `${AWARD}: Redis server time per award script`,
      value: await serverMicros(client, sample, award),
      unit: "µs",
      baseline: { name: FLOOR, value: await serverMicros(client, sample, bare) },
      better: "lower",
    });

    // redis-rank: the same board updates (all-time and this week, adding points) on the same server.
    const week = 7 * 86_400_000;
    const matrix = new LeaderboardMatrix(client, `${prefix}rr`, {
      dimensions: [{ name: "all" }, { name: "week", cycle: "weekly" }],
      features: [{ name: "xp", options: { sortPolicy: "high-to-low", updatePolicy: "aggregate" } }],
    });
    const single = new Leaderboard(client, `${prefix}rr1`, { sortPolicy: "high-to-low", updatePolicy: "aggregate" });
    const boards = stores.leaderboardStore;
    const inFlight = 32;
    const total = quick ? 200 : 20_000;
    const peer = "redis-rank";
    out.push(
      ...rows(
        `board update, all-time + week, ${inFlight} in flight`,
        `${peer} LeaderboardMatrix`,
        await compare(rounds, total, inFlight, (i) => boards.increment([{ board: "b-all", delta: pointsOf(i) }, { board: "b-week", delta: pointsOf(i), expiresAt: Date.now() + week }], userOf(i, users)), (i) => matrix.update({ id: userOf(i, users), values: { xp: pointsOf(i) } })),
      ),
      ...rows(
        `board update, one board, ${inFlight} in flight`,
        `${peer} Leaderboard`,
        await compare(rounds, total, inFlight, (i) => boards.increment([{ board: "b-one", delta: pointsOf(i) }], userOf(i, users)), (i) => single.updateOne(userOf(i, users), pointsOf(i))),
      ),
      ...rows(
        `rank read (ordinal), ${inFlight} in flight`,
        `${peer} Leaderboard`,
        await compare(rounds, total, inFlight, (i) => boards.rank("b-one", userOf(i * 7, users), "ordinal"), (i) => single.rank(userOf(i * 7, users))),
      ),
      // What an engine award costs over redis-rank's bare board update: state, levels, event log and the board.
      ...rows(`${AWARD} vs board update only, ${inFlight} in flight`, `${peer} LeaderboardMatrix`, await compare(rounds, total, inFlight, award, (i) => matrix.update({ id: userOf(i, users), values: { xp: pointsOf(i) } }))),
    );
    return out;
  } finally {
    await gk.close();
    await dropPrefix(client, prefix);
    client.disconnect();
  }
}
