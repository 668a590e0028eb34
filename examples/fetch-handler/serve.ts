/** Runs the fetch handler of index.ts on Node (PORT, default 3000), to try it without Bun or Deno. */
import http from "node:http";
import { toNodeHandler } from "@gamifykit/http";
import app from "./index.js";

const port = Number(process.env["PORT"] ?? 3000);
const server = http.createServer(toNodeHandler(app.fetch)).listen(port, "127.0.0.1", () => console.log(`fetch handler on http://127.0.0.1:${port}`));
process.once("SIGINT", () => server.close());
