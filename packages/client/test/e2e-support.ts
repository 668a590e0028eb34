import { createHash, createHmac, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, startServer, type RunningServer } from "@gamifykit/server";

export const KEYS = { admin: "admin-key-0123456789", reader: "reader-key-0123456789" } as const;
export const JWT_SECRET = "e2e-jwt-secret-that-is-long-enough-0123456789";
export const hash = (raw: string) => `sha256:${createHash("sha256").update(raw).digest("hex")}`;

/** An HS256 JWT signed with {@link JWT_SECRET}. */
export function jwt(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ iat: now, exp: now + 600, ...claims })}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

/** An RS256 JWT signed with `privateKey`. */
export function jwtRs256(claims: Record<string, unknown>, privateKey: KeyObject): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iat: now, exp: now + 600, ...claims })}`;
  return `${head}.${sign("sha256", Buffer.from(head), privateKey).toString("base64url")}`;
}

/** The engine section the e2e servers share: xp levels, a weekly board, a rule. */
export const ENGINE = {
  levels: { xp: { type: "quadratic", base: 100 } },
  leaderboards: [{ metric: "xp", periods: ["all", "week"] }],
  metrics: { coins: { floor: 0 } },
  rules: [{ id: "xp-100", when: { metric: "xp", reaches: 100 }, award: { badge: "centurion" } }],
};

const configDir = mkdtempSync(join(tmpdir(), "gk-e2e-"));

/** Starts a real server on loopback from environment-style settings plus the e2e engine config file. */
export async function startE2eServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const file = join(configDir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ engine: ENGINE }));
  const config = loadConfig(
    {
      GAMIFYKIT_PROFILE: "test",
      GAMIFYKIT_HOST: "127.0.0.1",
      GAMIFYKIT_PORT: "0",
      GAMIFYKIT_LOG_LEVEL: "silent",
      GAMIFYKIT_API_KEYS: `ops:admin:${hash(KEYS.admin)},dash:reader:${hash(KEYS.reader)}`,
      GAMIFYKIT_JWT_SECRET: JWT_SECRET,
      GAMIFYKIT_SHUTDOWN_TIMEOUT: "2s",
      ...env,
    },
    { file },
  );
  return startServer(config);
}

/** Polls until `check` holds (for things that happen on another connection), failing after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
