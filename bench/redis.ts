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

/** What Redis has done so far: EVALSHA calls and µs, commands run inside scripts, and its process CPU (INFO commandstats, INFO cpu). */
async function redisStats(client: Redis): Promise<{ calls: number; usec: number; inner: number; cpuMicros: number }> {
  const [commands, cpu] = await Promise.all([client.info("commandstats"), client.info("cpu")]);
  let calls = 0;
  let usec = 0;
  let inner = 0;
  for (const m of commands.matchAll(/cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/g)) {
    if (m[1] === "evalsha") {
      calls = Number(m[2]);
      usec = Number(m[3]);
    } else if (m[1] !== "info") {
      // Everything but the bench's own INFO: the script's commands (and any other client's).
      inner += Number(m[2]);
    }
  }
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  return { calls, usec, inner, cpuMicros: (seconds("used_cpu_user") + seconds("used_cpu_sys")) * 1e6 };
}

/** Per operation while `op` runs `total` times, 32 in flight (other clients' work on the server would count too). */
interface Cost {
  /** Redis's own time in EVALSHA (INFO commandstats). */
  readonly evalshaMicros: number;
  /** Redis process CPU, network I/O included (INFO cpu). */
  readonly redisCpuMicros: number;
  /** This process's CPU: engine, adapter, ioredis, socket writes (process.cpuUsage). */
  readonly clientCpuMicros: number;
  /** Commands run inside the script. */
  readonly innerCommands: number;
}

async function costOf(client: Redis, total: number, op: (i: number) => Promise<unknown>): Promise<Cost> {
  const before = await redisStats(client);
  const cpu = process.cpuUsage();
  await drive(total, 32, op);
  const used = process.cpuUsage(cpu);
  const after = await redisStats(client);
  const calls = Math.max(1, after.calls - before.calls);
  return {
    evalshaMicros: (after.usec - before.usec) / calls,
    redisCpuMicros: (after.cpuMicros - before.cpuMicros) / total,
    clientCpuMicros: (used.user + used.system) / total,
    innerCommands: (after.inner - before.inner) / calls,
  };
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

    // Where the time goes: Redis's time per script, its whole CPU, this process's CPU, and the
    // commands the script runs, per award, beside the same figures for the floor.
    const sample = quick ? 100 : 5_000;
    const awardCost = await costOf(client, sample, award);
    const bareCost = await costOf(client, sample, bare);
    const cost = (measure: string, key: keyof Cost, unit: string): Row => ({
      area: AREA,
      measure: `${AWARD}: ${measure}`,
      value: awardCost[key],
      unit,
      baseline: { name: FLOOR, value: bareCost[key] },
      better: "lower",
    });
    out.push(
      cost("Redis server time per award script", "evalshaMicros", "µs"),
      cost("Redis commands run inside the script per award", "innerCommands", "commands"),
      cost("Redis process CPU per award, network I/O included", "redisCpuMicros", "µs"),
      cost("client CPU per award (engine, adapter, ioredis, socket)", "clientCpuMicros", "µs"),
    );

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
