import { z } from "zod";

/**
 * zod parsers for one configuration value. Each accepts what an environment variable holds (a
 * string) and what a JSON config file holds (a string, number or boolean), so both sources share
 * one parser and one error message.
 */

export const text = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v).trim());

/** An integer in `[min, max]`. */
export function integer(min: number, max: number) {
  return text.pipe(z.string().regex(/^-?\d+$/)).transform(Number).pipe(z.number().int().min(min).max(max));
}

/** true/false, also 1/0, yes/no, on/off. */
export const boolean = text.transform((v) => v.toLowerCase()).pipe(
  z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]).transform((v) => v === "true" || v === "1" || v === "yes" || v === "on"),
);

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return text.pipe(z.enum(values));
}

/** Any non-empty string. */
export const nonEmpty = text.pipe(z.string().min(1));

/** A URL with one of the given schemes. */
export function url(schemes: readonly string[]) {
  return nonEmpty.refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol.replace(/:$/, ""));
    } catch {
      return false;
    }
  });
}

/** A route prefix: "" or "/segment[/segment…]" without a trailing slash. */
export const prefix = text.pipe(z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/));

/** A key prefix for Redis keys: printable, no spaces. */
export const keyPrefix = text.pipe(z.string().regex(/^[\x21-\x7e]{1,100}$/));

/** A SQL table prefix as @gamifykit/sql accepts it. */
export const tablePrefix = text.pipe(z.string().regex(/^[a-z0-9_]{0,40}$/));

/** An IANA time zone the runtime knows. */
export const timeZone = nonEmpty.refine((v) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: v });
    return true;
  } catch {
    return false;
  }
});

const DURATION = /^(\d+)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, written `500`, `500ms`, `30s`, `5m` or `1h`. */
export const duration = text.pipe(z.string().regex(DURATION)).transform((v) => {
  const [, amount, unit] = DURATION.exec(v) as RegExpExecArray;
  return Number(amount) * (UNIT_MS[unit ?? "ms"] as number);
});

/** A rate-limit tier written `<requests>/<window>`, e.g. `600/1m`. */
export const rateTier = text
  .pipe(z.string().regex(/^\d+\/\d+(ms|s|m|h)?$/))
  .transform((v) => {
    const [limit, window] = v.split("/") as [string, string];
    return { limit: Number(limit), windowMs: duration.parse(window) };
  })
  .pipe(z.object({ limit: z.number().int().min(1).max(1_000_000_000), windowMs: z.number().int().min(1).max(86_400_000) }));

const API_KEY = /^([A-Za-z0-9_.-]{1,64}):(admin|reader):(sha256:[0-9a-f]{64})$/;

/** An API key as configured: its id, role and the sha256 of the raw key. */
export interface ApiKeyEntry {
  readonly id: string;
  readonly role: "admin" | "reader";
  readonly hash: string;
}

const apiKeyObject = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  role: z.enum(["admin", "reader"]),
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});

/**
 * API keys: comma- or newline-separated `id:role:sha256:<hex>` entries (the form a `_FILE` holds
 * one per line), or, in the config file, an array of `{ id, role, hash }`.
 */
export const apiKeys = z.union([
  z.array(apiKeyObject).min(1),
  text
    .transform((v) =>
      v
        .split(/[,\n]/)
        .map((s) => s.trim())
        .filter((s) => s !== "" && !s.startsWith("#")),
    )
    .pipe(z.array(z.string().regex(API_KEY)).min(1))
    .transform((entries) =>
      entries.map((entry): ApiKeyEntry => {
        const [, id, role, hash] = API_KEY.exec(entry) as RegExpExecArray;
        return { id: id as string, role: role as "admin" | "reader", hash: hash as string };
      }),
    ),
]);

/** A comma-separated list of non-empty strings. */
export const list = z.union([
  z.array(z.string().min(1)).min(1),
  text.transform((v) => v.split(",").map((s) => s.trim())).pipe(z.array(z.string().min(1)).min(1)),
]);

/** CORS origins: `*`, or a comma-separated list of `scheme://host[:port]` origins. */
export const origins = z.union([
  z.literal("*"),
  list.pipe(
    z.array(
      z.string().refine((v) => {
        try {
          return new URL(v).origin === v;
        } catch {
          return false;
        }
      }),
    ),
  ),
]);

/** A PEM public key (SPKI). */
export const pem = text.pipe(z.string().regex(/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/));

/** A secret of at least 32 characters (HS256 wants 256 bits). */
export function text32() {
  return text.pipe(z.string().min(32));
}

/** A pub/sub or LISTEN channel name. */
export const channel = z.string().regex(/^[a-z0-9_:.-]{1,63}$/);
