/** Many awards in one call. */
import type { BatchAward } from "@gamifykit/core";
import { defineRoute, json } from "../route.js";
import { BatchBody, BatchResult } from "../schemas.js";

export const batch = defineRoute({
  id: "batch",
  method: "POST",
  path: "/v1/batch",
  summary: "Apply 1 to 1000 point awards in one call",
  description: "Each user's awards apply together or not at all; results follow input order. Invalid input anywhere changes nothing.",
  tag: "points",
  access: "admin",
  body: { schema: BatchBody, required: true },
  responses: { 200: { description: "One result per award, in input order.", schema: BatchResult } },
  errors: [422],
  async serve({ gk, body }) {
    const awards: BatchAward[] = body.awards.map((item) => ({
      userId: item.userId,
      amount: item.amount,
      ...(item.type === undefined ? {} : { type: item.type }),
      ...(item.metric === undefined ? {} : { metric: item.metric }),
      ...(item.reason === undefined ? {} : { reason: item.reason }),
      ...(item.metadata === undefined ? {} : { metadata: item.metadata }),
      ...(item.idempotencyKey === undefined ? {} : { idempotencyKey: item.idempotencyKey }),
      ...(item.at === undefined ? {} : { at: item.at }),
      ...(item.scopes === undefined ? {} : { scopes: item.scopes }),
    }));
    return json({ results: await gk.batch(awards) });
  },
});

export const batchRoutes = [batch];
