// Web Crypto is global in Node 20+, Deno, Bun and edge runtimes; core declares only what it uses.
declare const crypto: { randomUUID?: () => string } | undefined;

let counter = 0;

/** A unique event id: a UUID where Web Crypto exists, otherwise time, counter and randomness. */
export function newId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  counter = (counter + 1) % 0x100000;
  return `${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
