import { createGamify, levels } from "@gamifykit/core";
import { createGamifyHandler, toNodeHandler } from "@gamifykit/http";
import { helloWorld, listen, loadGenerator } from "./http-harness.js";
import type { FixedResult, MaxResult, Target } from "./http-load.js";
import type { Row } from "./report.js";
import { median } from "./stats.js";

const AREA = "HTTP (@gamifykit/http on node:http, memory engine, request logs off)";
const HELLO = "node:http hello world";
const CONNECTIONS = 32;

/** Fails the run when a load run saw errors: figures over failed requests would mean nothing. */
function checked<R extends MaxResult | FixedResult>(what: string, result: R): R {
  const failed = result.kind === "max" ? result.non2xx + result.errors : result.non2xx;
  if (failed > 0) throw new Error(`HTTP benchmark: ${what} had ${failed} failed or non-2xx responses`);
  return result;
}

/**
 * POST award and GET rank through `createGamifyHandler` + `toNodeHandler` on node:http, beside a
 * node:http hello world answering the same requests in the same run: the highest throughput
 * (autocannon, closed loop), then latency at a fixed rate of half the route's maximum for both
 * servers (open-loop schedule, see bench/http-load.ts). The load generator is a separate process.
 */
export async function httpBench(quick: boolean): Promise<Row[]> {
  const users = quick ? 100 : 10_000;
  const seconds = quick ? 1 : 5;
  const maxSeconds = quick ? 1 : 3;
  const rounds = quick ? 1 : 3;
  const gk = createGamify({ analytics: false, levels: { xp: levels.quadratic({ base: 100 }) }, leaderboards: [{ metric: "xp", periods: ["all"] }] });
  for (let i = 0; i < users; i++) await gk.addPoints(`user-${i}`, 1 + (i % 997), { metric: "xp" });
  // Request logs off: pino writing every request to this terminal would measure the terminal. All else is default.
  const handler = createGamifyHandler(gk, { logger: false });
  const api = await listen(toNodeHandler(handler));
  const hello = await listen(helloWorld);
  const load = loadGenerator();
  const out: Row[] = [];
  try {
    const routes: { name: string; target: (url: string) => Target }[] = [
      { name: "POST /v1/users/{userId}/points", target: (url) => ({ url, method: "POST", path: "/v1/users/{user}/points", body: '{"amount":5,"metric":"xp"}', users }) },
      { name: "GET /v1/leaderboards/xp/users/{userId}", target: (url) => ({ url, method: "GET", path: "/v1/leaderboards/xp/users/{user}", users }) },
    ];
    for (const route of routes) {
      const ours = route.target(api.url);
      const theirs = route.target(hello.url);
      // Warm both servers up (JIT, zod schemas, first allocations) before anything is measured.
      if (!quick) for (const t of [ours, theirs]) await load.run({ kind: "max", target: t, connections: CONNECTIONS, seconds: 2 });
      // Alternating rounds, median of each, as in bench/stats.ts's compare().
      const helloRates: number[] = [];
      const rates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        helloRates.push(checked(`${HELLO} (max)`, await load.run({ kind: "max", target: theirs, connections: CONNECTIONS, seconds: maxSeconds })).rate);
        rates.push(checked(`${route.name} (max)`, await load.run({ kind: "max", target: ours, connections: CONNECTIONS, seconds: maxSeconds })).rate);
      }
      const max = median(rates);
      out.push({ area: AREA, measure: `${route.name}: max throughput, ${CONNECTIONS} connections`, value: max, unit: "req/s", baseline: { name: HELLO, value: median(helloRates) }, better: "higher", target: 0.5 });

      const rate = Math.max(1, Math.round(max / 2));
      const fixed = checked(`${route.name} (fixed rate)`, await load.run({ kind: "fixed", target: ours, rate, connections: 64, seconds }));
      const helloFixed = checked(`${HELLO} (fixed rate)`, await load.run({ kind: "fixed", target: theirs, rate, connections: 64, seconds }));
      const behind = (f: FixedResult, who: string) => (f.unanswered > 0 ? `; ${who}: ${f.unanswered} unanswered after 10 s, so a lower bound` : "");
      for (const p of ["p50", "p95", "p99"] as const) {
        out.push({ area: AREA, measure: `${route.name}: ${p} latency at ${rate.toLocaleString("en-US")} req/s (half its max${behind(fixed, "GamifyKit")}${behind(helloFixed, "hello world")})`, value: fixed.latency[p], unit: "ms", baseline: { name: `${HELLO}, same rate`, value: helloFixed.latency[p] }, better: "lower" });
      }
      // The generator's health: how late its timer released requests.
      if (fixed.sendLagP99 !== null && helloFixed.sendLagP99 !== null) {
        out.push({ area: AREA, measure: `${route.name}: load generator's own send lag p99 (health check)`, value: fixed.sendLagP99, unit: "ms", baseline: { name: `${HELLO} run`, value: helloFixed.sendLagP99 }, better: "lower" });
      }
    }
    return out;
  } finally {
    load.close();
    await api.close();
    await hello.close();
    await handler.close();
    await gk.close();
  }
}
