// Web Crypto is global in Node 20+, Deno, Bun and edge runtimes; core declares only what it uses.
declare const crypto: { randomUUID?: () => string; getRandomValues?: (array: Uint32Array) => Uint32Array } | undefined;

let counter = 0;

/** A unique event id: a UUID where Web Crypto exists, otherwise time, counter and randomness. */
export function newId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  counter = (counter + 1) % 0x100000;
  return `${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * A random 32-bit seed for in-memory hash tables, so user ids cannot be chosen to collide (hash
 * flooding). Web Crypto where it exists, otherwise Math.random.
 */
export function randomSeed(): number {
  if (typeof crypto !== "undefined" && typeof crypto.getRandomValues === "function") return crypto.getRandomValues(new Uint32Array(1))[0]!;
  return (Math.random() * 0x100000000) >>> 0;
}
