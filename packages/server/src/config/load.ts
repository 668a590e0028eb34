import { readFileSync } from "node:fs";
import { GamifyError } from "@gamifykit/core";
import type { z } from "zod";
import { engineSchema, type EngineConfig } from "./engine.js";
import type { ApiKeyEntry } from "./values.js";
import { CONFIG_FILE_VARIABLE, VARIABLES, type Variable } from "./variables.js";

type Vars = typeof VARIABLES;
type Keyed = { [V in Vars[number] as V["key"]]: z.output<V["schema"]> };

/** Start-up profile. */
export type Profile = "development" | "test" | "production";

/** Where state lives. */
export type StoreConfig =
  | { readonly kind: "memory" }
  | { readonly kind: "file"; readonly directory: string; readonly durability: "fsync" | "batch" | "none" }
  | { readonly kind: "redis"; readonly url: string; readonly keyPrefix: string }
  | { readonly kind: "postgres" | "mysql"; readonly url: string; readonly tablePrefix: string; readonly poolSize: number; readonly migrate: boolean };

/** A rate-limit tier. */
export interface TierConfig {
  readonly limit: number;
  readonly windowMs: number;
}

/** JWT verification, exactly one key source. */
export interface JwtSettings {
  readonly secret?: string;
  readonly publicKey?: string;
  readonly jwksUrl?: string;
  readonly issuer?: readonly string[];
  readonly audience?: readonly string[];
  readonly roleClaim: string;
  readonly userClaim: string;
}

/** The validated server configuration {@link loadConfig} returns and {@link startServer} takes. */
export interface ServerConfig {
  readonly profile: Profile;
  readonly host: string;
  readonly port: number;
  readonly prefix: string;
  readonly trustProxy: boolean;
  readonly shutdownTimeoutMs: number;
  readonly store: StoreConfig;
  /** Redis used by the bus and the rate limiter (and the store when it is Redis). */
  readonly redisUrl?: string;
  readonly redisKeyPrefix: string;
  /** Database used by the Postgres bus (and the store when it is SQL). */
  readonly databaseUrl?: string;
  readonly timeZone: string;
  readonly auth: { readonly apiKeys: readonly ApiKeyEntry[]; readonly jwt?: JwtSettings } | false;
  readonly rateLimit:
    | { readonly store: "memory" | "redis"; readonly tiers: { readonly admin: TierConfig; readonly reader: TierConfig; readonly user: TierConfig; readonly anonymous: TierConfig } }
    | false;
  readonly cors: { readonly origins: readonly string[] | "*"; readonly credentials: boolean } | false;
  readonly bodyLimit: number;
  readonly log: { readonly level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"; readonly format: "json" | "pretty" };
  readonly metricsAuth: boolean;
  readonly realtime: { readonly enabled: boolean; readonly bus: "none" | "redis" | "postgres"; readonly channel?: string };
  readonly engine: EngineConfig;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Path of a JSON config file; overrides `GAMIFYKIT_CONFIG_FILE`. */
  readonly file?: string;
}

/**
 * A configuration the server cannot start with. `problems` holds one line per bad setting, each
 * naming the variable and what it expects.
 */
export class ConfigError extends GamifyError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super("INVALID_ARGUMENT", `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`, { details: { problems } });
    this.problems = problems;
  }
}

const FILE_KEYS = new Set<string>([...VARIABLES.map((v) => v.key), "engine"]);

function quote(raw: unknown): string {
  return typeof raw === "string" ? JSON.stringify(raw) : JSON.stringify(raw) ?? String(raw);
}

function readText(path: string): string {
  return readFileSync(path, "utf8");
}

interface Source {
  readonly raw: unknown;
  /** How the value is named in messages: the variable, the `_FILE` variable, or the config file key. */
  readonly label: string;
}

