import { levels, type GamifyOptions, type LevelCurve, type Rule } from "@gamifykit/core";
import { z } from "zod";

const maxLevel = z.number().int().min(1).max(1_000_000).optional().describe("Highest level (default 1000).");

/** A level curve in JSON: the ready-made curves of core's `levels`. */
export const levelCurveSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("linear"), step: z.number().min(1).describe("Points per level."), maxLevel }),
  z.strictObject({ type: z.literal("quadratic"), base: z.number().min(1).describe("Level n needs base·(n−1)² points."), maxLevel }),
  z.strictObject({
    type: z.literal("exponential"),
    base: z.number().min(1).describe("Cost of level 2."),
    factor: z.number().gt(1).describe("Each level costs this many times the previous one."),
    maxLevel,
  }),
  z.strictObject({
    type: z.literal("table"),
    thresholds: z.array(z.number().int()).min(1).describe("Fewest points for level i+1; the first must be 0."),
  }),
]);

const reward = z.strictObject({
  badge: z.string().optional(),
  points: z.strictObject({ amount: z.number().int(), metric: z.string().optional() }).optional(),
});

/** A declarative rule, as core's `Rule` (core checks ids, names and amounts at start-up). */
export const ruleSchema = z.union([
  z.strictObject({ id: z.string(), when: z.strictObject({ metric: z.string(), reaches: z.number().int() }), award: reward }),
  z.strictObject({
    id: z.string(),
    when: z.strictObject({
      event: z.string().describe('An event type, e.g. "action" or "badge_awarded".'),
      action: z.string().optional().describe('For event "action": the action name.'),
      times: z.number().int().min(1),
      withinMs: z.number().int().min(1).optional(),
    }),
    award: reward,
  }),
]);

/** The `engine` section of the config file: what `createGamify` gets besides its stores. */
export const engineSchema = z
  .strictObject({
    defaultMetric: z.string().optional().describe('The metric used when a call names none (default "points").'),
    levels: z.record(z.string(), levelCurveSchema).optional().describe("Level curve per metric."),
    metrics: z
      .record(
        z.string(),
        z.strictObject({
          floor: z.number().int().optional().describe("Lowest total a deduction can leave, e.g. 0."),
          levelsFollowDown: z.boolean().optional().describe("Levels drop with the total after deductions."),
        }),
      )
      .optional()
      .describe("Per-metric behaviour."),
    leaderboards: z
      .array(
        z.strictObject({
          metric: z.string(),
          periods: z.array(z.enum(["all", "day", "week", "month"])).optional().describe('Default ["all"].'),
          timeZone: z.string().optional().describe("IANA zone of the day/week/month boundaries (default UTC)."),
          mode: z.enum(["standard", "dense", "ordinal"]).optional().describe("Default ranking mode."),
          seasons: z
            .array(
              z.strictObject({
                id: z.string().describe("1-32 characters of A-Z a-z 0-9 _ - . (the season's key)."),
                start: z.union([z.string(), z.number().int()]).describe('First instant: a date "2026-09-01" (midnight in timeZone) or epoch ms.'),
                end: z.union([z.string(), z.number().int()]).describe("End, exclusive, in the same forms."),
              }),
            )
            .optional()
            .describe('Custom periods with fixed bounds, queried with period "season".'),
          finishAfter: z
            .number()
            .int()
            .min(0)
            .optional()
            .describe("Milliseconds after a period's end when it is finished (no more backdated awards; a leaderboard_finished event names the winners)."),
          winners: z.number().int().min(1).optional().describe("Top entries leaderboard_finished carries (default 3; needs finishAfter)."),
          keepFinishedFor: z
            .union([z.number().int().min(0), z.literal("forever")])
            .optional()
            .describe('Milliseconds a finished period stays readable, or "forever" (default 30 days).'),
          watch: z
            .strictObject({
              top: z.number().int().min(1),
              periods: z.array(z.enum(["all", "day", "week", "month", "season"])).optional(),
            })
            .optional()
            .describe("Emit leaderboard_rank_changed for moves within the top `top` entries."),
        }),
      )
      .optional()
      .describe("Period leaderboards per metric; an all-time board is always kept."),
    rules: z.array(ruleSchema).optional().describe("Declarative rules; each fires at most once per user."),
    finishLeaderboards: z
      .union([z.enum(["lazy", "manual"]), z.strictObject({ intervalMs: z.number().int().min(1) })])
      .optional()
      .describe('When finished periods are detected: "lazy" (default, on awards and reads), "manual", or also every intervalMs.'),
  })
  .describe("Engine settings: levels, leaderboards, metrics, rules.");

/** The parsed `engine` section. */
export type EngineConfig = z.infer<typeof engineSchema>;

function curve(definition: z.infer<typeof levelCurveSchema>): LevelCurve {
  const max = (m: number | undefined) => (m === undefined ? {} : { maxLevel: m });
  switch (definition.type) {
    case "linear":
      return levels.linear({ step: definition.step, ...max(definition.maxLevel) });
    case "quadratic":
      return levels.quadratic({ base: definition.base, ...max(definition.maxLevel) });
    case "exponential":
      return levels.exponential({ base: definition.base, factor: definition.factor, ...max(definition.maxLevel) });
    case "table":
      return levels.table(definition.thresholds);
  }
}

/** Drops `undefined` fields, so optional zod output fits core's exact optional types. */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** Turns the engine section into `createGamify` options (stores excluded). Core validates the rest. */
export function engineOptions(engine: EngineConfig): GamifyOptions {
  const options: GamifyOptions = {};
  if (engine.defaultMetric !== undefined) options.defaultMetric = engine.defaultMetric;
  if (engine.levels) options.levels = Object.fromEntries(Object.entries(engine.levels).map(([metric, c]) => [metric, curve(c)]));
  if (engine.metrics) options.metrics = Object.fromEntries(Object.entries(engine.metrics).map(([metric, m]) => [metric, defined(m)]));
  if (engine.leaderboards) {
    options.leaderboards = engine.leaderboards.map((board) => {
      const { watch, ...rest } = board;
      return { ...defined(rest), ...(watch ? { watch: defined(watch) } : {}) };
    });
  }
  if (engine.finishLeaderboards !== undefined) options.finishLeaderboards = engine.finishLeaderboards;
  if (engine.rules) {
    options.rules = engine.rules.map((rule) => {
      const award = defined({ badge: rule.award.badge, points: rule.award.points && defined(rule.award.points) });
      return { id: rule.id, when: defined(rule.when), award } as Rule;
    });
  }
  return options;
}
