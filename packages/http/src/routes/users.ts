/** User state and deletion. */
import { GamifyError } from "@gamifykit/core";
import { defineRoute, json } from "../route.js";
import { UserParams, UserState } from "../schemas.js";

export const getUser = defineRoute({
  id: "getUser",
  method: "GET",
  path: "/v1/users/{userId}",
  summary: "A user's points, levels and badges",
  tag: "users",
  access: ({ params }) => ({ self: params["userId"] ?? "" }),
  params: UserParams,
  responses: { 200: { description: "The user's state.", schema: UserState } },
  errors: [404],
  async serve({ gk, params }) {
    const state = await gk.getUser(params.userId);
    if (!state) throw new GamifyError("NOT_FOUND", `User "${params.userId}" does not exist; a user appears with their first award.`);
    return json(state);
  },
});

export const deleteUser = defineRoute({
  id: "deleteUser",
  method: "DELETE",
  path: "/v1/users/{userId}",
  summary: "Delete a user's state, event log and leaderboard entries",
  tag: "users",
  access: "admin",
  params: UserParams,
  responses: { 204: { description: "Deleted." } },
  errors: [404],
  async serve({ gk, params }) {
    if (!(await gk.deleteUser(params.userId))) throw new GamifyError("NOT_FOUND", `User "${params.userId}" does not exist (or was already deleted).`);
    return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
  },
});

export const userRoutes = [getUser, deleteUser];
