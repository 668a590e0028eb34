// startServer with each storage the configuration can pick, against the real servers: an award
// over HTTP lands in that store (and SQL migrations run on start). The Postgres run also uses the
// Postgres event bus between two instances.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTestServer } from "@gamifykit/adapter-tests";
import { tableNames } from "@gamifykit/sql";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigError, loadConfig, startServer, type RunningServer } from "../src/index.js";

const postgres = await findTestServer("postgres");
const mariadb = await findTestServer("mysql");

function start(env: Record<string, string>): Promise<RunningServer> {
  return startServer(loadConfig({ GAMIFYKIT_PROFILE: "test", GAMIFYKIT_PORT: "0", GAMIFYKIT_LOG_LEVEL: "silent", ...env }));
}

async function award(server: RunningServer, userId: string, amount: number): Promise<{ total: number }> {
  const response = await fetch(`${server.url}/v1/users/${userId}/points`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ amount, metric: "xp" }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { total: number };
}

async function points(server: RunningServer, userId: string): Promise<number> {
  const response = await fetch(`${server.url}/v1/users/${userId}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { points: Record<string, number> }).points["xp"] ?? 0;
}

afterAll(async () => {
  await postgres?.stop();
  await mariadb?.stop();
});

describe("file store", () => {
  test("awards survive a restart in GAMIFYKIT_FILE_DIRECTORY", async () => {
    const directory = mkdtempSync(join(tmpdir(), "gk-server-file-"));
    const first = await start({ GAMIFYKIT_STORE: "file", GAMIFYKIT_FILE_DIRECTORY: directory });
    expect((await award(first, "alice", 7)).total).toBe(7);
    await first.close();
    expect(readdirSync(directory).length).toBeGreaterThan(0);
    const second = await start({ GAMIFYKIT_STORE: "file", GAMIFYKIT_FILE_DIRECTORY: directory });
    expect(await points(second, "alice")).toBe(7);
    await second.close();
  });

  test("a failed listen (port in use) releases the store: the directory's lock is free again", async () => {
    const directory = mkdtempSync(join(tmpdir(), "gk-server-file-"));
    const holder = await start({});
    await expect(start({ GAMIFYKIT_STORE: "file", GAMIFYKIT_FILE_DIRECTORY: directory, GAMIFYKIT_PORT: String(holder.port) })).rejects.toMatchObject({ code: "EADDRINUSE" });
    const next = await start({ GAMIFYKIT_STORE: "file", GAMIFYKIT_FILE_DIRECTORY: directory });
    expect((await award(next, "zoe", 1)).total).toBe(1);
    await Promise.all([next.close(), holder.close()]);
  });
});

describe("engine settings core refuses", () => {
  test("are a ConfigError naming the engine section, and leave no store open", async () => {
    const directory = mkdtempSync(join(tmpdir(), "gk-server-file-"));
    const file = join(directory, "..", `gk-engine-${randomUUID()}.json`);
    const attempt = (engine: unknown) => {
      writeFileSync(file, JSON.stringify({ engine }));
      return startServer(
        loadConfig({ GAMIFYKIT_PROFILE: "test", GAMIFYKIT_PORT: "0", GAMIFYKIT_LOG_LEVEL: "silent", GAMIFYKIT_STORE: "file", GAMIFYKIT_FILE_DIRECTORY: directory }, { file }),
      );
    };
    const badCurve = await attempt({ levels: { xp: { type: "table", thresholds: [5, 10] } } }).catch((e: unknown) => e);
    expect(badCurve).toBeInstanceOf(ConfigError);
    expect((badCurve as ConfigError).problems[0]).toMatch(/^"engine" in the config file: levels\.table needs .*first threshold is 0/);
    const badRule = await attempt({ rules: [{ id: "r1", when: { metric: "xp", reaches: 10 }, award: { badge: "not a badge!" } }] }).catch((e: unknown) => e);
    expect(badRule).toBeInstanceOf(ConfigError);
    expect((badRule as ConfigError).problems[0]).toMatch(/^"engine" in the config file: /);
    const fine = await attempt({ rules: [{ id: "r1", when: { metric: "xp", reaches: 10 }, award: { badge: "ten" } }] });
    expect((await award(fine, "ann", 10)).total).toBe(10);
    await fine.close();
  });
});

describe.runIf(postgres)("postgres store and bus", () => {
  const tablePrefix = `gks_${randomUUID().slice(0, 8)}_`;
  afterAll(async () => {
    const client = new pg.Client({ connectionString: postgres!.url });
    await client.connect();
    const { rows } = await client.query<{ tablename: string }>("select tablename from pg_tables where tablename like $1", [`${tablePrefix}%`]);
    for (const { tablename } of rows) await client.query(`drop table if exists "${tablename}" cascade`);
    await client.end();
  });

  test("migrates on start, serves awards from Postgres, and fans events out over LISTEN/NOTIFY", async () => {
    const env = {
      GAMIFYKIT_STORE: "postgres",
      GAMIFYKIT_DATABASE_URL: postgres!.url,
      GAMIFYKIT_SQL_TABLE_PREFIX: tablePrefix,
      GAMIFYKIT_BUS: "postgres",
      GAMIFYKIT_BUS_CHANNEL: `gk_${randomUUID().slice(0, 8)}`,
    };
    const a = await start(env);
    const b = await start(env);
    try {
      const stream = await fetch(`${b.url}/v1/events?userId=pg-user`);
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      expect((await award(a, "pg-user", 12)).total).toBe(12);
      let text = "";
      while (!text.includes("points_added")) text += (await reader.read()).value ?? "";
      expect(text).toMatch(/"userId":"pg-user"/);
      await reader.cancel();
      expect(await points(b, "pg-user")).toBe(12);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const client = new pg.Client({ connectionString: postgres!.url });
    await client.connect();
    const { rows } = await client.query("select count(*)::int as n from pg_tables where tablename = $1", [tableNames(tablePrefix).users]);
    await client.end();
    expect(rows[0]).toEqual({ n: 1 });
  });
});

describe.runIf(mariadb)("mysql store", () => {
  const tablePrefix = `gks_${randomUUID().slice(0, 8)}_`;
  afterAll(async () => {
    const connection = await mysql.createConnection(mariadb!.url);
    const [rows] = await connection.query("select table_name as t from information_schema.tables where table_schema = database() and table_name like ?", [`${tablePrefix}%`]);
    await connection.query("set foreign_key_checks = 0");
    for (const { t } of rows as { t: string }[]) await connection.query(`drop table if exists \`${t}\``);
    await connection.end();
  });

  test("migrates on start and serves awards from MySQL/MariaDB", async () => {
    const server = await start({ GAMIFYKIT_STORE: "mysql", GAMIFYKIT_DATABASE_URL: mariadb!.url, GAMIFYKIT_SQL_TABLE_PREFIX: tablePrefix });
    try {
      expect((await award(server, "my-user", 9)).total).toBe(9);
      expect((await award(server, "my-user", 1)).total).toBe(10);
      expect(await points(server, "my-user")).toBe(10);
    } finally {
      await server.close();
    }
  });
});
