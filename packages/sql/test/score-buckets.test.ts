import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findTestServer } from "@gamifykit/adapter-tests";
import { createGamify, levels, memoryLeaderboards, type LeaderboardStore, type RankMode } from "@gamifykit/core";
import { sql } from "kysely";
import { migrate, sqlLeaderboards, sqlStores, tableNames, type SqlDialectName } from "../src/index.js";
import { BUCKET_BITS, BUCKET_LEVELS, floorShift } from "../src/migrations.js";
import { openHost, randomPrefix, type Host } from "./support.js";

const MODES: readonly RankMode[] = ["standard", "dense", "ordinal"];
const MAX = Number.MAX_SAFE_INTEGER;

/** Scores on and around bucket edges of several levels, negative ones, and the ends of the safe range. */
const EDGES = [0, 1, -1, 62, 63, 64, 65, -63, -64, -65, 4095, 4096, -4096, -4097, 2 ** 24 - 1, 2 ** 24, -(2 ** 30), 2 ** 47, MAX, MAX - 1, -MAX, -MAX + 1];

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Every read of `board` on both stores agrees. */
async function expectSameBoard(sqlStore: LeaderboardStore, reference: LeaderboardStore, board: string, users: readonly string[]): Promise<void> {
  expect(await sqlStore.count(board)).toBe(await reference.count(board));
  for (const mode of MODES) {
    expect(await sqlStore.top(board, { offset: 0, limit: 1000, mode })).toEqual(await reference.top(board, { offset: 0, limit: 1000, mode }));
    expect(await sqlStore.top(board, { offset: 7, limit: 5, mode })).toEqual(await reference.top(board, { offset: 7, limit: 5, mode }));
    for (const userId of users) {
      expect(await sqlStore.rank(board, userId, mode), `${mode} rank of ${userId}`).toEqual(await reference.rank(board, userId, mode));
    }
  }
  for (const [i, userId] of users.entries()) {
    const options = { radius: i % 4, mode: MODES[i % 3]! };
    expect(await sqlStore.around(board, userId, options), `around ${userId}`).toEqual(await reference.around(board, userId, options));
  }
  for (const probe of [...EDGES, 0.5, -0.5, 63.5, MAX + 10, -MAX - 10]) {
    expect(await sqlStore.countAround(board, probe), `countAround ${probe}`).toEqual(await reference.countAround(board, probe));
  }
}

