/**
 * The HTTP API mounted in an existing express app under /api. Run from the repository root:
 *
 *   pnpm --filter @gamifykit/example-express-mount start
 *
 * The handler is express middleware: it serves /api/* and calls next() for everything else.
 * Mount it before body parsers such as express.json(), so it reads the raw body itself (it also
 * copes with a parsed req.body, but then the body limit was the parser's).
 */
import express from "express";
import { createGamify } from "@gamifykit/core";
import { attachWebSocket, createGamifyHandler, createRealtime, toNodeHandler } from "@gamifykit/http";

const gk = createGamify({ leaderboards: [{ metric: "points", periods: ["all", "week"] }] });
const realtime = createRealtime(gk);
const handler = createGamifyHandler(gk, { prefix: "/api", realtime });

const app = express();
app.use(toNodeHandler(handler));
app.use(express.json());
app.get("/", (_req, res) => {
  res.type("text").send("Your app. The GamifyKit API is under /api (docs: /api/docs).\n");
});

const port = Number(process.env["PORT"] ?? 3000);
const server = app.listen(port, "127.0.0.1", () => console.log(`express on http://127.0.0.1:${port}, GamifyKit under /api`));
attachWebSocket(server, handler);

process.once("SIGINT", async () => {
  server.close();
  server.closeAllConnections();
  await realtime.close();
  await handler.close();
  await gk.close();
});
