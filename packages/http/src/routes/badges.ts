/** Awarding and revoking badges. */
import type { BadgeOptions } from "@gamifykit/core";
import { defineRoute, json } from "../route.js";
import { BadgeBody, BadgeParams, BadgeResult, RevokeResult } from "../schemas.js";

export const awardBadge = defineRoute({
  id: "awardBadge",
  method: "PUT",
  path: "/v1/users/{userId}/badges/{badge}",
  summary: "Award a badge (once; a repeat answers `awarded: false`)",
  tag: "badges",
  access: "admin",
  params: BadgeParams,
  body: { schema: BadgeBody, required: false },
  responses: { 200: { description: "Whether the badge was newly awarded, and when the user got it.", schema: BadgeResult } },
  async serve({ gk, params, body }) {
    const options: BadgeOptions = {
      ...(body?.reason === undefined ? {} : { reason: body.reason }),
      ...(body?.metadata === undefined ? {} : { metadata: body.metadata }),
      ...(body?.at === undefined ? {} : { at: body.at }),
    };
    return json(await gk.awardBadge(params.userId, params.badge, options));
  },
});

export const revokeBadge = defineRoute({
  id: "revokeBadge",
  method: "DELETE",
  path: "/v1/users/{userId}/badges/{badge}",
  summary: "Revoke a badge",
  tag: "badges",
  access: "admin",
  params: BadgeParams,
  responses: { 200: { description: "Whether the user held the badge.", schema: RevokeResult } },
  async serve({ gk, params }) {
    return json(await gk.revokeBadge(params.userId, params.badge));
  },
});

export const badgeRoutes = [awardBadge, revokeBadge];
