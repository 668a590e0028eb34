import { createHash } from "node:crypto";
import { GamifyError } from "@gamifykit/core";
import { Redis } from "ioredis";
import type { RedisConnectionOptions } from "./options.js";

const DEFAULT_PREFIX = "gamifykit:";
const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
/** Reconnect backoff: 100 ms doubling, capped here, forever until close(). */
const MAX_RECONNECT_DELAY_MS = 2000;

/** A Lua script run with EVALSHA, falling back to EVAL (which also caches it) after NOSCRIPT. */
export interface Script {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

/** Defines a script once per module; the SHA1 is what Redis caches it under. */
export function defineScript(name: string, lua: string): Script {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** One (possibly shared) client, its key prefix, and the wrapping every store applies to commands. */
export interface Connection {
  /** Key prefix for keys passed as KEYS or built in JavaScript. */
  readonly prefix: string;
  /**
   * Prefix for keys a Lua script builds itself: ioredis adds its own `keyPrefix` option to KEYS
   * but not to strings in ARGV, so scripts get both.
   */
  readonly scriptPrefix: string;
  /** Runs driver calls, turning every driver failure into `STORAGE_UNAVAILABLE` and bounding the wait. */
  run<T>(what: string, work: (client: Redis) => Promise<T>): Promise<T>;
  /** Runs a script in one round trip. */
  eval(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /** Registers a store using this connection. */
  acquire(): void;
  /** Unregisters a store; the last one out closes a connection the adapter owns. Idempotent per store. */
  release(): Promise<void>;
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new GamifyError("INVALID_ARGUMENT", `${field} must be a positive number of milliseconds; got ${String(value)}.`, { details: { field } });
  }
  return value;
}

/** Validates connection options and prepares a lazily opened connection. Sends nothing. */
export function createConnection(options: RedisConnectionOptions, adapter: string): Connection {
  const { client: hostClient, url } = options;
  if ((hostClient === undefined) === (url === undefined)) {
    throw new GamifyError("INVALID_ARGUMENT", `${adapter} needs exactly one of \`client\` (an ioredis instance you own) or \`url\` (redis://…).`, {
      details: { field: hostClient === undefined ? "url" : "client" },
    });
  }
  if ((hostClient as { isCluster?: unknown } | undefined)?.isCluster === true) {
    // Awards touch the user's keys and the global user index in one script: not one Cluster slot.
    throw new GamifyError("INVALID_ARGUMENT", `${adapter} does not support Redis Cluster yet; pass a standalone or Sentinel client (see the README).`, {
      details: { field: "client" },
    });
  }
  if (url !== undefined && (typeof url !== "string" || !/^rediss?:\/\//.test(url))) {
    throw new GamifyError("INVALID_ARGUMENT", `url must start with redis:// or rediss://; got ${JSON.stringify(url)}.`, { details: { field: "url" } });
  }
  const prefix = options.keyPrefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== "string") {
    throw new GamifyError("INVALID_ARGUMENT", "keyPrefix must be a string.", { details: { field: "keyPrefix" } });
  }
  const commandTimeout = positive(options.commandTimeoutMs, "commandTimeoutMs", DEFAULT_COMMAND_TIMEOUT_MS);
  const connectTimeout = positive(options.connectTimeoutMs, "connectTimeoutMs", DEFAULT_CONNECT_TIMEOUT_MS);
  const where = url === undefined ? "the Redis client passed as `client`" : `Redis at ${redactUrl(url)}`;

  let owned: Redis | undefined;
  // Reconnect attempts since the connection was last ready.
  let failedAttempts = 0;
  let users = 0;
  let ended = false;

  const client = (): Redis => {
    if (hostClient !== undefined) return hostClient;
    if (owned === undefined) {
      owned = new Redis(url as string, {
        lazyConnect: true,
        connectTimeout,
        commandTimeout,
        // Queued commands survive one reconnect attempt, then fail fast rather than pile up.
        maxRetriesPerRequest: 1,
        // The offline queue absorbs a short blip (bounded by commandTimeout); without it the first
        // command after a reconnect starts would fail even though Redis is about to answer.
        enableOfflineQueue: true,
        // A script in flight when the connection drops may have run: resending it could apply an
        // award twice. Fail it instead; callers retry with an idempotency key.
        autoResendUnfulfilledCommands: false,
        retryStrategy: (times) => {
          failedAttempts = times;
          return Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(times - 1, 10));
        },
      });
      // Failures surface on the commands that hit them; without a listener ioredis logs each one.
      owned.on("error", () => undefined);
      owned.on("ready", () => {
        failedAttempts = 0;
      });
    }
    return owned;
  };

  const hostPrefix = (): string => {
    const p = (hostClient?.options as { keyPrefix?: unknown } | undefined)?.keyPrefix;
    return typeof p === "string" ? p : "";
  };

  const run = async <T>(what: string, work: (c: Redis) => Promise<T>): Promise<T> => {
    try {
      // Once a reconnect has failed too, Redis is down rather than blipping: fail now instead of
      // queueing until the timeout. ioredis keeps reconnecting in the background.
      if (owned !== undefined && failedAttempts >= 2 && owned.status !== "ready") {
        throw new Error(`not connected (${failedAttempts} connection attempts failed; still retrying)`);
      }
      const pending = work(client());
      // A host's client may have no command timeout; never let a call hang on it.
      return hostClient === undefined ? await pending : await withTimeout(pending, commandTimeout);
    } catch (error) {
      if (error instanceof GamifyError) throw error;
      throw new GamifyError(
        "STORAGE_UNAVAILABLE",
        `Redis ${what} failed: ${error instanceof Error ? error.message : String(error)}. Check that ${where} is reachable and accepts commands; a call that timed out may still have been applied, so retry with the same idempotency key.`,
        { cause: error },
      );
    }
  };

  return {
    prefix,
    get scriptPrefix() {
      return hostPrefix() + prefix;
    },
    run,
    eval(script, keys, args) {
      return run(script.name, (c) =>
        c.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
          // A restarted or failed-over server has an empty script cache: EVAL loads it again.
          if (error instanceof Error && error.message.startsWith("NOSCRIPT")) return c.eval(script.lua, keys.length, ...keys, ...args);
          throw error;
        }),
      );
    },
    acquire() {
      users++;
    },
    async release() {
      users--;
      if (users > 0 || ended) return;
      ended = true;
      const c = owned;
      if (c === undefined) return;
      if (c.status === "ready") {
        // QUIT lets in-flight replies arrive; a server that stops answering gets cut off.
        await withTimeout(c.quit(), commandTimeout).catch(() => c.disconnect());
      } else {
        c.disconnect();
      }
    },
  };
}

/** `promise`, or a rejection after `ms`: one promise and one timer per call (every award pays this on a host's client). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "the configured URL";
  }
}

/** The error every store throws after close(). */
export function closedError(store: string): GamifyError {
  return new GamifyError("CLOSED", `This Redis ${store} was closed; create a new one.`);
}
