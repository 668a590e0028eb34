import { randomBytes } from "node:crypto";
import { GamifyError, type EventBus, type GamifyEvent } from "@gamifykit/core";
import type { Client as PgClient, ClientConfig, Notification, Pool as PgPool } from "pg";

const DEFAULT_CHANNEL = "gamifykit_events";
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; this leaves room to spare. */
const MAX_NOTIFICATION_BYTES = 7900;
/** An event larger than this many notifications is refused (about 1 MB; events are far smaller). */
const MAX_CHUNKS = 128;
const DEFAULT_READY_TIMEOUT_MS = 5000;
const MAX_RECONNECT_DELAY_MS = 2000;
/** Events sent by one statement at most. */
const MAX_BATCH = 100;
/** Unfinished chunked messages kept at most (a message's chunks arrive together, so this is slack). */
const MAX_PARTIALS = 64;

/** A `pg.Pool` the host owns, as far as the bus uses it. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** What the pool creates its clients with; the bus opens its listening connection from it. */
  readonly options: object;
}

/** Options for {@link postgresEventBus}: exactly one of `url` and `pool`. */
export type PostgresEventBusOptions = ({ readonly url: string; readonly pool?: undefined } | { readonly pool: PgPoolLike; readonly url?: undefined }) & {
  /** LISTEN/NOTIFY channel: lowercase letters, digits and `_`, at most 63. Default `gamifykit_events`. */
  readonly channel?: string | undefined;
  /** How long `ready()` waits for LISTEN, in milliseconds. Default 5000. */
  readonly readyTimeoutMs?: number | undefined;
  /** Told about listener connection failures and malformed notifications (default: ignored). */
  readonly onError?: ((error: GamifyError) => void) | undefined;
};

interface PgModule {
  Pool: typeof PgPool;
  Client: typeof PgClient;
}

async function loadPg(): Promise<PgModule> {
  // pg is CommonJS: its exports arrive as `default` under ESM, and directly under CJS.
  const mod = (await import("pg")) as unknown as PgModule & { default?: PgModule };
  return mod.default ?? mod;
}

/**
 * An {@link EventBus} on PostgreSQL LISTEN/NOTIFY. `publish` sends `pg_notify` through the pool;
 * the first `subscribe` (or `ready()`) opens one dedicated connection that LISTENs (a new client
 * built from the host pool's options, so the pool keeps all its connections), and reconnects with
 * backoff when it drops. `close()` ends what the bus created: the listening connection, and the
 * pool it made for `url` — never the host's pool.
 *
 * **Large events.** NOTIFY payloads must stay under 8000 bytes, and an award's metadata alone may
 * be 16 KiB. An event whose JSON does not fit is split into numbered chunks sent by one
 * `pg_notify` statement; PostgreSQL delivers the notifications of one transaction together, and
 * the receiving bus joins them before delivering the event, so every event arrives whole. The JSON
 * is sent as ASCII (`\uXXXX` escapes), so sizes do not depend on the server encoding. Events over
 * about 1 MB are refused with `PAYLOAD_TOO_LARGE`.
 *
 * @example
 * const bus = postgresEventBus({ url: process.env.DATABASE_URL! });
 * const hub = createRealtime(gk, { bus });
 */
