/** Leaderboard reads: top, a user's rank and percentile, the window around a user. */
import { GamifyError, type LeaderboardQuery } from "@gamifykit/core";
import { defineRoute, json } from "../route.js";
import { AroundPage, AroundQuery, BoardQuery, LeaderboardPage, MetricParams, MetricUserParams, TopQuery, UserRank } from "../schemas.js";

type BoardInput = {
  period?: LeaderboardQuery["period"] | undefined;
  at?: number | string | undefined;
  scope?: string | undefined;
  mode?: LeaderboardQuery["mode"] | undefined;
};

/** The engine's query from the validated one, with absent fields left out (not set to undefined). */
function boardQuery(query: BoardInput): LeaderboardQuery {
  const out: { -readonly [K in keyof LeaderboardQuery]: LeaderboardQuery[K] } = {};
  if (query.period !== undefined) out.period = query.period;
  if (query.at !== undefined) out.at = query.at;
  if (query.scope !== undefined) out.scope = query.scope;
  if (query.mode !== undefined) out.mode = query.mode;
  return out;
}

const boardErrors = [404];
const periodNote = "A period the metric's leaderboard does not keep answers 404. Finished periods stay readable (pass their key as `at`) for the board's retention.";

export const topEntries = defineRoute({
  id: "leaderboardTop",
  method: "GET",
  path: "/v1/leaderboards/{metric}",
  summary: "The best entries of a board",
  description: periodNote,
  tag: "leaderboards",
  access: "reader",
  params: MetricParams,
  query: TopQuery,
  responses: { 200: { description: "Entries best first, and the number of users on the board.", schema: LeaderboardPage } },
  errors: boardErrors,
  async serve({ gk, params, query }) {
    const view = gk.leaderboard(params.metric, boardQuery(query));
    const [entries, count] = await Promise.all([view.top({ limit: query.limit, offset: query.offset }), view.count()]);
    return json({ board: view.board, period: view.period, key: view.key, finished: view.finished, entries, count });
  },
});

export const userRank = defineRoute({
  id: "leaderboardRank",
  method: "GET",
  path: "/v1/leaderboards/{metric}/users/{userId}",
  summary: "A user's score, rank and percentile on a board",
  description: periodNote,
  tag: "leaderboards",
  access: ({ params }) => ({ self: params["userId"] ?? "" }),
  params: MetricUserParams,
  query: BoardQuery,
  responses: { 200: { description: "The user's entry.", schema: UserRank } },
  errors: boardErrors,
  async serve({ gk, params, query }) {
    const view = gk.leaderboard(params.metric, boardQuery(query));
    // Indexing, not destructuring: an array pattern runs the iterator protocol on every request.
    const both = await Promise.all([view.rank(params.userId), view.percentile(params.userId)]);
    const entry = both[0];
    const percentile = both[1];
    if (!entry || percentile === null) {
      throw new GamifyError("NOT_FOUND", `User "${params.userId}" is not on board ${view.board}; a user joins a board with their first points in it.`);
    }
    return json({ ...entry, percentile });
  },
});

export const around = defineRoute({
  id: "leaderboardAround",
  method: "GET",
  path: "/v1/leaderboards/{metric}/users/{userId}/around",
  summary: "The entries around a user",
  description: `Up to 2 × radius + 1 entries centred on the user, kept full at the top and bottom of the board; empty when the user is not on it. ${periodNote}`,
  tag: "leaderboards",
  access: ({ params }) => ({ self: params["userId"] ?? "" }),
  params: MetricUserParams,
  query: AroundQuery,
  responses: { 200: { description: "The window of entries.", schema: AroundPage } },
  errors: boardErrors,
  async serve({ gk, params, query }) {
    const view = gk.leaderboard(params.metric, boardQuery(query));
    return json({ board: view.board, entries: await view.around(params.userId, { radius: query.radius }) });
  },
});

export const leaderboardRoutes = [topEntries, userRank, around];
