import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { analyticsSuite, expectGamifyError, leaderboardSuite, storageSuite, type TestServer } from "@gamifykit/adapter-tests";
import { createGamify, levels, type LeaderboardStore, type Storage } from "@gamifykit/core";
import { sql } from "kysely";
import { migrate, sqlAnalytics, sqlLeaderboards, sqlStorage, sqlStores, tableNames, type SqlDialectName } from "../src/index.js";
import { main } from "../src/cli-main.js";
import { countingPool, openHost, randomPrefix, type CountingPool, type Host } from "./support.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = "packages/sql/src/cli.ts";
const CHILD = "packages/sql/test/fixtures/award-child.ts";

/** Runs `node --import tsx <script> …args` from the repository root. */
function runNode(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Registers the conformance suites and the backend-specific tests for one dialect. Every store
 * gets a fresh random table prefix, migrated in the factory; all of them are dropped afterwards.
 */
export function registerSqlTests(dialect: SqlDialectName, server: TestServer | undefined): void {
  describe.runIf(server !== undefined)(`sql adapter on ${dialect}`, () => {
    const url = server?.url ?? "";
    const prefixes: string[] = [];
    let host: Host;

    beforeAll(() => {
      host = openHost(dialect, url);
    });
    afterAll(async () => {
      await host.dropPrefixes(prefixes);
      await host.end();
    });

    /** A migrated, empty prefix of its own. */
    const fresh = async (): Promise<string> => {
      const tablePrefix = randomPrefix();
      prefixes.push(tablePrefix);
      await migrate({ db: host.db, tablePrefix });
      return tablePrefix;
    };

    /*
     * Migrating a prefix per suite test dominated the run time, so the suites' factories reuse
     * prefixes: one goes back to the pool only when the store on it has closed, and is emptied
     * (every row deleted) before the next store gets it. No two open stores ever share a prefix.
     */
    const idle: string[] = [];
    const lease = async <S extends { close(): Promise<void> }>(open: (tablePrefix: string) => S): Promise<S> => {
      let tablePrefix = idle.pop();
      if (tablePrefix === undefined) tablePrefix = await fresh();
      else {
        const { migrations: _m, migrationsLock: _l, ...data } = tableNames(tablePrefix);
        for (const table of Object.values(data)) await host.db.deleteFrom(table as never).execute();
      }
      const store = open(tablePrefix);
      let returned = false;
      return {
        ...store,
        async close() {
          await store.close();
          if (!returned) idle.push(tablePrefix);
          returned = true;
        },
      };
    };
    const runner = { describe, test };

    // The three suites, each through a different way of connecting: a URL, the host's pool, the host's Kysely.
    storageSuite(runner, () => lease((tablePrefix) => sqlStorage({ url, tablePrefix })), { name: dialect });
    // The leaderboard suite's engines keep their state (finish claims, event logs for backfills) in SQL too.
    leaderboardSuite(runner, () => lease((tablePrefix) => sqlLeaderboards({ dialect, pool: host.pool, tablePrefix })), {
      name: dialect,
      storage: () => lease((tablePrefix) => sqlStorage({ dialect, pool: host.pool, tablePrefix })),
    });
    analyticsSuite(runner, ({ timeZone }) => lease((tablePrefix) => sqlAnalytics({ db: host.db, tablePrefix, timeZone })), { name: dialect });

    // The storage and leaderboard suites again on the fused path: sqlStores' storage moves its
    // sibling board store inside each award's transaction (the engine passes AwardRequest.boards).
    const leaseStores = () => lease((tablePrefix) => sqlStores({ dialect, pool: host.pool, tablePrefix }));
    storageSuite(
      runner,
      async () => {
        const stores = await leaseStores();
        return { ...stores.storage, close: () => stores.close() };
      },
      { name: `${dialect}, fused boards` },
    );
    const siblings = new WeakMap<LeaderboardStore, Storage>();
    leaderboardSuite(
      runner,
      async () => {
        const stores = await leaseStores();
        const store = stores.leaderboardStore;
        // The engine checks `storage.leaderboards === store`, so the store itself must be returned;
        // its close() closes all three (and hands the prefix back).
        const own = store.close.bind(store);
        let closing = false;
        Object.assign(store, {
          close: async () => {
            if (closing) return own();
            closing = true;
            await stores.close();
          },
        });
        siblings.set(store, stores.storage);
        return store;
      },
      {
        name: `${dialect}, fused boards`,
        storage: (store) => {
          const storage = siblings.get(store);
          if (storage === undefined) throw new Error("the fused suite's store has no sibling storage");
          return storage;
        },
      },
    );

    describe("migrations", () => {
      test("migrate applies the schema once; a second run applies nothing", async () => {
        const tablePrefix = randomPrefix();
        prefixes.push(tablePrefix);
        const first = await migrate({ url, tablePrefix });
        expect(first).toEqual({ dialect, tablePrefix, applied: ["0001_initial", "0002_score_buckets", "0003_award_routine"] });
        const second = await migrate({ url, tablePrefix });
        expect(second.applied).toEqual([]);
        const storage = sqlStorage({ url, tablePrefix });
        await storage.health();
        expect(await storage.getUser("nobody")).toBeNull();
        await storage.close();
      });

      test("the CLI migrates and prints what it applied, is a no-op the second time, and exits non-zero on a bad URL", async () => {
        const tablePrefix = randomPrefix();
        prefixes.push(tablePrefix);
        const twice = async () => {
          const first = await runNode(CLI, ["migrate", "--url", url, "--table-prefix", tablePrefix]);
          return [first, await runNode(CLI, ["migrate", "--url", url, "--table-prefix", tablePrefix])];
        };
        // Process start-up dominates, so the failing run goes alongside the two that must be sequential.
        const [[first, second], bad] = await Promise.all([twice(), runNode(CLI, ["migrate", "--url", "nonsense://somewhere"])]);
        expect(first?.stderr).toBe("");
        expect(first?.code).toBe(0);
        expect(first?.stdout).toContain(`Applied 0001_initial (${dialect} tables with prefix "${tablePrefix}")`);
        expect(second?.code).toBe(0);
        expect(second?.stdout).toContain("nothing applied");
        const listed = await sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ${sql.table(tableNames(tablePrefix).users)}`.execute(host.db);
        expect(Number(listed.rows[0]?.n)).toBe(0);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/url must be a postgres:\/\/… or mysql:\/\/… connection URL/);
      });

      test("the CLI's other failures: unreachable server (1), bad prefix (1), unknown command or no URL (2)", async () => {
        const run = async (...argv: string[]) => {
          const lines = { out: [] as string[], err: [] as string[] };
          const code = await main(argv, (l) => lines.out.push(l), (l) => lines.err.push(l));
          return { code, out: lines.out.join("\n"), err: lines.err.join("\n") };
        };
        const down = await run("migrate", "--url", `${dialect}://root@127.0.0.1:1/test`);
        expect(down.code).toBe(1);
        expect(down.err).toMatch(/gamifykit-sql migrate failed: SQL .* failed/);
        const prefix = await run("migrate", "--url", url, "--table-prefix", "Bad-Prefix");
        expect(prefix.code).toBe(1);
        expect(prefix.err).toMatch(/tablePrefix must be/);
        expect((await run("upgrade")).code).toBe(2);
        expect((await run("migrate", "--bogus")).code).toBe(2);
        const saved = process.env["DATABASE_URL"];
        delete process.env["DATABASE_URL"];
        try {
          const missing = await run("migrate");
          expect(missing.code).toBe(2);
          expect(missing.err).toContain("pass --url or set DATABASE_URL");
        } finally {
          if (saved !== undefined) process.env["DATABASE_URL"] = saved;
        }
        expect((await run("--help")).out).toContain("Usage: gamifykit-sql migrate");
      });

      test("stores on tables that were never migrated fail with STORAGE_UNAVAILABLE naming migrate", async () => {
        const storage = sqlStorage({ db: host.db, tablePrefix: randomPrefix() });
        const error = await expectGamifyError(storage.getUser("u"), "STORAGE_UNAVAILABLE");
        expect(error.message).toContain("migrate");
        await storage.close();
      });
    });

    describe("connections", () => {
      test("an unreachable server gives STORAGE_UNAVAILABLE quickly, from every store and from migrate", async () => {
        const down = `${dialect}://root@127.0.0.1:1/test`;
        const started = Date.now();
        const stores = sqlStores({ url: down, tablePrefix: randomPrefix() });
        await expectGamifyError(stores.storage.health(), "STORAGE_UNAVAILABLE");
        await expectGamifyError(stores.storage.applyAwards("u", [], Date.now()).then(() => stores.storage.getUser("u")), "STORAGE_UNAVAILABLE");
        await expectGamifyError(stores.leaderboardStore.top("b", { offset: 0, limit: 1, mode: "standard" }), "STORAGE_UNAVAILABLE");
        await expectGamifyError(stores.analytics.activeUsers({ granularity: "day", at: Date.now() }), "STORAGE_UNAVAILABLE");
        await expectGamifyError(migrate({ url: down }), "STORAGE_UNAVAILABLE");
        await stores.close();
        expect(Date.now() - started).toBeLessThan(3000);
      });

      test("bad options are INVALID_ARGUMENT at construction, with no connection attempt", async () => {
        await expectGamifyError(() => sqlStorage({ url: "redis://127.0.0.1:6379" }), "INVALID_ARGUMENT");
        await expectGamifyError(() => sqlStorage({ url, tablePrefix: "x;drop" }), "INVALID_ARGUMENT");
        await expectGamifyError(() => sqlLeaderboards({ dialect: "oracle" as SqlDialectName, pool: host.pool }), "INVALID_ARGUMENT");
        await expectGamifyError(() => sqlAnalytics({ url, timeZone: "Mars/Olympus" }), "INVALID_ARGUMENT");
        await expectGamifyError(() => sqlStorage({ url, idempotencyTtlMs: 0 }), "INVALID_ARGUMENT");
      });

      test("closing a store never closes the host's pool or Kysely instance; calls after close fail with CLOSED", async () => {
        const tablePrefix = await fresh();
        const viaPool = sqlStorage({ dialect, pool: host.pool, tablePrefix });
        const viaDb = sqlLeaderboards({ db: host.db, tablePrefix });
        await viaPool.applyAwards("u", [{ metric: "xp", delta: 1, event: { id: "e1", type: "points_added", userId: "u", at: 1, metric: "xp", delta: 1, total: 0 } }], 1);
        await viaDb.set("b", "u", 5);
        await viaPool.close();
        await viaDb.close();
        await expectGamifyError(viaPool.getUser("u"), "CLOSED");
        await expectGamifyError(viaDb.count("b"), "CLOSED");
        const again = sqlStorage({ dialect, pool: host.pool, tablePrefix });
        expect((await again.getUser("u"))?.points).toEqual({ xp: 1 });
        await again.close();
        await sql`select 1`.execute(host.db);
      });

      test("sqlStores shares one pool; it stays open until the last store closes", async () => {
        const tablePrefix = await fresh();
        const stores = sqlStores({ url, tablePrefix });
        const gk = createGamify({ storage: stores.storage, leaderboardStore: stores.leaderboardStore, analytics: stores.analytics });
        await gk.addPoints("ann", 5, { metric: "xp" });
        await stores.storage.close();
        expect(await stores.leaderboardStore.count("xp/all/all")).toBe(1);
        expect(await stores.analytics.activeUsers({ granularity: "day", at: Date.now() })).toBe(1);
        await gk.close();
        await stores.close();
        await expectGamifyError(stores.analytics.activeUsers({ granularity: "day", at: Date.now() }), "CLOSED");
      });
    });

    describe("transactions", () => {
      test("an award that deadlocks with another transaction is retried and applies exactly once", async () => {
        const tablePrefix = await fresh();
        const t = tableNames(tablePrefix);
        const storage = sqlStorage({ url, tablePrefix });
        const award = (id: string) =>
          storage.applyAwards("u", [{ metric: "points", delta: 1, event: { id, type: "points_added", userId: "u", at: 1, metric: "points", delta: 1, total: 0 } }], 1);
        await award("e0");
        let blocked!: () => void;
        const awardBlocked = new Promise<void>((resolve) => (blocked = resolve));
        let pending: Promise<unknown> | undefined;
        await host.db.transaction().execute(async (trx) => {
          // Heavier than the award, so MySQL picks the award as the deadlock victim.
          for (let i = 0; i < 50; i++) {
            await sql`INSERT INTO ${sql.table(t.events)} (user_id, type, at, body) VALUES ('heavy', 'action', ${i}, '{}')`.execute(trx);
          }
          await sql`SELECT total FROM ${sql.table(t.points)} WHERE user_id = 'u' AND metric = 'points' FOR UPDATE`.execute(trx);
          // The award locks the user row, then waits for the points row we hold…
          pending = award("e1");
          setTimeout(blocked, 300);
          await awardBlocked;
          // …and we now wait for the user row it holds: a deadlock. The database aborts the award.
          await sql`SELECT user_id FROM ${sql.table(t.users)} WHERE user_id = 'u' FOR UPDATE`.execute(trx);
        });
        const [outcome] = (await pending) as [{ total: number; replayed: boolean }];
        expect(outcome.total).toBe(2);
        expect((await storage.getUser("u"))?.points.points).toBe(2);
        expect((await storage.readEvents("u", { limit: 10 })).events.map((e) => e.id)).toEqual(["e0", "e1"]);
        await storage.close();
      });

      test("an award with boards (sqlStores) that deadlocks with another transaction is retried and moves the board once", async () => {
        const tablePrefix = await fresh();
        const t = tableNames(tablePrefix);
        const stores = sqlStores({ dialect, pool: host.pool, tablePrefix });
        const gk = createGamify({ storage: stores.storage, leaderboardStore: stores.leaderboardStore, analytics: false });
        await gk.addPoints("u", 1);
        let blocked!: () => void;
        const awardBlocked = new Promise<void>((resolve) => (blocked = resolve));
        let pending: Promise<{ total: number }> | undefined;
        await host.db.transaction().execute(async (trx) => {
          // Heavier than the award, so MySQL picks the award as the deadlock victim.
          for (let i = 0; i < 50; i++) {
            await sql`INSERT INTO ${sql.table(t.events)} (user_id, type, at, body) VALUES ('heavy', 'action', ${i}, '{}')`.execute(trx);
          }
          await sql`SELECT n FROM ${sql.table(t.boardScores)} WHERE board = 'points/all/all' AND score = 1 FOR UPDATE`.execute(trx);
          // The award locks the user's rows, then waits for the score counter we hold…
          pending = gk.addPoints("u", 1);
          setTimeout(blocked, 300);
          await awardBlocked;
          // …and we now wait for the user row it holds: a deadlock. The database aborts the award.
          await sql`SELECT user_id FROM ${sql.table(t.users)} WHERE user_id = 'u' FOR UPDATE`.execute(trx);
        });
        expect((await pending)?.total).toBe(2);
        expect((await stores.storage.getUser("u"))?.points.points).toBe(2);
        expect(await stores.leaderboardStore.rank("points/all/all", "u", "standard")).toEqual({ userId: "u", score: 2, rank: 1 });
        const counters = await sql<{ score: unknown; n: unknown }>`SELECT score, n FROM ${sql.table(t.boardScores)} ORDER BY score`.execute(host.db);
        expect(counters.rows.map((r) => [Number(r.score), Number(r.n)])).toEqual([[2, 1]]);
        await gk.close();
        await stores.close();
      });

      test("an award with boards (sqlStores) whose board score would leave the safe-integer range writes nothing", async () => {
        const tablePrefix = await fresh();
        const stores = sqlStores({ dialect, pool: host.pool, tablePrefix });
        const gk = createGamify({ storage: stores.storage, leaderboardStore: stores.leaderboardStore, analytics: false });
        await gk.addPoints("u", 5);
        await stores.leaderboardStore.set("points/all/all", "u", Number.MAX_SAFE_INTEGER);
        await expectGamifyError(gk.addPoints("u", 1), "OUT_OF_RANGE");
        expect((await stores.storage.getUser("u"))?.points.points).toBe(5);
        expect((await stores.storage.readEvents("u", { limit: 10 })).events).toHaveLength(1);
        expect((await stores.leaderboardStore.rank("points/all/all", "u", "standard"))?.score).toBe(Number.MAX_SAFE_INTEGER);
        // An engine given only the storage uses the sibling board store and the same single transaction.
        const alone = createGamify({ storage: stores.storage, analytics: false });
        await alone.addPoints("v", 3);
        expect(await stores.leaderboardStore.rank("points/all/all", "v", "standard")).toEqual({ userId: "v", score: 3, rank: 2 });
        await gk.close();
        await alone.close();
        await stores.close();
      });

      test("score counters always equal the entries per score after concurrent increments, sets and removals", async () => {
        const tablePrefix = await fresh();
        const t = tableNames(tablePrefix);
        const store = sqlLeaderboards({ db: host.db, tablePrefix });
        const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
        await Promise.all(
          Array.from({ length: 300 }, async (_, i) => {
            const userId = users[i % users.length] as string;
            if (i % 17 === 0) return store.remove("b1", userId);
            if (i % 11 === 0) return store.set("b2", userId, i % 4);
            return store.increment(
              [
                { board: "b1", delta: (i % 3) - 1 },
                { board: "b2", delta: i % 2 },
              ],
              userId,
            );
          }),
        );
        await store.removeUser("u3");
        const counters = await sql<{ board: string; score: unknown; n: unknown }>`
          SELECT board, score, n FROM ${sql.table(t.boardScores)} ORDER BY board, score`.execute(host.db);
        const grouped = await sql<{ board: string; score: unknown; n: unknown }>`
          SELECT board, score, COUNT(*) AS n FROM ${sql.table(t.boardEntries)} GROUP BY board, score ORDER BY board, score`.execute(host.db);
        const norm = (rows: { board: string; score: unknown; n: unknown }[]) => rows.map((r) => [r.board, Number(r.score), Number(r.n)]);
        expect(norm(counters.rows)).toEqual(norm(grouped.rows));
        expect(norm(counters.rows).length).toBeGreaterThan(0);
        await store.close();
      });
    });

    describe("award routine", () => {
      /** The bench's engine (quadratic levels, an all-time board, a listener) on sqlStores over a counting pool of its own; close() ends both. */
      const engineOn = (tablePrefix: string) => {
        const counting = countingPool(dialect, url);
        const stores = sqlStores({ dialect, pool: counting.pool, tablePrefix });
        const gk = createGamify({
          storage: stores.storage,
          leaderboardStore: stores.leaderboardStore,
          analytics: false,
          levels: { xp: levels.quadratic({ base: 100 }) },
          leaderboards: [{ metric: "xp", periods: ["all"] }],
        });
        gk.on("*", () => undefined);
        return {
          gk,
          stores,
          counting,
          close: async () => {
            await gk.close();
            await stores.close();
            await counting.end();
          },
        };
      };
      const routineCalls = (counting: CountingPool) => counting.texts.filter((text) => text.includes("apply_award")).length;
      /** The statements sent, but the once-a-minute sweeps of expired keys and boards, which run in the background. */
      const awardStatements = (counting: CountingPool) => counting.texts.filter((text) => !/expires_at["`]? <=/.test(text));

      test("a steady-state award with levels and a board is two round trips: one read, one routine call", async () => {
        const tablePrefix = await fresh();
        const { gk, counting, close } = engineOn(tablePrefix);
        try {
          // Warm up: the board's expiry is learned once per store, statements are prepared once per connection.
          for (let i = 0; i < 5; i++) await gk.addPoints(`warm-${i}`, 10, { metric: "xp" });
          counting.reset();
          for (let i = 0; i < 20; i++) await gk.addPoints(`user-${i % 5}`, 60, { metric: "xp" });
          expect(awardStatements(counting).length, counting.texts.join("\n")).toBe(40);
          expect(routineCalls(counting)).toBe(20);
          // Level-ups happened on the way (quadratic, base 100: 100, 400, …) and the board is exact.
          expect((await gk.getUser("user-0"))?.levels.xp).toBe(2);
          expect(await gk.leaderboard("xp").rank("user-0")).toMatchObject({ score: 240 });
        } finally {
          await close();
        }
      });

      test("a replay with an idempotency key is one round trip and writes nothing", async () => {
        const tablePrefix = await fresh();
        const { gk, counting, close } = engineOn(tablePrefix);
        try {
          const first = await gk.addPoints("u", 50, { metric: "xp", idempotencyKey: "k1" });
          const before = await gk.getUser("u");
          counting.reset();
          const again = await gk.addPoints("u", 50, { metric: "xp", idempotencyKey: "k1" });
          expect(awardStatements(counting)).toHaveLength(1);
          expect(again).toMatchObject({ replayed: true, total: first.total });
          expect(await gk.getUser("u")).toEqual(before);
        } finally {
          await close();
        }
      });

      test("a state changed between the read and the routine call is detected: the award is planned again and applies exactly once", async () => {
        const tablePrefix = await fresh();
        const { gk, stores, counting, close } = engineOn(tablePrefix);
        // Another writer (its own storage and queue, as another process would be) on the same tables.
        const other = sqlStores({ dialect, pool: host.pool, tablePrefix });
        const otherGk = createGamify({ storage: other.storage, leaderboardStore: other.leaderboardStore, analytics: false, levels: { xp: levels.quadratic({ base: 100 }) } });
        try {
          await gk.addPoints("u", 90, { metric: "xp" });
          let interfered = 0;
          counting.before("apply_award", async () => {
            if (interfered++ === 0) await otherGk.addPoints("u", 20, { metric: "xp" });
          });
          const levelUps: number[] = [];
          gk.on("level_up", (e) => void levelUps.push(e.level));
          otherGk.on("level_up", (e) => void levelUps.push(e.level));
          const result = await gk.addPoints("u", 5, { metric: "xp" });
          counting.before("apply_award", undefined);
          // Planned from 90, found 110 under the lock, planned again from 110.
          expect(result).toMatchObject({ total: 115, delta: 5 });
          expect(routineCalls(counting)).toBe(3);
          expect(levelUps).toEqual([2]);
          const user = await stores.storage.getUser("u");
          expect(user?.points.xp).toBe(115);
          expect(user?.levels.xp).toBe(2);
          expect(await stores.leaderboardStore.rank("xp/all/all", "u", "standard")).toEqual({ userId: "u", score: 115, rank: 1 });
          const log = (await stores.storage.readEvents("u", { limit: 10 })).events;
          expect(log.map((e) => [e.type, "total" in e ? e.total : undefined])).toEqual([
            ["points_added", 90],
            ["points_added", 110],
            ["level_up", undefined],
            ["points_added", 115],
          ]);
        } finally {
          counting.before("apply_award", undefined);
          await otherGk.close();
          await other.close();
          await close();
        }
      });

      test("a user who keeps changing under the routine is awarded under the user's lock, still exactly once", async () => {
        const tablePrefix = await fresh();
        const { gk, stores, counting, close } = engineOn(tablePrefix);
        const other = sqlStores({ dialect, pool: host.pool, tablePrefix });
        const otherGk = createGamify({ storage: other.storage, leaderboardStore: other.leaderboardStore, analytics: false });
        try {
          await gk.addPoints("u", 1, { metric: "xp" });
          // Both lock-free attempts find the user changed by another writer.
          let interfered = 0;
          counting.before("apply_award", async () => {
            if (interfered >= 2) return;
            interfered++;
            await otherGk.addPoints("u", 1, { metric: "xp" });
          });
          counting.reset();
          const result = await gk.addPoints("u", 100, { metric: "xp" });
          expect(interfered).toBe(2);
          expect(result.total).toBe(103);
          // PostgreSQL then calls the routine inside a transaction (its lock outlives the call); MySQL
          // runs the locking transaction.
          expect(routineCalls(counting)).toBe(dialect === "postgres" ? 3 : 2);
          // The user is contended now: the next award goes straight to the locking path.
          counting.reset();
          expect((await gk.addPoints("u", 1, { metric: "xp" })).total).toBe(104);
          const texts = counting.texts.map((text) => text.toLowerCase());
          expect(texts.some((text) => text.startsWith("start transaction") || text.startsWith("begin"))).toBe(true);
          expect(routineCalls(counting)).toBe(dialect === "postgres" ? 2 : 0);
          expect((await stores.storage.getUser("u"))?.points.xp).toBe(104);
          expect(await stores.leaderboardStore.rank("xp/all/all", "u", "standard")).toEqual({ userId: "u", score: 104, rank: 1 });
          const log = (await stores.storage.readEvents("u", { limit: 10 })).events;
          expect(log.map((e) => (e.type === "level_up" ? `level ${e.level}` : "total" in e ? e.total : e.type))).toEqual([1, 2, 3, 103, "level 2", 104]);
        } finally {
          counting.before("apply_award", undefined);
          await otherGk.close();
          await other.close();
          await close();
        }
      });

      test("tables migrated only to 0002 (no routine) still award, through the locking path", async () => {
        const tablePrefix = randomPrefix();
        prefixes.push(tablePrefix);
        expect(await host.migrateTo(tablePrefix, "0002_score_buckets")).toBeUndefined();
        const { gk, stores, counting, close } = engineOn(tablePrefix);
        try {
          const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gk.addPoints(`u${i % 4}`, 25, { metric: "xp" })));
          expect(results.map((r) => r.total).sort((a, b) => a - b)).toEqual([25, 25, 25, 25, 50, 50, 50, 50, 75, 75, 75, 75, 100, 100, 100, 100, 125, 125, 125, 125]);
          // One failed call found the routine missing; the storage stopped calling it.
          expect(routineCalls(counting)).toBeLessThanOrEqual(4);
          expect((await stores.storage.getUser("u0"))?.levels.xp).toBe(2);
          expect(await stores.leaderboardStore.count("xp/all/all")).toBe(4);
        } finally {
          await close();
        }
      });
    });

    describe("cross-process", () => {
      test("4 processes x 250 concurrent awards to one user: exact total and one level_up per threshold", async () => {
        const tablePrefix = await fresh();
        const runs = await Promise.all(Array.from({ length: 4 }, () => runNode(CHILD, [url, tablePrefix, "250"])));
        for (const run of runs) expect(run.code, run.stderr).toBe(0);
        const outputs = runs.map((run) => JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as { levelUps: number[]; totals: number[] });
        const levelUps = outputs.flatMap((o) => o.levelUps).sort((a, b) => a - b);
        expect(levelUps).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        const totals = outputs.flatMap((o) => o.totals).sort((a, b) => a - b);
        expect(totals).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
        const storage = sqlStorage({ db: host.db, tablePrefix });
        const user = await storage.getUser("shared-user");
        expect(user?.points.xp).toBe(1000);
        expect(user?.levels.xp).toBe(11);
        await storage.close();
        const boards = sqlLeaderboards({ db: host.db, tablePrefix });
        expect(await boards.rank("xp/all/all", "shared-user", "standard")).toEqual({ userId: "shared-user", score: 1000, rank: 1 });
        await boards.close();
        console.log(`cross-process (${dialect}): total 1000, level_up levels ${JSON.stringify(levelUps)}, per process ${JSON.stringify(outputs.map((o) => o.levelUps.length))}`);
      }, 60_000);
    });
  });
}