export function postgresEventBus(options: PostgresEventBusOptions): EventBus & { ready(): Promise<void> } {
  const { url, pool: hostPool } = options;
  if ((url === undefined) === (hostPool === undefined)) {
    throw new GamifyError("INVALID_ARGUMENT", "postgresEventBus needs exactly one of `url` (postgres://…) or `pool` (a pg.Pool you own).", {
      details: { field: url === undefined ? "url" : "pool" },
    });
  }
  if (url !== undefined && (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url))) {
    throw new GamifyError("INVALID_ARGUMENT", "url must be a postgres://… connection URL.", { details: { field: "url" } });
  }
  const channel = options.channel ?? DEFAULT_CHANNEL;
  if (typeof channel !== "string" || !CHANNEL.test(channel)) {
    throw new GamifyError("INVALID_ARGUMENT", `channel must be 1-63 characters of a-z 0-9 _ starting with a letter or _; got ${JSON.stringify(channel)}.`, {
      details: { field: "channel" },
    });
  }
  const name = `postgres:${channel}`;
  const onError = options.onError ?? (() => undefined);
  const readyTimeout = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  // Colon-free, so it can lead the notification header.
  const origin = randomBytes(8).toString("hex");
  const listeners = new Set<(event: GamifyEvent) => void>();
  const partials = new Map<string, (string | undefined)[]>();
  let sequence = 0;
  let closed = false;
  let ownedPool: Promise<PgPool> | undefined;
  let listener: PgClient | undefined;
  let listening: Promise<void> | undefined;
  let markListening: (() => void) | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let attempts = 0;

  const publisher = async (): Promise<PgPoolLike> => {
    if (hostPool !== undefined) return hostPool;
    ownedPool ??= loadPg().then(({ Pool }) => {
      const pool = new Pool({ connectionString: url, max: 1 });
      // An idle client that loses its connection must not crash the process; the next query reports it.
      pool.on("error", () => undefined);
      return pool;
    });
    return ownedPool;
  };

  const deliver = (json: string): void => {
    const event = parseEvent(json);
    if (event === undefined) {
      onError(new GamifyError("INVALID_ARGUMENT", `${name} received a notification that is not a GamifyKit event; is another program notifying this channel?`));
      return;
    }
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch (error) {
        onError(new GamifyError("INTERNAL", `A listener of ${name} threw: ${String(error)}`, { cause: error }));
      }
    }
  };

  const receive = (message: Notification): void => {
    if (message.channel !== channel || message.payload === undefined) return;
    const frame = parseFrame(message.payload);
    if (frame === undefined) {
      onError(new GamifyError("INVALID_ARGUMENT", `${name} received a notification in an unknown format; is another program notifying this channel?`));
      return;
    }
    if (frame.origin === origin) return;
    if (frame.count === 1) {
      deliver(frame.data);
      return;
    }
    const key = `${frame.origin}:${frame.sequence}`;
    let parts = partials.get(key);
    if (parts === undefined) {
      if (partials.size >= MAX_PARTIALS) partials.delete(partials.keys().next().value as string);
      parts = new Array<string | undefined>(frame.count).fill(undefined);
      partials.set(key, parts);
    }
    parts[frame.index] = frame.data;
    if (parts.every((p) => p !== undefined)) {
      partials.delete(key);
      deliver(parts.join(""));
    }
  };

  const scheduleReconnect = (): void => {
    if (closed || reconnectTimer !== undefined) return;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(attempts, 10));
    attempts++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connect();
    }, delay);
  };

  /** Opens the dedicated connection and LISTENs; on any failure, tries again later. */
  const connect = async (): Promise<void> => {
    if (closed) return;
    let client: PgClient | undefined;
    try {
      const { Client } = await loadPg();
      // TCP keepalive, so a connection that dies silently (a NAT or firewall forgetting it) is
      // noticed and replaced instead of listening to nothing forever.
      if (hostPool !== undefined) {
        const Ctor = ((hostPool as { Client?: typeof PgClient }).Client ?? Client) as typeof PgClient;
        const options = hostPool.options as ClientConfig;
        // pg-pool keeps the password non-enumerable: copy it by name.
        client = new Ctor({ ...options, ...(options.password === undefined ? {} : { password: options.password }), keepAlive: true });
      } else {
        client = new Client({ connectionString: url, keepAlive: true });
      }
      const current = client;
      let lost = false;
      const onLost = (error?: unknown): void => {
        if (lost) return;
        lost = true;
        if (error !== undefined) onError(unavailable(name, "listening connection", error));
        if (listener === current) listener = undefined;
        current.end().catch(() => undefined);
        scheduleReconnect();
      };
      current.on("error", onLost);
      current.on("end", () => onLost());
      current.on("notification", receive);
      await current.connect();
      await current.query(`LISTEN "${channel}"`);
      if (closed) {
        await current.end();
        return;
      }
      listener = current;
      attempts = 0;
      markListening?.();
    } catch (error) {
      onError(unavailable(name, "LISTEN", error));
      client?.end().catch(() => undefined);
      scheduleReconnect();
    }
  };

  const open = (): Promise<void> => {
    if (listening) return listening;
    listening = new Promise<void>((resolve) => (markListening = resolve));
    void connect();
    return listening;
  };

  /**
   * Publishes go out one statement at a time, in call order, so receivers see events in the order
   * they were published; events queued meanwhile share the next statement (one transaction, whose
   * notifications PostgreSQL delivers together and in order).
   */
  const queue: { frames: string[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let flushing = false;
  const flush = async (): Promise<void> => {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        const frames = batch.flatMap((item) => item.frames);
        try {
          const pool = await publisher();
          await (frames.length === 1
            ? pool.query("SELECT pg_notify($1, $2)", [channel, frames[0]])
            : pool.query("SELECT pg_notify($1, frame) FROM unnest($2::text[]) WITH ORDINALITY AS frames(frame, n) ORDER BY n", [channel, frames]));
          for (const item of batch) item.resolve();
        } catch (error) {
          const failure = unavailable(name, "NOTIFY", error);
          for (const item of batch) item.reject(failure);
        }
      }
    } finally {
      flushing = false;
    }
  };

  const closedError = () => new GamifyError("CLOSED", `This event bus (${name}) was closed; create a new one.`);

  return {
    name,
    async publish(event) {
      if (closed) throw closedError();
      const frames = encode(origin, sequence++, event);
      if (frames.length > MAX_CHUNKS) {
        throw new GamifyError("PAYLOAD_TOO_LARGE", `Event ${event.id} is too large for ${name} (${frames.length} notifications of ${MAX_NOTIFICATION_BYTES} bytes); keep award metadata small.`, {
          details: { id: event.id, type: event.type },
        });
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ frames, resolve, reject });
        if (!flushing) void flush();
      });
    },
    subscribe(listenerFn) {
      if (closed) throw closedError();
      listeners.add(listenerFn);
      void open();
      return () => {
        listeners.delete(listenerFn);
      };
    },
    async ready() {
      if (closed) throw closedError();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new GamifyError("STORAGE_UNAVAILABLE", `${name} could not LISTEN within ${readyTimeout} ms; check that PostgreSQL is reachable (the bus keeps retrying).`)),
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
      partials.clear();
      clearTimeout(reconnectTimer);
      const client = listener;
      listener = undefined;
      await client?.end().catch(() => undefined);
      const pool = ownedPool;
      ownedPool = undefined;
      if (pool) await (await pool.catch(() => undefined))?.end().catch(() => undefined);
    },
  };
}

