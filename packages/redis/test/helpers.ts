import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/** A fresh key prefix for one store, under a per-run root so cleanup finds every key. */
export function prefixer(run: string): () => string {
  return () => `gk-test:${run}:${randomUUID().slice(0, 8)}:`;
}

/** A per-file root prefix, e.g. `gk-test:suite-1a2b3c4d`. */
export function runId(name: string): string {
  return `${name}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `gk-test:<run>:` with SCAN + UNLINK (never KEYS). */
export async function deletePrefix(client: Redis, run: string): Promise<number> {
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `gk-test:${run}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** The names of the commands `fn` sends through `redis`, in order. */
export async function commandsSentBy(redis: Redis, fn: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    sent.push(command.name);
    return (original as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  try {
    await fn();
  } finally {
    redis.sendCommand = original;
  }
  return sent;
}
