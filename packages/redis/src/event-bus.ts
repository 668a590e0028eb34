import { randomUUID } from "node:crypto";
import { GamifyError, type EventBus, type GamifyEvent } from "@gamifykit/core";
import { Redis } from "ioredis";
import { closedError, createConnection } from "./connection.js";
import type { RedisConnectionOptions } from "./options.js";

const DEFAULT_CHANNEL = "events";
const DEFAULT_PREFIX = "gamifykit:";
const DEFAULT_READY_TIMEOUT_MS = 5000;
const MAX_RECONNECT_DELAY_MS = 2000;
/** Events sent by one pipeline at most. */
const MAX_BATCH = 100;

/** Options for {@link redisEventBus}. Pass exactly one of `client` and `url`. */
export interface RedisEventBusOptions extends Pick<RedisConnectionOptions, "client" | "url" | "commandTimeoutMs" | "connectTimeoutMs"> {
  /** Channel name after `keyPrefix`. Default `events`, so the channel is `gamifykit:events`. */
  readonly channel?: string | undefined;
  /** Prepended to `channel`, like the stores' key prefix. Default `gamifykit:`. */
  readonly keyPrefix?: string | undefined;
  /** How long `ready()` waits for the subscription, in milliseconds. Default 5000. */
  readonly readyTimeoutMs?: number | undefined;
  /** Told about subscriber failures and messages that are not GamifyKit events (default: ignored). */
  readonly onError?: ((error: GamifyError) => void) | undefined;
}

/** What travels on the channel: the event and the bus that published it, so it skips its own. */
interface Envelope {
  readonly o: string;
  readonly e: GamifyEvent;
}

/**
 * An {@link EventBus} on Redis pub/sub: `publish` sends the event as JSON on the channel with the
 * publishing connection; the first `subscribe` (or `ready()`) opens a second connection (a
 * `duplicate()` of the host's client, or a new one for `url`), because a Redis connection in
 * subscriber mode can run no other command. `close()` ends only the connections the bus created.
 *
 * Pub/sub delivers to the subscribers connected at that moment: an instance that is reconnecting
 * misses what was published meanwhile (SSE clients catch up from the user's event log).
 *
 * @example
 * const bus = redisEventBus({ client: redis });
 * const hub = createRealtime(gk, { bus });
 */