function register(dialect: SqlDialectName, url: string | undefined): void {
  describe.runIf(url !== undefined)(`score buckets on ${dialect}`, () => {
    const prefixes: string[] = [];
    let host: Host;
    beforeAll(() => {
      host = openHost(dialect, url ?? "");
    });
    afterAll(async () => {
      await host.dropPrefixes(prefixes);
      await host.end();
    });

    /** board_buckets as recomputed from the entries themselves. */
    const expectBucketsMatchEntries = async (tablePrefix: string): Promise<void> => {
      const t = tableNames(tablePrefix);
      const norm = (rows: Record<string, unknown>[]) => rows.map((r) => [String(r.board), Number(r.level), String(r.bucket), Number(r.n), Number(r.d)]);
      const stored = await sql<Record<string, unknown>>`
        SELECT board, level, bucket, n, d FROM ${sql.table(t.boardBuckets)} ORDER BY board, level, bucket`.execute(host.db);
      const expected: Record<string, unknown>[] = [];
      for (let level = 1; level <= BUCKET_LEVELS; level++) {
        const bucket = floorShift(dialect, sql.ref("score"), BUCKET_BITS * level);
        const rows = await sql<Record<string, unknown>>`
          SELECT board, ${sql.lit(level)} AS level, ${bucket} AS bucket, COUNT(*) AS n, COUNT(DISTINCT score) AS d
          FROM ${sql.table(t.boardEntries)} GROUP BY board, ${bucket}`.execute(host.db);
        expected.push(...rows.rows);
      }
      const sorted = norm(expected).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : Number(a[1]) - Number(b[1]) || (BigInt(a[2] as string) < BigInt(b[2] as string) ? -1 : 1)));
      expect(norm(stored.rows)).toEqual(sorted);
    };

    // On a pool the store reads ranks through prepared statements; on a Kysely instance it cannot.
    test.each(["db", "pool"] as const)("ranks, pages, windows and counts match the memory store across bucket edges and the whole safe range (store on %s)", async (via) => {
      const tablePrefix = randomPrefix();
      prefixes.push(tablePrefix);
      await migrate({ db: host.db, tablePrefix });
      const store = via === "db" ? sqlLeaderboards({ db: host.db, tablePrefix }) : sqlLeaderboards({ dialect, pool: host.pool, tablePrefix });
      const reference = memoryLeaderboards();
      const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
      const random = lcg(7);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
      // One call at a time, so both stores stamp tie-breaks in the same order.
      for (let step = 0; step < 400; step++) {
        const userId = pick(users);
        const roll = random();
        if (roll < 0.3) {
          const score = pick(EDGES);
          await store.set("b", userId, score);
          await reference.set("b", userId, score);
        } else if (roll < 0.85) {
          const current = (await reference.rank("b", userId, "ordinal"))?.score ?? 0;
          // Small steps across edges, and big ones, kept inside the safe range.
          const wanted = random() < 0.7 ? Math.floor(random() * 140) - 70 : Math.floor((random() - 0.5) * 2 ** 40);
          const delta = Math.max(-MAX - current, Math.min(MAX - current, wanted));
          expect(await store.increment([{ board: "b", delta }, { board: "c", delta: 1 }], userId)).toEqual(
            await reference.increment([{ board: "b", delta }, { board: "c", delta: 1 }], userId),
          );
        } else if (roll < 0.95) {
          expect(await store.remove("b", userId)).toBe(await reference.remove("b", userId));
        } else {
          await store.removeUser(userId);
          await reference.removeUser(userId);
        }
        if (step % 100 === 99) {
          await expectSameBoard(store, reference, "b", users);
          await expectBucketsMatchEntries(tablePrefix);
        }
      }
      await expectSameBoard(store, reference, "c", users);
      await store.close();
      await reference.close();
    }, 120_000);

    test("bucket counts equal the entries after concurrent increments, sets and removals across edges", async () => {
      const tablePrefix = randomPrefix();
      prefixes.push(tablePrefix);
      await migrate({ db: host.db, tablePrefix });
      const store = sqlLeaderboards({ db: host.db, tablePrefix });
      const users = Array.from({ length: 16 }, (_, i) => `u${i}`);
      await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const userId = users[i % users.length]!;
          if (i % 13 === 0) return store.remove("b1", userId);
          if (i % 7 === 0) return store.set("b1", userId, EDGES[i % EDGES.length]! % 2 ** 40);
          return store.increment(
            [
              { board: "b1", delta: (i % 130) - 65 },
              { board: "b2", delta: i % 2 === 0 ? 4096 : -63 },
            ],
            userId,
          );
        }),
      );
      await expectBucketsMatchEntries(tablePrefix);
      await store.close();
    }, 60_000);

    test("counters and buckets equal the entries after concurrent awards through the award routine, beside the store's own writes", async () => {
      const tablePrefix = randomPrefix();
      prefixes.push(tablePrefix);
      await migrate({ db: host.db, tablePrefix });
      const stores = sqlStores({ dialect, pool: host.pool, tablePrefix });
      const gk = createGamify({
        storage: stores.storage,
        leaderboardStore: stores.leaderboardStore,
        analytics: false,
        levels: { xp: levels.quadratic({ base: 100 }) },
        // A floor that clamps some deductions (xp), and a metric that goes negative (debt).
        metrics: { xp: { floor: 0 } },
        leaderboards: [{ metric: "xp", periods: ["all"] }, { metric: "debt", periods: ["all"] }],
      });
      const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
      const random = lcg(11);
      const steps = Array.from({ length: 400 }, (_, i) => ({ i, roll: random(), delta: Math.floor((random() - 0.5) * 9000) || 1 }));
      await Promise.all(
        steps.map(async ({ i, roll, delta }) => {
          const userId = users[i % users.length]!;
          if (roll < 0.08) return stores.leaderboardStore.set("xp/all/all", userId, EDGES[i % EDGES.length]! % 2 ** 40);
          if (roll < 0.12) return stores.leaderboardStore.remove("xp/all/all", userId);
          // Across bucket edges both ways.
          const metric = roll < 0.5 ? "xp" : "debt";
          return delta > 0 ? gk.addPoints(userId, delta, { metric }) : gk.removePoints(userId, -delta, { metric });
        }),
      );
      await expectBucketsMatchEntries(tablePrefix);
      const t = tableNames(tablePrefix);
      const counters = await sql<Record<string, unknown>>`SELECT board, score, n FROM ${sql.table(t.boardScores)} ORDER BY board, score`.execute(host.db);
      const grouped = await sql<Record<string, unknown>>`SELECT board, score, COUNT(*) AS n FROM ${sql.table(t.boardEntries)} GROUP BY board, score ORDER BY board, score`.execute(host.db);
      const norm = (rows: Record<string, unknown>[]) => rows.map((r) => [String(r.board), Number(r.score), Number(r.n)]);
      expect(norm(counters.rows)).toEqual(norm(grouped.rows));
      expect(counters.rows.length).toBeGreaterThan(0);
      await gk.close();
      await stores.close();
    }, 60_000);

    test("migrating 0001 to 0002 fills the buckets from existing boards", async () => {
      const tablePrefix = randomPrefix();
      prefixes.push(tablePrefix);
      const t = tableNames(tablePrefix);
      expect(await host.migrateTo(tablePrefix, "0001_initial")).toBeUndefined();
      // Rows as the 0001 adapter wrote them: entries plus one counter per score.
      const reference = memoryLeaderboards();
      const entries = EDGES.flatMap((score, i) => [
        { board: "old", user_id: `a${i}`, score },
        { board: "old", user_id: `b${i}`, score: i % 2 === 0 ? score : -score },
      ]);
      for (const e of entries) {
        await sql`INSERT INTO ${sql.table(t.boardEntries)} (board, user_id, score) VALUES (${e.board}, ${e.user_id}, ${e.score})`.execute(host.db);
        await reference.set(e.board, e.user_id, e.score);
      }
      await sql`INSERT INTO ${sql.table(t.boardScores)} (board, score, n)
        SELECT board, score, COUNT(*) FROM ${sql.table(t.boardEntries)} GROUP BY board, score`.execute(host.db);
      expect(await migrate({ db: host.db, tablePrefix })).toMatchObject({ applied: ["0002_score_buckets", "0003_award_routine"] });
      await expectBucketsMatchEntries(tablePrefix);
      const store = sqlLeaderboards({ db: host.db, tablePrefix });
      await expectSameBoard(store, reference, "old", entries.map((e) => e.user_id));
      await store.close();
      await reference.close();
    }, 60_000);
  });
}

register("postgres", (await findTestServer("postgres"))?.url);
register("mysql", (await findTestServer("mysql"))?.url);
