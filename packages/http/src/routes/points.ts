/** Adding and removing points. */
import type { AwardOptions } from "@gamifykit/core";
import { defineRoute, json } from "../route.js";
import { AwardBody, AwardResult, IdempotencyHeaders, UserParams } from "../schemas.js";

type Award = {
  amount: number;
  metric?: string | undefined;
  reason?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  at?: number | undefined;
  scopes?: string[] | undefined;
};

/** Engine options from a validated body and the Idempotency-Key header. */
function awardOptions(body: Award, idempotencyKey: string | undefined): AwardOptions {
  return {
    ...(body.metric === undefined ? {} : { metric: body.metric }),
    ...(body.reason === undefined ? {} : { reason: body.reason }),
    ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
    ...(body.at === undefined ? {} : { at: body.at }),
    ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
}

const description =
  "Send an `Idempotency-Key` header to make retries safe: the award applies once per user and key, and a retry returns the first result with `replayed: true`.";

export const addPoints = defineRoute({
  id: "addPoints",
  method: "POST",
  path: "/v1/users/{userId}/points",
  summary: "Add points to a user's metric",
  description,
  tag: "points",
  access: "admin",
  params: UserParams,
  headers: IdempotencyHeaders,
  body: { schema: AwardBody, required: true },
  responses: { 200: { description: "The award's result, with the events it caused.", schema: AwardResult } },
  errors: [422],
  async serve({ gk, params, headers, body }) {
    return json(await gk.addPoints(params.userId, body.amount, awardOptions(body, headers["Idempotency-Key"])));
  },
});

export const removePoints = defineRoute({
  id: "removePoints",
  method: "POST",
  path: "/v1/users/{userId}/points/remove",
  summary: "Remove points from a user's metric (a floor clamps the total)",
  description,
  tag: "points",
  access: "admin",
  params: UserParams,
  headers: IdempotencyHeaders,
  body: { schema: AwardBody, required: true },
  responses: { 200: { description: "The award's result; `delta` is negative (clamped by the metric's floor).", schema: AwardResult } },
  errors: [422],
  async serve({ gk, params, headers, body }) {
    return json(await gk.removePoints(params.userId, body.amount, awardOptions(body, headers["Idempotency-Key"])));
  },
});

export const pointsRoutes = [addPoints, removePoints];
