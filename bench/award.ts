import { createGamify, levels, type Gamify, type LeaderboardStore, type Storage } from "@gamifykit/core";

/**
 * The award every adapter benchmark measures: one metric with quadratic levels, an all-time
 * leaderboard, and a listener on every event. Analytics are off, so an award is the storage's
 * own work (on Redis: one script, one round trip).
 */
export function benchEngine(stores: { storage: Storage; leaderboardStore: LeaderboardStore }): Gamify {
  const gk = createGamify({
    storage: stores.storage,
    leaderboardStore: stores.leaderboardStore,
    analytics: false,
    levels: { xp: levels.quadratic({ base: 100 }) },
    leaderboards: [{ metric: "xp", periods: ["all"] }],
  });
  gk.on("*", () => undefined);
  return gk;
}

/** Describes {@link benchEngine}'s award in table rows. */
export const AWARD = "award (levels, all-time board, listener)";

/** The user an operation touches: spread over `users` ids so rows and keys rarely contend. */
export const userOf = (i: number, users: number): string => `user-${i % users}`;

/** 1..50 points, deterministic. */
export const pointsOf = (i: number): number => 1 + (i % 50);
