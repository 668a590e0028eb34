/**
 * The HTTP API on plain node:http, in memory. Run from the repository root:
 *
 *   API_KEY=dev-secret pnpm --filter @gamifykit/example-node-http start
 *
 * With API_KEY set, every write needs `Authorization: Bearer $API_KEY` (or `X-API-Key`); without
 * it auth is off. PORT (default 3000) and HOST (default 127.0.0.1) choose where it listens.
 * Try http://127.0.0.1:3000/docs, and see docs/http-api.md for a curl session.
 */
import http from "node:http";
import { createGamify, levels } from "@gamifykit/core";
import { attachWebSocket, createGamifyHandler, createRealtime, hashApiKey, toNodeHandler } from "@gamifykit/http";

const gk = createGamify({
  levels: { xp: levels.quadratic({ base: 100 }) },
  leaderboards: [{ metric: "xp", periods: ["all", "week"] }],
});
const realtime = createRealtime(gk);
const apiKey = process.env["API_KEY"];
const handler = createGamifyHandler(gk, {
  realtime,
  ...(apiKey ? { auth: { apiKeys: [{ id: "dev", hash: hashApiKey(apiKey), role: "admin" as const }] } } : {}),
});

const server = http.createServer(toNodeHandler(handler));
attachWebSocket(server, handler);
const port = Number(process.env["PORT"] ?? 3000);
const host = process.env["HOST"] ?? "127.0.0.1";
server.listen(port, host, () => console.log(`GamifyKit API on http://${host}:${port} (docs: /docs, auth ${apiKey ? "on" : "off"})`));

const shutdown = async () => {
  server.close();
  server.closeAllConnections();
  await realtime.close();
  await handler.close();
  await gk.close();
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
