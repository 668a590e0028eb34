/**
 * The HTTP API as a web-standard fetch handler, the shape serverless and edge runtimes run:
 *
 *   bun index.ts                      # Bun serves a default export with fetch
 *   deno serve index.ts               # Deno too
 *   pnpm --filter @gamifykit/example-fetch-handler start    # Node: serve.ts wraps it in node:http
 *
 * In-memory state lives as long as the isolate; for real deployments give createGamify a storage
 * every instance shares (e.g. @gamifykit/redis on runtimes with TCP sockets).
 */
import { createGamify } from "@gamifykit/core";
import { createGamifyHandler } from "@gamifykit/http";

const gk = createGamify({ leaderboards: [{ metric: "points", periods: ["all", "week"] }] });

const handler = createGamifyHandler(gk, {
  // Behind Cloudflare the client's address arrives in a header; rate limits for anonymous callers key on it.
  clientIp: (request) => request.headers.get("cf-connecting-ip") ?? undefined,
});

export default { fetch: handler };
