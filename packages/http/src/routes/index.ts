/** Every route of the API, in the order the router tries them and the OpenAPI document lists them. */
import type { Route } from "../route.js";
import { badgeRoutes } from "./badges.js";
import { batchRoutes } from "./batch.js";
import { eventRoutes } from "./events.js";
import { leaderboardRoutes } from "./leaderboards.js";
import { pointsRoutes } from "./points.js";
import { docs, healthz, metricsRoute, openapiJson, readyz } from "./system.js";
import { userRoutes } from "./users.js";

/** The route table; `metricsOpen` makes GET /metrics public. */
export function allRoutes(options: { metricsOpen: boolean }): Route[] {
  return [
    healthz,
    readyz,
    metricsRoute(options.metricsOpen),
    openapiJson,
    docs,
    ...userRoutes,
    ...pointsRoutes,
    ...badgeRoutes,
    ...eventRoutes,
    ...batchRoutes,
    ...leaderboardRoutes,
  ];
}
