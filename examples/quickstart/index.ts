/**
 * GamifyKit quickstart: five simulated learners spend a week on a course. They earn XP for
 * lessons, level up, unlock badges through rules, and climb the all-time and weekly boards.
 * Everything runs in memory; no services needed. Run with `pnpm demo`.
 */
import { createGamify, levels, rules, type GamifyEvent } from "@gamifykit/core";

const DAY = 86_400_000;
// Start on Monday 2026-11-16 09:00 in New York; a simulated clock lets the demo span two weeks.
let now = Date.parse("2026-11-16T09:00:00-05:00");

const gk = createGamify({
  clock: () => now,
  levels: { xp: levels.quadratic({ base: 100 }) }, // level 2 at 100 XP, 3 at 400, 4 at 900…
  metrics: { coins: { floor: 0 } }, // coins never go negative
  leaderboards: [{ metric: "xp", periods: ["all", "week"], timeZone: "America/New_York" }],
  rules: [
    rules.tiered("xp-tiers", "xp", [
      { reaches: 250, badge: "bronze" },
      { reaches: 750, badge: "silver" },
      { reaches: 1500, badge: "gold" },
    ]),
    rules.action("three-visits", "daily-login", 3, { badge: "regular", points: { amount: 50, metric: "coins" } }),
  ],
});

const describeEvent = (e: GamifyEvent): string | undefined => {
  switch (e.type) {
    case "level_up":
      return `⬆️  ${e.userId} reached ${e.metric} level ${e.level}`;
    case "badge_awarded":
      return `🏅 ${e.userId} earned the "${e.badge}" badge${e.ruleId ? ` (rule ${e.ruleId})` : ""}`;
    case "points_removed":
      return `💸 ${e.userId} spent ${e.delta} ${e.metric} (${e.total} left)`;
    default:
      return undefined; // points_added and actions are too chatty to print
  }
};
gk.on("*", (event) => {
  const line = describeEvent(event);
  if (line) console.log(`  ${new Date(event.at).toISOString().slice(0, 10)}  ${line}`);
});

// Deterministic "randomness" so every run prints the same story.
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

const learners = ["alice", "bob", "carol", "dave", "erin"];
const diligence: Record<string, number> = { alice: 0.9, bob: 0.6, carol: 0.75, dave: 0.35, erin: 0.5 };

console.log("GamifyKit quickstart — two simulated weeks of a course\n");
for (let day = 0; day < 12; day++) {
  for (const user of learners) {
    if (random() > (diligence[user] ?? 0.5)) continue;
    await gk.track(user, "daily-login");
    const lessons = 1 + Math.floor(random() * 4);
    for (let lesson = 0; lesson < lessons; lesson++) {
      // The idempotency key makes a retried request harmless: it applies once.
      await gk.addPoints(user, 40 + Math.floor(random() * 60), {
        metric: "xp",
        reason: "lesson",
        idempotencyKey: `lesson-${day}-${lesson}`,
      });
    }
    await gk.addPoints(user, 10, { metric: "coins", reason: "daily" });
    if (random() < 0.2) await gk.removePoints(user, 30, { metric: "coins", reason: "avatar hat" });
  }
  now += DAY;
}

const table = async (title: string, period: "all" | "week") => {
  const board = gk.leaderboard("xp", { period });
  const rows = await board.top({ limit: 5 });
  console.log(`\n${title} (${board.board})`);
  console.table(
    await Promise.all(
      rows.map(async (row) => {
        const user = await gk.getUser(row.userId);
        return {
          rank: row.rank,
          user: row.userId,
          xp: row.score,
          level: user?.levels["xp"] ?? 1,
          coins: user?.points["coins"] ?? 0,
          badges: Object.keys(user?.badges ?? {}).join(", "),
        };
      }),
    ),
  );
};

await table("All-time XP leaderboard", "all");
await table("This week's XP leaderboard", "week");
const around = await gk.leaderboard("xp").around("dave", { radius: 1 });
console.log(`\nAround dave: ${around.map((e) => `#${e.rank} ${e.userId} (${e.score})`).join(" · ")}`);
console.log(`dave beats or ties ${(await gk.leaderboard("xp").percentile("dave"))?.toFixed(0)}% of the board`);
await gk.close();
