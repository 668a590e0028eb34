import { invalidArgument } from "./errors.js";
import type { GamifyEventType } from "./events.js";
import { EVENT_TYPES } from "./events.js";
import { checkAmount, checkBadge, checkMetric, describe } from "./validate.js";

/** What a rule gives when it fires: a badge, bonus points, or both. */
export interface RuleReward {
  readonly badge?: string;
  readonly points?: { readonly amount: number; readonly metric?: string };
}

/** Fires when a metric's total reaches `reaches`. */
export interface ThresholdRule {
  readonly id: string;
  readonly when: { readonly metric: string; readonly reaches: number };
  readonly award: RuleReward;
}

/** Fires when an event type (for `action` events: an action name) has happened `times` times, optionally within a window. */
export interface CountRule {
  readonly id: string;
  readonly when: {
    readonly event: Exclude<GamifyEventType, "leaderboard_finished" | "leaderboard_rank_changed">;
    /** For `event: "action"`: the action name given to `gk.track()`. */
    readonly action?: string;
    readonly times: number;
    /** Only events within this many milliseconds before the triggering one count. */
    readonly withinMs?: number;
  };
  readonly award: RuleReward;
}

/** A declarative rule. Each rule fires at most once per user. */
export type Rule = ThresholdRule | CountRule;

const RULE_ID = /^[A-Za-z0-9_.:@|-]{1,100}$/;

/** Helpers that build rule objects. Plain objects work just as well. */
export const rules = {
  /** Award when `metric` reaches `reaches` points. */
  threshold(id: string, metric: string, reaches: number, award: RuleReward): ThresholdRule {
    return { id, when: { metric, reaches }, award };
  },
  /**
   * Tiered badges: one threshold rule per tier, ids `${id}:${badge}`.
   * @example rules.tiered("lessons", "xp", [{ reaches: 100, badge: "bronze" }, { reaches: 500, badge: "silver" }])
   */
  tiered(id: string, metric: string, tiers: readonly { reaches: number; badge: string }[]): ThresholdRule[] {
    return tiers.map((tier) => ({ id: `${id}:${tier.badge}`, when: { metric, reaches: tier.reaches }, award: { badge: tier.badge } }));
  },
  /** Award when an action tracked with `gk.track()` has happened `times` times (within `withinMs`, if given). */
  action(id: string, action: string, times: number, award: RuleReward, withinMs?: number): CountRule {
    return { id, when: withinMs === undefined ? { event: "action", action, times } : { event: "action", action, times, withinMs }, award };
  },
};

/** Validates rules once at start-up so a typo fails fast rather than never firing. */
export function checkRules(list: readonly Rule[], defaultMetric: string): void {
  const ids = new Set<string>();
  for (const rule of list) {
    if (typeof rule !== "object" || rule === null) throw invalidArgument(`each rule must be an object; got ${describe(rule)}.`);
    if (typeof rule.id !== "string" || !RULE_ID.test(rule.id)) {
      throw invalidArgument(`rule id must be 1-100 characters of A-Z a-z 0-9 _ - . : @ |; got ${describe(rule.id)}.`, { field: "rules.id" });
    }
    if (ids.has(rule.id)) throw invalidArgument(`rule id "${rule.id}" is used twice; rule ids must be unique.`, { field: "rules.id" });
    ids.add(rule.id);
    const where = `rule "${rule.id}"`;
    const award = rule.award as RuleReward | undefined;
    if (!award || (award.badge === undefined && award.points === undefined)) {
      throw invalidArgument(`${where} must award a badge, points, or both.`, { rule: rule.id });
    }
    if (award.badge !== undefined) checkBadge(award.badge);
    if (award.points !== undefined) {
      checkAmount(award.points.amount);
      checkMetric(award.points.metric ?? defaultMetric);
    }
    const when = rule.when as Record<string, unknown> | undefined;
    if (!when) throw invalidArgument(`${where} needs a "when" condition.`, { rule: rule.id });
    if ("metric" in when) {
      checkMetric(when["metric"]);
      if (!Number.isSafeInteger(when["reaches"])) throw invalidArgument(`${where}: "reaches" must be a safe integer.`, { rule: rule.id });
    } else if ("event" in when) {
      if (!EVENT_TYPES.includes(when["event"] as GamifyEventType)) {
        throw invalidArgument(`${where}: "event" must be one of ${EVENT_TYPES.join(", ")}.`, { rule: rule.id });
      }
      // Count rules count a user's log; leaderboard events are not in it, so such a rule could never fire.
      if (when["event"] === "leaderboard_finished" || when["event"] === "leaderboard_rank_changed") {
        throw invalidArgument(`${where}: count rules cannot count ${String(when["event"])} events (they are not in users' logs); listen with gk.on instead.`, {
          rule: rule.id,
          field: "rules.when.event",
        });
      }
      if (typeof when["times"] !== "number" || !Number.isSafeInteger(when["times"]) || when["times"] < 1) {
        throw invalidArgument(`${where}: "times" must be an integer >= 1.`, { rule: rule.id });
      }
      const within = when["withinMs"];
      if (within !== undefined && (typeof within !== "number" || !Number.isSafeInteger(within) || within <= 0)) {
        throw invalidArgument(`${where}: "withinMs" must be a positive integer of milliseconds.`, { rule: rule.id });
      }
    } else {
      throw invalidArgument(`${where}: "when" needs either { metric, reaches } or { event, times }.`, { rule: rule.id });
    }
  }
}

/** True for threshold rules. */
export const isThresholdRule = (rule: Rule): rule is ThresholdRule => "metric" in rule.when;