/** Reads the JSON config file: an object whose keys are the settings' file keys, plus `engine`. */
function readConfigFile(path: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    problems.push(`${CONFIG_FILE_VARIABLE} names ${JSON.stringify(path)}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}); point it at a readable JSON file.`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`config file ${path} is not valid JSON: ${(error as Error).message}`);
    return {};
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${path} must hold a JSON object; see docs/configuration.md.`);
    return {};
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.has(key)) problems.push(`config file ${path} has an unknown setting "${key}"; the known ones are listed in docs/configuration.md.`);
  }
  return parsed as Record<string, unknown>;
}

/** Finds each variable's raw value: the environment (or its `_FILE`) wins over the config file. */
function sources(env: Readonly<Record<string, string | undefined>>, file: Record<string, unknown>, filePath: string | undefined, problems: string[]) {
  const found = new Map<string, Source>();
  for (const variable of VARIABLES as readonly Variable[]) {
    const direct = env[variable.name];
    const fromFile = variable.secret ? env[`${variable.name}_FILE`] : undefined;
    if (direct !== undefined && direct !== "" && fromFile !== undefined && fromFile !== "") {
      problems.push(`${variable.name} and ${variable.name}_FILE are both set; set only one.`);
      continue;
    }
    if (fromFile !== undefined && fromFile !== "") {
      try {
        found.set(variable.key, { raw: readText(fromFile), label: `${variable.name}_FILE (${fromFile})` });
      } catch (error) {
        problems.push(`${variable.name}_FILE names ${JSON.stringify(fromFile)}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}); it must be a readable file holding ${variable.expects}.`);
      }
    } else if (direct !== undefined && direct !== "") {
      found.set(variable.key, { raw: direct, label: variable.name });
    } else if (file[variable.key] !== undefined) {
      found.set(variable.key, { raw: file[variable.key], label: `"${variable.key}" in ${filePath}` });
    }
  }
  return found;
}

function defaultProfile(env: Readonly<Record<string, string | undefined>>): Profile {
  return env["NODE_ENV"] === "production" ? "production" : env["NODE_ENV"] === "test" ? "test" : "development";
}

/**
 * Reads and validates the server configuration from environment variables, `*_FILE` variables for
 * secrets, and an optional JSON config file (`GAMIFYKIT_CONFIG_FILE` or `options.file`). The
 * environment wins over the file. Every variable is documented in docs/configuration.md.
 *
 * @example
 * const config = loadConfig(process.env);
 * const server = await startServer(config);
 * @throws ConfigError (code `INVALID_ARGUMENT`) listing every bad setting, each naming its variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env, options: LoadConfigOptions = {}): ServerConfig {
  const problems: string[] = [];
  const filePath = options.file ?? (env[CONFIG_FILE_VARIABLE] || undefined);
  const file = filePath === undefined ? {} : readConfigFile(filePath, problems);

  const values: Partial<Record<string, unknown>> = {};
  for (const [key, source] of sources(env, file, filePath, problems)) {
    const variable = (VARIABLES as readonly Variable[]).find((v) => v.key === key) as Variable;
    const result = variable.schema.safeParse(source.raw);
    if (result.success) values[key] = result.data;
    else problems.push(`${source.label} must be ${variable.expects}; got ${variable.secret ? "a value that does not fit (not shown: it is a secret)" : quote(source.raw)}.`);
  }
  const set = values as Partial<Keyed>;

  let engine: EngineConfig = {};
  if (file["engine"] !== undefined) {
    const result = engineSchema.safeParse(file["engine"]);
    if (result.success) engine = result.data;
    else for (const issue of result.error.issues) problems.push(`"engine.${issue.path.join(".")}" in ${filePath}: ${issue.message}`);
  }

  const profile: Profile = set.profile ?? defaultProfile(env);
  const production = profile === "production";

  const store = storeConfig(set, problems);
  if (store?.kind === "memory" && production && !set.allowMemoryStore) {
    problems.push("GAMIFYKIT_STORE is memory (the default) under the production profile; set GAMIFYKIT_STORE to redis, postgres, mysql or file, or GAMIFYKIT_ALLOW_MEMORY_STORE=true to accept losing all state on restart.");
  }

  const auth = authConfig(set, problems);
  if (production && auth === false) {
    problems.push("the production profile needs authentication: set GAMIFYKIT_API_KEYS (or GAMIFYKIT_API_KEYS_FILE) and/or a JWT key (GAMIFYKIT_JWT_SECRET, GAMIFYKIT_JWT_PUBLIC_KEY or GAMIFYKIT_JWT_JWKS_URL).");
  }

  const rateLimitStore = set.rateLimitStore ?? (set.redisUrl ? "redis" : "memory");
  if (rateLimitStore === "redis" && !set.redisUrl) problems.push("GAMIFYKIT_RATE_LIMIT_STORE is redis but GAMIFYKIT_REDIS_URL is not set; set it, or use memory.");

  const bus = set.bus ?? "none";
  if (bus === "redis" && !set.redisUrl) problems.push("GAMIFYKIT_BUS is redis but GAMIFYKIT_REDIS_URL is not set; set it to the Redis every instance shares.");
  if (bus === "postgres" && !set.databaseUrl?.startsWith("postgres")) {
    problems.push("GAMIFYKIT_BUS is postgres but GAMIFYKIT_DATABASE_URL is not a postgres:// URL; set it to the database every instance shares.");
  }

  if (set.corsOrigins === "*" && set.corsCredentials) problems.push('GAMIFYKIT_CORS_CREDENTIALS=true cannot be combined with GAMIFYKIT_CORS_ORIGINS="*"; list the origins.');

  if (problems.length > 0 || !store) throw new ConfigError(problems);

  return {
    profile,
    host: set.host ?? (production ? "0.0.0.0" : "127.0.0.1"),
    port: set.port ?? 3000,
    prefix: set.prefix ?? "",
    trustProxy: set.trustProxy ?? false,
    shutdownTimeoutMs: set.shutdownTimeout ?? 10_000,
    store,
    ...(set.redisUrl === undefined ? {} : { redisUrl: set.redisUrl }),
    redisKeyPrefix: set.redisKeyPrefix ?? "gamifykit:",
    ...(set.databaseUrl === undefined ? {} : { databaseUrl: set.databaseUrl }),
    timeZone: set.timeZone ?? "UTC",
    auth,
    rateLimit:
      rateLimitStore === "off"
        ? false
        : {
            store: rateLimitStore,
            tiers: {
              admin: set.rateLimitAdmin ?? { limit: 6000, windowMs: 60_000 },
              reader: set.rateLimitReader ?? { limit: 3000, windowMs: 60_000 },
              user: set.rateLimitUser ?? { limit: 600, windowMs: 60_000 },
              anonymous: set.rateLimitAnonymous ?? { limit: 120, windowMs: 60_000 },
            },
          },
    cors: set.corsOrigins === undefined ? false : { origins: set.corsOrigins, credentials: set.corsCredentials ?? false },
    bodyLimit: set.bodyLimit ?? 1024 * 1024,
    log: {
      level: set.logLevel ?? (profile === "development" ? "debug" : profile === "test" ? "warn" : "info"),
      format: set.logFormat ?? (profile === "development" ? "pretty" : "json"),
    },
    metricsAuth: set.metricsAuth ?? true,
    realtime: { enabled: set.realtime ?? true, bus, ...(set.busChannel === undefined ? {} : { channel: set.busChannel }) },
    engine,
  };
}

function storeConfig(set: Partial<Keyed>, problems: string[]): StoreConfig | undefined {
  const kind = set.store ?? "memory";
  switch (kind) {
    case "memory":
      return { kind };
    case "file":
      if (!set.fileDirectory) {
        problems.push("GAMIFYKIT_STORE is file but GAMIFYKIT_FILE_DIRECTORY is not set; set it to the directory the store may own.");
        return undefined;
      }
      return { kind, directory: set.fileDirectory, durability: set.fileDurability ?? "fsync" };
    case "redis":
      if (!set.redisUrl) {
        problems.push("GAMIFYKIT_STORE is redis but GAMIFYKIT_REDIS_URL is not set; set it to a redis:// URL.");
        return undefined;
      }
      return { kind, url: set.redisUrl, keyPrefix: set.redisKeyPrefix ?? "gamifykit:" };
    case "postgres":
    case "mysql": {
      const scheme = kind === "postgres" ? /^postgres(ql)?:/ : /^mysql:/;
      if (!set.databaseUrl || !scheme.test(set.databaseUrl)) {
        problems.push(`GAMIFYKIT_STORE is ${kind} but GAMIFYKIT_DATABASE_URL is ${set.databaseUrl ? `not a ${kind}:// URL` : "not set"}; set it to a ${kind}:// URL.`);
        return undefined;
      }
      return { kind, url: set.databaseUrl, tablePrefix: set.sqlTablePrefix ?? "gamifykit_", poolSize: set.sqlPoolSize ?? 10, migrate: set.migrate ?? true };
    }
  }
}

