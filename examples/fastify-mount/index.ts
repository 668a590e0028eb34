/**
 * The HTTP API inside a fastify app under /api. Run from the repository root:
 *
 *   pnpm --filter @gamifykit/example-fastify-mount start
 *
 * The routes live in their own encapsulated plugin whose content-type parsers are removed, so
 * fastify leaves the body stream to the handler; `reply.hijack()` hands the raw response over.
 */
import Fastify from "fastify";
import { createGamify } from "@gamifykit/core";
import { attachWebSocket, createGamifyHandler, createRealtime, toNodeHandler } from "@gamifykit/http";

const gk = createGamify({ leaderboards: [{ metric: "points", periods: ["all", "week"] }] });
const realtime = createRealtime(gk);
const handler = createGamifyHandler(gk, { prefix: "/api", realtime });
const listener = toNodeHandler(handler);

const app = Fastify();
await app.register(async (api) => {
  api.removeAllContentTypeParsers();
  api.addContentTypeParser("*", (_request, _payload, done) => done(null));
  api.all("/api/*", (request, reply) => {
    reply.hijack();
    listener(request.raw, reply.raw);
  });
});
app.get("/", async () => "Your app. The GamifyKit API is under /api (docs: /api/docs).\n");

const port = Number(process.env["PORT"] ?? 3000);
await app.listen({ port, host: "127.0.0.1" });
attachWebSocket(app.server, handler);
console.log(`fastify on http://127.0.0.1:${port}, GamifyKit under /api`);

process.once("SIGINT", async () => {
  await app.close();
  await realtime.close();
  await handler.close();
  await gk.close();
});
