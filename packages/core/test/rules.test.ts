import { describe, expect, test } from "vitest";
import { createGamify, GamifyError, memoryStorage, rules, type BadgeAwardedEvent, type Rule } from "../src/index.js";

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof GamifyError) return error.code;
    throw error;
  }
  throw new Error("expected a GamifyError");
};

const badgesOf = async (gk: ReturnType<typeof createGamify>, userId: string) => Object.keys((await gk.getUser(userId))?.badges ?? {}).sort();

describe("rule validation at start-up", () => {
  const bad: [string, unknown][] = [
    ["a duplicate id", [rules.threshold("r", "xp", 1, { badge: "a" }), rules.threshold("r", "xp", 2, { badge: "b" })]],
    ["an id with spaces", [rules.threshold("my rule", "xp", 1, { badge: "a" })]],
    ["no reward", [{ id: "r", when: { metric: "xp", reaches: 1 }, award: {} }]],
    ["a bad badge name", [rules.threshold("r", "xp", 1, { badge: "no spaces please" })]],
    ["a zero bonus", [rules.threshold("r", "xp", 1, { points: { amount: 0 } })]],
    ["a fractional threshold", [rules.threshold("r", "xp", 1.5, { badge: "a" })]],
    ["an unknown event", [{ id: "r", when: { event: "jump", times: 1 }, award: { badge: "a" } }]],
    ["zero times", [rules.action("r", "login", 0, { badge: "a" })]],
    ["a negative window", [rules.action("r", "login", 1, { badge: "a" }, -5)]],
    ["no condition", [{ id: "r", when: {}, award: { badge: "a" } }]],
    ["a non-object", [42]],
  ];
  test.each(bad)("rejects %s with INVALID_ARGUMENT", (_name, list) => {
    expect(codeOf(() => createGamify({ rules: list as Rule[] }))).toBe("INVALID_ARGUMENT");
  });
});

describe("threshold and tiered rules", () => {
  test("a jump over several tiers awards each tier's badge once, with the rule id", async () => {
    const gk = createGamify({
      rules: [rules.tiered("xp", "xp", [{ reaches: 100, badge: "bronze" }, { reaches: 200, badge: "silver" }, { reaches: 300, badge: "gold" }])],
    });
    const awarded: BadgeAwardedEvent[] = [];
    gk.on("badge_awarded", (e) => void awarded.push(e));
    await gk.addPoints("u", 99, { metric: "xp" });
    expect(awarded).toEqual([]);
    await gk.addPoints("u", 150, { metric: "xp" });
    expect(awarded.map((e) => [e.badge, e.ruleId])).toEqual([
      ["bronze", "xp:bronze"],
      ["silver", "xp:silver"],
    ]);
    await gk.addPoints("u", 1, { metric: "xp" });
    expect(awarded).toHaveLength(2);
    expect(await badgesOf(gk, "u")).toEqual(["bronze", "silver"]);
    // Other metrics do not trigger it.
    await gk.addPoints("v", 500, { metric: "coins" });
    expect(await badgesOf(gk, "v")).toEqual([]);
    await gk.close();
  });

  test("fires once per user under 200 concurrent awards", async () => {
    const gk = createGamify({ rules: [rules.threshold("ten", "points", 10, { badge: "ten", points: { amount: 1000, metric: "bonus" } })] });
    let fired = 0;
    gk.on("badge_awarded", () => void fired++);
    await Promise.all(Array.from({ length: 200 }, () => gk.addPoints("u", 1)));
    expect(fired).toBe(1);
    expect((await gk.getUser("u"))?.points).toEqual({ points: 200, bonus: 1000 });
    await gk.close();
  });

  test("a revoked badge is not given back by a rule that already fired", async () => {
    const gk = createGamify({ rules: [rules.threshold("ten", "points", 10, { badge: "ten" })] });
    await gk.addPoints("u", 10);
    await gk.revokeBadge("u", "ten");
    await gk.addPoints("u", 10);
    expect(await badgesOf(gk, "u")).toEqual([]);
    await gk.close();
  });

  test("bonus points can trigger further rules (chains)", async () => {
    const gk = createGamify({
      rules: [
        rules.action("first-login", "login", 1, { points: { amount: 100, metric: "xp" } }),
        rules.threshold("xp-100", "xp", 100, { badge: "centurion" }),
      ],
    });
    await gk.track("u", "login");
    expect((await gk.getUser("u"))?.points).toEqual({ xp: 100 });
    expect(await badgesOf(gk, "u")).toEqual(["centurion"]);
    await gk.close();
  });
});

