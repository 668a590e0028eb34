import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createGamify, isGamifyError, type Gamify } from "@gamifykit/core";
import type { Logger } from "pino";
import { engineOptions } from "./config/engine.js";
import { ConfigError, loadConfig, type ServerConfig } from "./config/load.js";
import { buildHttp, type HttpApp } from "./http.js";
import { createLogger } from "./logger.js";
import { openStores } from "./stores.js";

/** A running server, as {@link startServer} returns it. */
export interface RunningServer {
  readonly config: ServerConfig;
  /** The engine behind the API (for in-process use and tests). */
  readonly gamify: Gamify;
  readonly logger: Logger;
  readonly server: Server;
  /** The port actually bound (useful with `GAMIFYKIT_PORT=0`). */
  readonly port: number;
  /** Base URL of the API including the prefix, e.g. `http://127.0.0.1:3000/api`. */
  readonly url: string;
  /** True once a shutdown has begun. */
  readonly closing: boolean;
  /** Open realtime connections (SSE streams and WebSockets); undefined when realtime is off. */
  readonly realtimeConnections: { readonly sse: number; readonly ws: number } | undefined;
  /**
   * Shuts down gracefully: stops accepting connections, answers `/readyz` with 503, ends the
   * realtime streams, lets in-flight requests finish (up to `shutdownTimeoutMs`, then cuts their
   * connections), then closes the HTTP platform, the bus and the engine with its stores.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** A logger to use instead of the one the configuration describes. */
  readonly logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that shut down gracefully and exit the process. Default false (the CLI sets it). */
  readonly handleSignals?: boolean;
}

/**
 * Starts GamifyKit as an HTTP service: builds the stores and the engine the configuration
 * describes, mounts `createGamifyHandler` (and the realtime feeds) on a `node:http` server and
 * listens. Without a config it reads `process.env` with {@link loadConfig}.
 *
 * @example
 * const server = await startServer(loadConfig({ GAMIFYKIT_PORT: "0", GAMIFYKIT_API_KEYS: "…" }));
 * console.log(server.url);
 * await server.close();
 */
export async function startServer(config: ServerConfig = loadConfig(process.env), options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.log);
  // Curves and rules are checked before any store opens, so a typo costs no connection or lock.
  const engine = engineConfigured(() => engineOptions(config.engine));
  const stores = await openStores(config, logger);
  let gamify: Gamify;
  try {
    gamify = engineConfigured(() => createGamify({ ...engine, ...stores }));
  } catch (error) {
    await Promise.all([stores.storage?.close(), stores.leaderboardStore?.close(), stores.analytics ? stores.analytics.close() : undefined]);
    throw error;
  }
  gamify.on("error", (error) => logger.error({ err: error }, "engine listener failed"));

  let app: HttpApp;
  try {
    app = await buildHttp(gamify, config, logger);
  } catch (error) {
    await gamify.close();
    throw error;
  }

  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const readyPath = `${config.prefix}/readyz`;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    if (closing) {
      // Keep-alive clients learn to reconnect elsewhere; load balancers see the instance leave.
      res.setHeader("connection", "close");
      if (req.url?.split("?")[0] === readyPath) {
        res.writeHead(503, { "content-type": "application/problem+json", "retry-after": "1" });
        res.end(JSON.stringify({ type: "https://gamifykit.dev/problems/closed", title: "Shutting down", status: 503, code: "CLOSED", detail: "This instance is shutting down; retry on another one." }));
        return;
      }
    }
    app.listener(req, res);
  });
  app.attach(server);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    // E.g. EADDRINUSE: release what was opened (file lock, connections) before reporting it.
    await app.close();
    await gamify.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${shownHost}:${port}${config.prefix}`;
  logger.info({ url, profile: config.profile, store: config.store.kind, bus: config.realtime.bus }, "gamifykit-server listening");

  let closed: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const started = Date.now();
      logger.info({ inFlight: inFlight.size }, "shutting down: draining in-flight requests");
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Requests already in flight finish, but their keep-alive connections do not carry another.
      for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
      // Long-lived streams would hold the drain open until the timeout: end them first.
      await app.closeRealtime();
      server.closeIdleConnections();
      const drained = await waitFor(() => inFlight.size === 0, config.shutdownTimeoutMs, () => server.closeIdleConnections());
      if (!drained) logger.warn({ inFlight: inFlight.size, timeoutMs: config.shutdownTimeoutMs }, "shutdown timeout: cutting the remaining connections");
      server.closeAllConnections();
      await stopped;
      await app.close();
      await gamify.close();
      logger.info({ durationMs: Date.now() - started }, "shut down");
    })();
    return closed;
  };

  if (options.handleSignals) installSignalHandlers(shutdown, logger);

  return {
    config,
    gamify,
    logger,
    server,
    port,
    url,
    get closing() {
      return closing;
    },
    get realtimeConnections() {
      return app.connections();
    },
    close: shutdown,
  };
}

/** Runs an engine-building step, reporting bad engine settings as a {@link ConfigError}. */
function engineConfigured<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (isGamifyError(error, "INVALID_ARGUMENT")) throw new ConfigError([`"engine" in the config file: ${error.message}`]);
    throw error;
  }
}

/** Polls `done` until it holds or `timeoutMs` passes; true when it held. */
async function waitFor(done: () => boolean, timeoutMs: number, tick: () => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
    tick();
  }
  return true;
}

function installSignalHandlers(shutdown: () => Promise<void>, logger: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "signal received");
    shutdown().then(
      () => {
        logger.flush?.();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