export function redisEventBus(options: RedisEventBusOptions): EventBus & { ready(): Promise<void> } {
  const conn = createConnection(options, "redisEventBus");
  conn.acquire();
  const channel = channelName(options);
  const origin = randomUUID();
  const onError = options.onError ?? (() => undefined);
  const readyTimeout = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const listeners = new Set<(event: GamifyEvent) => void>();
  let subscriber: Redis | undefined;
  let subscribed: Promise<void> | undefined;
  let closed = false;
  const name = `redis:${channel}`;

  const deliver = (message: string): void => {
    const envelope = parseEnvelope(message);
    if (envelope === undefined) {
      onError(new GamifyError("INVALID_ARGUMENT", `${name} received a message that is not a GamifyKit event; is another program publishing on this channel?`));
      return;
    }
    if (envelope.o === origin) return;
    for (const listener of [...listeners]) {
      try {
        listener(envelope.e);
      } catch (error) {
        onError(new GamifyError("INTERNAL", `A listener of ${name} threw: ${String(error)}`, { cause: error }));
      }
    }
  };

  /** Opens the subscriber connection once; SUBSCRIBE is (re)sent on every ready connection. */
  const open = (): Promise<void> => {
    if (subscribed) return subscribed;
    const sub = makeSubscriber(options);
    subscriber = sub;
    subscribed = new Promise<void>((resolve) => {
      sub.on("ready", () => {
        sub.subscribe(channel).then(
          () => resolve(),
          (error: unknown) => onError(unavailable(name, "SUBSCRIBE", error)),
        );
      });
    });
    // Without a listener ioredis logs every connection error; it keeps reconnecting regardless.
    sub.on("error", (error: unknown) => onError(unavailable(name, "subscriber connection", error)));
    sub.on("message", (from: string, message: string) => {
      if (from === channel) deliver(message);
    });
    sub.connect().catch(() => undefined);
    return subscribed;
  };

  /**
   * Publishes go out in call order, one pipeline at a time (events published meanwhile share the
   * next one): while a lazily opened connection is still getting ready, ioredis could otherwise
   * send a later command before earlier queued ones, and subscribers would see events reordered.
   */
  const queue: { payload: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let flushing = false;
  const flush = async (): Promise<void> => {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        try {
          await conn.run("PUBLISH", async (c) => {
            const pipeline = c.pipeline();
            for (const item of batch) pipeline.publish(channel, item.payload);
            for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
          });
          for (const item of batch) item.resolve();
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      flushing = false;
    }
  };

  return {
    name,
    async publish(event) {
      if (closed) throw closedError("event bus");
      const payload = JSON.stringify({ o: origin, e: event } satisfies Envelope);
      return new Promise<void>((resolve, reject) => {
        queue.push({ payload, resolve, reject });
        if (!flushing) void flush();
      });
    },
    subscribe(listener) {
      if (closed) throw closedError("event bus");
      listeners.add(listener);
      void open();
      return () => {
        listeners.delete(listener);
      };
    },
    async ready() {
      if (closed) throw closedError("event bus");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new GamifyError("STORAGE_UNAVAILABLE", `${name} could not subscribe within ${readyTimeout} ms; check that Redis is reachable (the bus keeps retrying).`)),
          readyTimeout,
        );
      });
      try {
        await Promise.race([open(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      const sub = subscriber;
      subscriber = undefined;
      if (sub) {
        if (sub.status === "ready") await sub.quit().catch(() => sub.disconnect());
        else sub.disconnect();
      }
      await conn.release();
    },
  };
}

function channelName(options: RedisEventBusOptions): string {
  const prefix = options.keyPrefix ?? DEFAULT_PREFIX;
  const channel = options.channel ?? DEFAULT_CHANNEL;
  if (typeof prefix !== "string") throw new GamifyError("INVALID_ARGUMENT", "keyPrefix must be a string.", { details: { field: "keyPrefix" } });
  if (typeof channel !== "string" || channel.length === 0) {
    throw new GamifyError("INVALID_ARGUMENT", `channel must be a non-empty string; got ${JSON.stringify(channel)}.`, { details: { field: "channel" } });
  }
  return prefix + channel;
}

/** A dedicated subscriber connection: a duplicate of the host's client, or a new one for the URL. */
function makeSubscriber(options: RedisEventBusOptions): Redis {
  // The bus sends SUBSCRIBE itself on every "ready", so ioredis must not resubscribe too.
  if (options.client !== undefined) return options.client.duplicate({ lazyConnect: true, autoResubscribe: false });
  return new Redis(options.url as string, {
    lazyConnect: true,
    autoResubscribe: false,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    retryStrategy: (times) => Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(times - 1, 10)),
  });
}

function parseEnvelope(message: string): Envelope | undefined {
  try {
    const value: unknown = JSON.parse(message);
    if (typeof value !== "object" || value === null) return undefined;
    const { o, e } = value as Partial<Envelope>;
    if (typeof o !== "string" || typeof e !== "object" || e === null) return undefined;
    if (typeof e.id !== "string" || typeof e.type !== "string" || typeof e.userId !== "string") return undefined;
    return { o, e };
  } catch {
    return undefined;
  }
}

function unavailable(name: string, what: string, error: unknown): GamifyError {
  return new GamifyError("STORAGE_UNAVAILABLE", `${name}: ${what} failed: ${error instanceof Error ? error.message : String(error)}. The bus keeps retrying; check that Redis is reachable.`, {
    cause: error,
  });
}