/** The event as notification payloads: `origin:sequence:index:count:data`, each under the limit. */
export function encode(origin: string, sequence: number, event: GamifyEvent): string[] {
  // ASCII only, so a payload's length in characters is its length in bytes in any server encoding.
  const json = JSON.stringify(event).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const header = (index: number, count: number) => `${origin}:${sequence}:${index}:${count}:`;
  // Headers of a huge message are at most this long, so every chunk fits.
  const room = MAX_NOTIFICATION_BYTES - header(MAX_CHUNKS * 100, MAX_CHUNKS * 100).length;
  const count = Math.max(1, Math.ceil(json.length / room));
  const frames: string[] = [];
  for (let i = 0; i < count; i++) frames.push(header(i, count) + json.slice(i * room, (i + 1) * room));
  return frames;
}

interface Frame {
  readonly origin: string;
  readonly sequence: number;
  readonly index: number;
  readonly count: number;
  readonly data: string;
}

function parseFrame(payload: string): Frame | undefined {
  const match = /^([0-9a-f]+):(\d+):(\d+):(\d+):/.exec(payload);
  if (!match) return undefined;
  const [head, origin, sequence, index, count] = match as unknown as [string, string, string, string, string];
  const frame = { origin, sequence: Number(sequence), index: Number(index), count: Number(count), data: payload.slice(head.length) };
  if (frame.count < 1 || frame.count > MAX_CHUNKS || frame.index >= frame.count) return undefined;
  return frame;
}

function parseEvent(json: string): GamifyEvent | undefined {
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== "object" || value === null) return undefined;
    const e = value as Partial<GamifyEvent>;
    if (typeof e.id !== "string" || typeof e.type !== "string" || typeof e.userId !== "string") return undefined;
    return value as GamifyEvent;
  } catch {
    return undefined;
  }
}

function unavailable(name: string, what: string, error: unknown): GamifyError {
  return new GamifyError("STORAGE_UNAVAILABLE", `${name}: ${what} failed: ${error instanceof Error ? error.message : String(error)}. Check that PostgreSQL is reachable.`, {
    cause: error,
  });
}
