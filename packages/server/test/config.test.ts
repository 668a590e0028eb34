import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGamify } from "@gamifykit/core";
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../src/index.js";
import { configurationMarkdown } from "../src/config/docs.js";
import { engineOptions } from "../src/config/engine.js";

const HASH = `sha256:${"ab".repeat(32)}`;
const dir = mkdtempSync(join(tmpdir(), "gk-config-"));

function problems(env: Record<string, string>, file?: string): readonly string[] {
  try {
    loadConfig(env, file === undefined ? {} : { file });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe("INVALID_ARGUMENT");
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("defaults of the development profile", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      profile: "development",
      host: "127.0.0.1",
      port: 3000,
      prefix: "",
      store: { kind: "memory" },
      auth: false,
      log: { level: "debug", format: "pretty" },
      realtime: { enabled: true, bus: "none" },
      bodyLimit: 1048576,
    });
    expect(config.rateLimit).toMatchObject({ store: "memory", tiers: { user: { limit: 600, windowMs: 60_000 } } });
  });

  test("a bad value names the variable, what it expects and what it got", () => {
    expect(problems({ GAMIFYKIT_PORT: "abc" })).toEqual(['GAMIFYKIT_PORT must be an integer 0–65535 (0 picks a free port); got "abc".']);
    expect(problems({ GAMIFYKIT_PORT: "70000" })[0]).toMatch(/^GAMIFYKIT_PORT must be an integer 0–65535/);
    expect(problems({ GAMIFYKIT_STORE: "mongo" })[0]).toMatch(/^GAMIFYKIT_STORE must be one of memory, file, redis, postgres, mysql; got "mongo"/);
    expect(problems({ GAMIFYKIT_RATE_LIMIT_USER: "ten" })[0]).toMatch(/^GAMIFYKIT_RATE_LIMIT_USER must be requests per window/);
    expect(problems({ GAMIFYKIT_CORS_ORIGINS: "https://a.com/path" })[0]).toMatch(/^GAMIFYKIT_CORS_ORIGINS must be/);
    expect(problems({ GAMIFYKIT_TIME_ZONE: "Mars/Olympus" })[0]).toMatch(/^GAMIFYKIT_TIME_ZONE must be an IANA time zone/);
  });

  test("every problem is reported at once", () => {
    expect(problems({ GAMIFYKIT_PORT: "x", GAMIFYKIT_LOG_LEVEL: "loud", GAMIFYKIT_BUS: "redis" })).toHaveLength(3);
  });

  test("secrets are never echoed", () => {
    const [line] = problems({ GAMIFYKIT_JWT_SECRET: "too-short-secret" });
    expect(line).toMatch(/^GAMIFYKIT_JWT_SECRET must be a shared secret of at least 32 characters/);
    expect(line).not.toContain("too-short-secret");
  });

  test("*_FILE variables read secrets from files", () => {
    const keys = join(dir, "keys");
    writeFileSync(keys, `# deploy keys\nbackend:admin:${HASH}\ndashboard:reader:${HASH}\n`);
    const secret = join(dir, "jwt");
    writeFileSync(secret, `${"s".repeat(40)}\n`);
    const db = join(dir, "db");
    writeFileSync(db, "postgres://u:p@db:5432/app\n");
    const config = loadConfig({ GAMIFYKIT_API_KEYS_FILE: keys, GAMIFYKIT_JWT_SECRET_FILE: secret, GAMIFYKIT_STORE: "postgres", GAMIFYKIT_DATABASE_URL_FILE: db });
    expect(config.auth).toEqual({
      apiKeys: [
        { id: "backend", role: "admin", hash: HASH },
        { id: "dashboard", role: "reader", hash: HASH },
      ],
      jwt: { secret: "s".repeat(40), roleClaim: "role", userClaim: "sub" },
    });
    expect(config.store).toEqual({ kind: "postgres", url: "postgres://u:p@db:5432/app", tablePrefix: "gamifykit_", poolSize: 10, migrate: true });
  });

  test("a _FILE that cannot be read, or set beside its variable, is refused", () => {
    expect(problems({ GAMIFYKIT_JWT_SECRET_FILE: join(dir, "missing") })[0]).toMatch(/^GAMIFYKIT_JWT_SECRET_FILE names ".*missing", which cannot be read \(ENOENT\)/);
    expect(problems({ GAMIFYKIT_JWT_SECRET: "s".repeat(40), GAMIFYKIT_JWT_SECRET_FILE: join(dir, "jwt") })).toEqual([
      "GAMIFYKIT_JWT_SECRET and GAMIFYKIT_JWT_SECRET_FILE are both set; set only one.",
    ]);
  });

  test("the production profile demands auth and refuses the memory store unless allowed", () => {
    const lines = problems({ GAMIFYKIT_PROFILE: "production" });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/GAMIFYKIT_STORE is memory .* GAMIFYKIT_ALLOW_MEMORY_STORE=true/);
    expect(lines[1]).toMatch(/production profile needs authentication: set GAMIFYKIT_API_KEYS/);
    const config = loadConfig({ NODE_ENV: "production", GAMIFYKIT_ALLOW_MEMORY_STORE: "true", GAMIFYKIT_API_KEYS: `ci:admin:${HASH}` });
    expect(config).toMatchObject({ profile: "production", host: "0.0.0.0", log: { level: "info", format: "json" }, store: { kind: "memory" } });
  });

  test("stores and buses need their URLs", () => {
    expect(problems({ GAMIFYKIT_STORE: "redis" })).toEqual(["GAMIFYKIT_STORE is redis but GAMIFYKIT_REDIS_URL is not set; set it to a redis:// URL."]);
    expect(problems({ GAMIFYKIT_STORE: "mysql", GAMIFYKIT_DATABASE_URL: "postgres://x@h/db" })[0]).toMatch(/not a mysql:\/\/ URL/);
    expect(problems({ GAMIFYKIT_STORE: "file" })[0]).toMatch(/GAMIFYKIT_FILE_DIRECTORY is not set/);
    expect(problems({ GAMIFYKIT_BUS: "postgres", GAMIFYKIT_DATABASE_URL: "mysql://r@h/db" })[0]).toMatch(/GAMIFYKIT_BUS is postgres/);
    expect(problems({ GAMIFYKIT_RATE_LIMIT_STORE: "redis" })[0]).toMatch(/GAMIFYKIT_RATE_LIMIT_STORE is redis/);
    expect(problems({ GAMIFYKIT_JWT_SECRET: "s".repeat(40), GAMIFYKIT_JWT_JWKS_URL: "https://idp/jwks" })[0]).toMatch(/only one of/);
    const redis = loadConfig({ GAMIFYKIT_STORE: "redis", GAMIFYKIT_REDIS_URL: "redis://r:6379", GAMIFYKIT_BUS: "redis" });
    expect(redis.store).toEqual({ kind: "redis", url: "redis://r:6379", keyPrefix: "gamifykit:" });
    expect(redis.rateLimit && redis.rateLimit.store).toBe("redis");
  });

  test("parses durations, tiers, booleans and lists", () => {
    const config = loadConfig({
      GAMIFYKIT_SHUTDOWN_TIMEOUT: "2s",
      GAMIFYKIT_RATE_LIMIT_ANONYMOUS: "5/500ms",
      GAMIFYKIT_TRUST_PROXY: "yes",
      GAMIFYKIT_CORS_ORIGINS: "https://a.example, http://localhost:5173",
      GAMIFYKIT_JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
      GAMIFYKIT_JWT_AUDIENCE: "api,web",
      GAMIFYKIT_RATE_LIMIT_STORE: "off",
    });
    expect(config.shutdownTimeoutMs).toBe(2000);
    expect(config.trustProxy).toBe(true);
    expect(config.cors).toEqual({ origins: ["https://a.example", "http://localhost:5173"], credentials: false });
    expect(config.auth && config.auth.jwt?.audience).toEqual(["api", "web"]);
    expect(config.rateLimit).toBe(false);
    const limited = loadConfig({ GAMIFYKIT_RATE_LIMIT_ANONYMOUS: "5/500ms" });
    expect(limited.rateLimit && limited.rateLimit.tiers.anonymous).toEqual({ limit: 5, windowMs: 500 });
  });

  test("the JSON config file: settings by file key, the environment wins, engine section", () => {
    const file = join(dir, "config.json");
    writeFileSync(
      file,
      JSON.stringify({
        port: 8080,
        prefix: "/api",
        apiKeys: [{ id: "ci", role: "admin", hash: HASH }],
        engine: {
          levels: { xp: { type: "quadratic", base: 100 }, coins: { type: "table", thresholds: [0, 10, 30] } },
          leaderboards: [{ metric: "xp", periods: ["all", "week"], timeZone: "Europe/Berlin" }],
          metrics: { coins: { floor: 0 } },
          rules: [{ id: "xp-100", when: { metric: "xp", reaches: 100 }, award: { badge: "centurion" } }],
        },
      }),
    );
    const config = loadConfig({ GAMIFYKIT_CONFIG_FILE: file, GAMIFYKIT_PORT: "9090" });
    expect(config.port).toBe(9090);
    expect(config.prefix).toBe("/api");
    expect(config.auth).toEqual({ apiKeys: [{ id: "ci", role: "admin", hash: HASH }] });
    const options = engineOptions(config.engine);
    expect(options.levels?.["xp"] && "levelFor" in options.levels["xp"] && options.levels["xp"].levelFor(400)).toBe(3);
    expect(options.levels?.["coins"] && "levelFor" in options.levels["coins"] && options.levels["coins"].levelFor(30)).toBe(3);
    expect(options.leaderboards).toEqual([{ metric: "xp", periods: ["all", "week"], timeZone: "Europe/Berlin" }]);
    expect(options.metrics).toEqual({ coins: { floor: 0 } });
    expect(options.rules).toEqual([{ id: "xp-100", when: { metric: "xp", reaches: 100 }, award: { badge: "centurion" } }]);
  });

  test("leaderboards with seasons, finishing, winners and watches reach core as core accepts them", async () => {
    const file = join(dir, "seasons.json");
    const board = {
      metric: "xp",
      periods: ["all", "week"],
      seasons: [{ id: "s1", start: "2026-09-01", end: "2026-12-01" }],
      finishAfter: 3_600_000,
      winners: 5,
      keepFinishedFor: "forever",
      watch: { top: 10 },
    };
    writeFileSync(file, JSON.stringify({ engine: { leaderboards: [board], finishLeaderboards: { intervalMs: 60_000 } } }));
    const options = engineOptions(loadConfig({ GAMIFYKIT_CONFIG_FILE: file }).engine);
    expect(options.leaderboards).toEqual([board]);
    expect(options.finishLeaderboards).toEqual({ intervalMs: 60_000 });
    const gk = createGamify(options);
    await gk.addPoints("alice", 5, { metric: "xp", at: Date.UTC(2026, 9, 1) });
    expect(await gk.leaderboard("xp", { period: "season", at: "s1" }).top()).toEqual([{ userId: "alice", score: 5, rank: 1 }]);
    await gk.close();
  });

  test("a bad config file is refused with the key path", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ prot: 1, port: "x", engine: { levels: { xp: { type: "cubic" } } } }));
    const lines = problems({}, file);
    expect(lines.some((l) => l.includes('unknown setting "prot"'))).toBe(true);
    expect(lines.some((l) => l.startsWith(`"port" in ${file} must be an integer`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`"engine.levels.xp.type" in ${file}`))).toBe(true);
    writeFileSync(file, "{not json");
    expect(problems({}, file)[0]).toMatch(/is not valid JSON/);
    expect(problems({ GAMIFYKIT_CONFIG_FILE: join(dir, "nope.json") })[0]).toMatch(/^GAMIFYKIT_CONFIG_FILE names .* cannot be read/);
  });
});

describe("docs/configuration.md", () => {
  test("is what the schema generates (run `pnpm --filter @gamifykit/server docs:config`)", () => {
    const committed = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    expect(committed).toBe(configurationMarkdown());
  });
});
