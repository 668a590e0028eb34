import { describe, test } from "vitest";
import { memoryAnalytics, memoryLeaderboards, memoryStorage } from "@gamifykit/core";
import { analyticsSuite, leaderboardSuite, storageSuite } from "@gamifykit/adapter-tests";

// The in-memory implementations are the reference: they must pass every suite.
storageSuite({ describe, test }, () => memoryStorage(), { name: "memory" });
leaderboardSuite({ describe, test }, () => memoryLeaderboards(), { name: "memory" });
analyticsSuite({ describe, test }, ({ timeZone }) => memoryAnalytics({ timeZone }), { name: "memory" });
