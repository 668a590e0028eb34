import { createGamify, levels, rules } from "@gamifykit/core";
import type { Row } from "./report.js";

/** Awards per second through the whole engine (levels, rules, a listener) on one core, beside a bare Map increment. */
export async function engineBench(quick: boolean): Promise<Row[]> {
  const users = quick ? 1_000 : 100_000;
  const awards = quick ? 5_000 : 500_000;

  const gk = createGamify({
    analytics: false,
    levels: { xp: levels.quadratic({ base: 100 }) },
    leaderboards: [{ metric: "xp", periods: ["week"] }],
    rules: rules.tiered("xp", "xp", [{ reaches: 1_000, badge: "bronze" }, { reaches: 5_000, badge: "silver" }]),
  });
  let seen = 0;
  gk.on("*", () => void seen++);

  const start = performance.now();
  for (let i = 0; i < awards; i++) await gk.addPoints(`user-${i % users}`, 1 + (i % 50), { metric: "xp" });
  const engineRate = awards / ((performance.now() - start) / 1000);

  // The floor: the same number of updates to a Map, with the same awaits.
  const map = new Map<string, number>();
  const bareStart = performance.now();
  for (let i = 0; i < awards; i++) {
    const key = `user-${i % users}`;
    map.set(key, (map.get(key) ?? 0) + 1 + (i % 50));
    await Promise.resolve();
  }
  const bareRate = awards / ((performance.now() - bareStart) / 1000);
  await gk.close();

  // Memory per 100k users: heap growth of an engine holding `users` users, scaled.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const held = createGamify({ analytics: false, levels: { xp: levels.linear({ step: 100 }) } });
  for (let i = 0; i < users; i++) await held.addPoints(`user-${i}`, 10, { metric: "xp" });
  gc?.();
  const perHundredK = ((process.memoryUsage().heapUsed - before) * (100_000 / users)) / 2 ** 20;
  await held.close();

  return [
    { area: "Engine (memory)", measure: `awards/s, levels+rules+listener, ${users.toLocaleString("en-US")} users`, value: engineRate, unit: "ops/s", baseline: { name: "Map increment", value: bareRate }, better: "higher" },
    { area: "Engine (memory)", measure: `heap per 100k users${gc ? "" : " (run with --expose-gc for accuracy)"}`, value: perHundredK, unit: "MiB", better: "lower" },
  ];
}
