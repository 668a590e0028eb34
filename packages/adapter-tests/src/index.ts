/**
 * Conformance suites for GamifyKit adapters. Each suite registers its tests with the runner
 * functions you pass, so it works with Vitest, Jest, Mocha, `node:test` or Bun.
 *
 * @example
 * import { describe, test } from "vitest";
 * import { storageSuite } from "@gamifykit/adapter-tests";
 * storageSuite({ describe, test }, () => myStorage({ prefix: `t-${crypto.randomUUID()}` }), { name: "my-store" });
 */
export { storageSuite } from "./storage-suite.js";
export { leaderboardSuite } from "./leaderboard-suite.js";
export type { LeaderboardSuiteOptions } from "./leaderboard-suite.js";
export { analyticsSuite } from "./analytics-suite.js";
export { eventBusSuite } from "./event-bus-suite.js";
export type { EventBusFactory, EventBusSuiteOptions } from "./event-bus-suite.js";
export { expectGamifyError } from "./helpers.js";
export type { SuiteOptions, SuiteRunner } from "./helpers.js";
export { findTestServer } from "./servers.js";
export type { ServerKind, TestServer } from "./servers.js";