function authConfig(set: Partial<Keyed>, problems: string[]): ServerConfig["auth"] {
  const keySources = [set.jwtSecret, set.jwtPublicKey, set.jwtJwksUrl].filter((s) => s !== undefined);
  if (keySources.length > 1) problems.push("set only one of GAMIFYKIT_JWT_SECRET, GAMIFYKIT_JWT_PUBLIC_KEY and GAMIFYKIT_JWT_JWKS_URL.");
  const jwt: JwtSettings | undefined =
    keySources.length === 0
      ? undefined
      : {
          ...(set.jwtSecret === undefined ? {} : { secret: set.jwtSecret }),
          ...(set.jwtPublicKey === undefined ? {} : { publicKey: set.jwtPublicKey }),
          ...(set.jwtJwksUrl === undefined ? {} : { jwksUrl: set.jwtJwksUrl }),
          ...(set.jwtIssuer === undefined ? {} : { issuer: set.jwtIssuer }),
          ...(set.jwtAudience === undefined ? {} : { audience: set.jwtAudience }),
          roleClaim: set.jwtRoleClaim ?? "role",
          userClaim: set.jwtUserClaim ?? "sub",
        };
  if (keySources.length === 0 && (set.jwtIssuer || set.jwtAudience)) problems.push("GAMIFYKIT_JWT_ISSUER/AUDIENCE are set but no JWT key is; set GAMIFYKIT_JWT_SECRET, _PUBLIC_KEY or _JWKS_URL.");
  if (!set.apiKeys && !jwt) return false;
  return { apiKeys: set.apiKeys ?? [], ...(jwt ? { jwt } : {}) };
}