describe("count rules", () => {
  test("counts actions, optionally within a time window", async () => {
    let now = Date.parse("2026-11-25T00:00:00Z");
    const hour = 3_600_000;
    const gk = createGamify({
      clock: () => now,
      rules: [
        rules.action("three-logins", "login", 3, { badge: "regular" }),
        rules.action("burst", "login", 3, { badge: "burst" }, 2 * hour),
      ],
    });
    for (let i = 0; i < 3; i++) {
      await gk.track("u", "login");
      now += 2 * hour; // logins 2 h apart: never 3 within 2 h
    }
    expect(await badgesOf(gk, "u")).toEqual(["regular"]);
    await gk.track("u", "login");
    await gk.track("u", "login");
    expect(await badgesOf(gk, "u")).toEqual(["burst", "regular"]);
    // Other actions don't count.
    for (let i = 0; i < 5; i++) await gk.track("v", "logout");
    expect(await badgesOf(gk, "v")).toEqual([]);
    await gk.close();
  });

  test("counts engine events such as badge_awarded", async () => {
    const gk = createGamify({ rules: [{ id: "collector", when: { event: "badge_awarded", times: 3 }, award: { badge: "collector" } }] });
    await gk.awardBadge("u", "a");
    await gk.awardBadge("u", "b");
    expect(await badgesOf(gk, "u")).toEqual(["a", "b"]);
    await gk.awardBadge("u", "c");
    expect(await badgesOf(gk, "u")).toEqual(["a", "b", "c", "collector"]);
    await gk.close();
  });

  test("a failing reward is reported on `error` and the triggering award stands", async () => {
    const gk = createGamify({ rules: [rules.threshold("huge", "points", 1, { points: { amount: Number.MAX_SAFE_INTEGER, metric: "points" } })] });
    const errors: GamifyError[] = [];
    gk.on("error", (e) => void errors.push(e.error as GamifyError));
    expect((await gk.addPoints("u", 5)).total).toBe(5);
    expect(errors.map((e) => e.code)).toEqual(["OUT_OF_RANGE"]);
    expect((await gk.getUser("u"))?.points).toEqual({ points: 5 });
    await gk.close();
  });
});

describe("backfill", () => {
  test("evaluates new rules on existing users with progress, once", async () => {
    const storage = memoryStorage();
    const before = createGamify({ storage });
    for (let i = 0; i < 25; i++) await before.addPoints(`user-${i}`, (i + 1) * 10, { metric: "xp" });
    for (let i = 0; i < 3; i++) await before.track("user-1", "login");

    const after = createGamify({
      storage,
      rules: [rules.threshold("xp-100", "xp", 100, { badge: "centurion" }), rules.action("logins", "login", 3, { badge: "regular" })],
    });
    const progress: { users: number; fired: number }[] = [];
    const result = await after.backfillRules({ batchSize: 10, onProgress: (p) => void progress.push(p) });
    // user-9 … user-24 reach 100 XP; user-1 logged in three times.
    expect(result).toEqual({ users: 25, fired: 17 });
    expect(progress).toEqual([
      { users: 10, fired: 2 },
      { users: 20, fired: 12 },
      { users: 25, fired: 17 },
    ]);
    expect(await badgesOf(after, "user-24")).toEqual(["centurion"]);
    expect(await badgesOf(after, "user-1")).toEqual(["regular"]);
    expect(await after.backfillRules()).toEqual({ users: 25, fired: 0 });
    await after.close();
  });
});
