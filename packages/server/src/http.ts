import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { EventBus, Gamify } from "@gamifykit/core";
import { createGamifyHandler, createRealtime, toNodeHandler, attachWebSocket, type GamifyHandlerOptions } from "@gamifykit/http";
import { redisEventBus } from "@gamifykit/redis";
import { postgresEventBus } from "@gamifykit/sql";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { ServerConfig } from "./config/load.js";

/** The HTTP side of the server: the node listener and what must be closed with it. */
export interface HttpApp {
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Wires WebSocket upgrades onto the server. */
  attach(server: Server): void;
  /** Open SSE and WebSocket connections; undefined when realtime is off. */
  connections(): { readonly sse: number; readonly ws: number } | undefined;
  /** Ends SSE streams and WebSockets (first step of a shutdown). */
  closeRealtime(): Promise<void>;
  /** Closes the platform (rate-limit Redis, timers) and the bus. */
  close(): Promise<void>;
}

function createBus(config: ServerConfig, log: Logger): EventBus | undefined {
  const { bus, channel } = config.realtime;
  const onError = (error: Error) => log.warn({ err: error }, "event bus error");
  if (bus === "redis") return redisEventBus({ url: config.redisUrl as string, keyPrefix: config.redisKeyPrefix, ...(channel ? { channel } : {}), onError });
  if (bus === "postgres") return postgresEventBus({ url: config.databaseUrl as string, ...(channel ? { channel } : {}), onError });
  return undefined;
}

/** Maps the configuration onto `createGamifyHandler`'s options (see the HTTP contract). */
export async function buildHttp(gamify: Gamify, config: ServerConfig, logger: Logger): Promise<HttpApp> {
  const bus = config.realtime.enabled ? createBus(config, logger) : undefined;
  const realtime = config.realtime.enabled
    ? createRealtime(gamify, { ...(bus ? { bus } : {}), onError: (error: unknown) => logger.warn({ err: error }, "realtime delivery failed") })
    : undefined;
  // Subscribed before listening, so an award made on another instance right after start is seen.
  if (realtime) await realtime.ready();
  const limiterRedis =
    config.rateLimit && config.rateLimit.store === "redis"
      ? new Redis(config.redisUrl as string, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, commandTimeout: 2000 })
      : undefined;
  if (limiterRedis) {
    // ioredis reports every failed reconnect; log each distinct failure once instead of flooding.
    let last = "";
    limiterRedis.on("error", (error: Error) => {
      if (error.message === last) return;
      last = error.message;
      logger.warn({ err: error }, "rate-limit Redis connection failed");
    });
    limiterRedis.on("ready", () => (last = ""));
  }

  const options: GamifyHandlerOptions = {
    prefix: config.prefix,
    auth: config.auth === false ? false : { apiKeys: config.auth.apiKeys, ...(config.auth.jwt ? { jwt: config.auth.jwt } : {}) },
    rateLimit:
      config.rateLimit === false
        ? false
        : { store: limiterRedis ? { redis: limiterRedis, prefix: `${config.redisKeyPrefix}rl:` } : "memory", tiers: config.rateLimit.tiers },
    cors: config.cors === false ? false : { origins: config.cors.origins, credentials: config.cors.credentials },
    bodyLimit: config.bodyLimit,
    logger,
    // A standalone service also reports its process: CPU, memory, event-loop lag, GC.
    metrics: { defaultMetrics: true },
    metricsAuth: config.metricsAuth,
    realtime: realtime ?? false,
  };
  const handler = createGamifyHandler(gamify, options);
  let realtimeClosed: Promise<void> | undefined;
  const closeRealtime = (): Promise<void> => (realtimeClosed ??= realtime ? realtime.close() : Promise.resolve());
  return {
    listener: toNodeHandler(handler, { trustProxy: config.trustProxy, onError: (error: unknown) => logger.error({ err: error }, "node adapter failed") }),
    attach(server) {
      if (realtime) attachWebSocket(server, handler, { trustProxy: config.trustProxy });
    },
    connections: () => (realtime ? { ...realtime.connections } : undefined),
    closeRealtime,
    async close() {
      await closeRealtime();
      await handler.close();
      // The hub never closes the bus; it goes after the hub.
      await bus?.close();
      if (limiterRedis) limiterRedis.disconnect();
    },
  };
}
