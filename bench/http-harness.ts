import { fork } from "node:child_process";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { FixedResult, LoadJob, MaxResult } from "./http-load.js";

/** A node:http server on a free local port. */
export async function listen(listener: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(listener);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The comparison: the smallest useful node:http server, answering every request with a small JSON body. */
export const helloWorld: RequestListener = (req, res) => {
  // Read the body like a real handler would, then answer.
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": "17" });
    res.end('{"hello":"world"}');
  });
};

/** The load generator in its own process (bench/http-load.ts), one job at a time. */
export function loadGenerator() {
  const child = fork(fileURLToPath(new URL("./http-load.ts", import.meta.url)), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const run = <J extends LoadJob>(job: J): Promise<J["kind"] extends "max" ? MaxResult : FixedResult> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code ?? "signal"}) during a ${job.kind} job`));
      child.once("exit", onExit);
      child.once("message", (reply: { ok: true; result: MaxResult | FixedResult } | { ok: false; error: string }) => {
        child.off("exit", onExit);
        if (reply.ok) resolve(reply.result as J["kind"] extends "max" ? MaxResult : FixedResult);
        else reject(new Error(`load generator: ${reply.error}`));
      });
      child.send(job);
    });
  return {
    run,
    close: () => {
      child.kill();
    },
  };
}
