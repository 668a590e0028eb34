import { sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { SqlDialectName } from "./options.js";
import type { Tables } from "./tables.js";
import { BUCKET_BITS, BUCKET_LEVELS, floorShift } from "./buckets.js";
import { awardRoutine, dropAwardRoutine } from "./award-routine.js";

export { BUCKET_BITS, BUCKET_LEVELS, floorShift };

/*
 * The schema, as versioned Kysely migrations kept in code (no migration files to ship). Names sort
 * in the order they apply; never edit a released migration, add the next one.
 *
 * Identifiers are ASCII (the engine validates them), but MySQL compares strings case-insensitively
 * by default, so its tables use a binary collation: "Ada" and "ada" are different users.
 */

type Builder = CreateTableBuilder<string, string>;

function types(dialect: SqlDialectName) {
  const mysql = dialect === "mysql";
  return {
    /** An auto-increment BIGINT, for stable cursors and tie-break order. */
    serial: (t: Builder, column: string, key: "primary" | "unique") =>
      t.addColumn(column, mysql ? "bigint" : sql`bigserial`, (c) => {
        const base = mysql ? c.notNull().autoIncrement() : c.notNull();
        return key === "primary" ? base.primaryKey() : base.unique();
      }),
    /** JSON documents (event bodies, stored outcomes): metadata may be up to 16 KiB. */
    text: mysql ? sql`mediumtext` : sql`text`,
    /** Table options: InnoDB with a binary collation (see above). */
    end: (t: Builder) => (mysql ? t.modifyEnd(sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`) : t),
  };
}

const ID = "varchar(128)";
const KEY = "varchar(255)";

/** 0001: every table and index, created in one migration so a fresh install is one step. */
function initial(dialect: SqlDialectName, t: Tables): Migration {
  const ty = types(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema;
      const idx = (table: string, name: string) => s.createIndex(`${table}_${name}`).on(table);

      await ty
        .end(
          ty.serial(s.createTable(t.users).addColumn("user_id", ID, (c) => c.primaryKey()), "seq", "unique")
            .addColumn("created_at", "bigint", (c) => c.notNull())
            .addColumn("updated_at", "bigint", (c) => c.notNull()),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.points)
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("metric", ID, (c) => c.notNull())
            .addColumn("total", "bigint", (c) => c.notNull())
            // NULL: the metric has never had a level policy.
            .addColumn("level", "integer")
            .addPrimaryKeyConstraint(`${t.points}_pk`, ["user_id", "metric"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.badges)
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("badge", ID, (c) => c.notNull())
            .addColumn("awarded_at", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.badges}_pk`, ["user_id", "badge"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.claims)
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("claim_key", KEY, (c) => c.notNull())
            .addColumn("claimed_at", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.claims}_pk`, ["user_id", "claim_key"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.idempotency)
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("idem_key", ID, (c) => c.notNull())
            .addColumn("outcome", ty.text, (c) => c.notNull())
            .addColumn("expires_at", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.idempotency}_pk`, ["user_id", "idem_key"]),
        )
        .execute();
      await idx(t.idempotency, "expires").column("expires_at").execute();

      await ty
        .end(
          ty.serial(s.createTable(t.events), "id", "primary")
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("type", "varchar(32)", (c) => c.notNull())
            .addColumn("action", ID)
            .addColumn("at", "bigint", (c) => c.notNull())
            .addColumn("body", ty.text, (c) => c.notNull()),
        )
        .execute();
      await idx(t.events, "user").columns(["user_id", "id"]).execute();
      await idx(t.events, "count").columns(["user_id", "type", "action", "at"]).execute();

      // One row per user on any board: locked by every score change of that user.
      await ty.end(s.createTable(t.boardUsers).addColumn("user_id", ID, (c) => c.primaryKey())).execute();

      await ty
        .end(
          s
            .createTable(t.boards)
            .addColumn("board", KEY, (c) => c.primaryKey())
            .addColumn("expires_at", "bigint"),
        )
        .execute();
      await idx(t.boards, "expires").column("expires_at").execute();

      await ty
        .end(
          // seq: the tie-break stamp; a score change deletes and re-inserts the row for a new one.
          ty.serial(s.createTable(t.boardEntries), "seq", "primary")
            .addColumn("board", KEY, (c) => c.notNull())
            .addColumn("user_id", ID, (c) => c.notNull())
            .addColumn("score", "bigint", (c) => c.notNull())
            .addUniqueConstraint(`${t.boardEntries}_user_uq`, ["board", "user_id"]),
        )
        .execute();
      await idx(t.boardEntries, "rank").columns(["board", "score desc", "seq"]).execute();
      await idx(t.boardEntries, "user").column("user_id").execute();

      // How many entries hold each score: ranks sum over distinct scores, not over rows.
      await ty
        .end(
          s
            .createTable(t.boardScores)
            .addColumn("board", KEY, (c) => c.notNull())
            .addColumn("score", "bigint", (c) => c.notNull())
            .addColumn("n", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.boardScores}_pk`, ["board", "score"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.analyticsBuckets)
            .addColumn("zone", "varchar(64)", (c) => c.notNull())
            .addColumn("granularity", "varchar(8)", (c) => c.notNull())
            .addColumn("period", "varchar(16)", (c) => c.notNull())
            .addColumn("events", "bigint", (c) => c.notNull())
            .addColumn("badges", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.analyticsBuckets}_pk`, ["zone", "granularity", "period"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.analyticsPoints)
            .addColumn("zone", "varchar(64)", (c) => c.notNull())
            .addColumn("granularity", "varchar(8)", (c) => c.notNull())
            .addColumn("period", "varchar(16)", (c) => c.notNull())
            .addColumn("metric", ID, (c) => c.notNull())
            .addColumn("added", "bigint", (c) => c.notNull())
            .addColumn("removed", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.analyticsPoints}_pk`, ["zone", "granularity", "period", "metric"]),
        )
        .execute();

      await ty
        .end(
          s
            .createTable(t.analyticsUsers)
            .addColumn("zone", "varchar(64)", (c) => c.notNull())
            .addColumn("granularity", "varchar(8)", (c) => c.notNull())
            .addColumn("period", "varchar(16)", (c) => c.notNull())
            .addColumn("user_id", ID, (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.analyticsUsers}_pk`, ["zone", "granularity", "period", "user_id"]),
        )
        .execute();
      await idx(t.analyticsUsers, "user").column("user_id").execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      const all = [
        t.analyticsUsers,
        t.analyticsPoints,
        t.analyticsBuckets,
        t.boardScores,
        t.boardEntries,
        t.boards,
        t.boardUsers,
        t.events,
        t.idempotency,
        t.claims,
        t.badges,
        t.points,
        t.users,
      ];
      for (const table of all) await db.schema.dropTable(table).ifExists().execute();
    },
  };
}

/**
 * 0002: board_buckets, so a rank sums at most 63 rows per level instead of one row per distinct
 * score above the user; filled from board_scores for boards that already exist.
 */
function scoreBuckets(dialect: SqlDialectName, t: Tables): Migration {
  const ty = types(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await ty
        .end(
          db.schema
            .createTable(t.boardBuckets)
            .addColumn("board", KEY, (c) => c.notNull())
            .addColumn("level", "smallint", (c) => c.notNull())
            .addColumn("bucket", "bigint", (c) => c.notNull())
            // n: entries with a score in the bucket; d: distinct scores among them.
            .addColumn("n", "bigint", (c) => c.notNull())
            .addColumn("d", "bigint", (c) => c.notNull())
            .addPrimaryKeyConstraint(`${t.boardBuckets}_pk`, ["board", "level", "bucket"]),
        )
        .execute();
      for (let level = 1; level <= BUCKET_LEVELS; level++) {
        const bucket = floorShift(dialect, sql.ref("score"), BUCKET_BITS * level);
        await sql`
          INSERT INTO ${sql.table(t.boardBuckets)} (board, level, bucket, n, d)
          SELECT board, ${sql.lit(level)}, ${bucket}, SUM(n), COUNT(*)
          FROM ${sql.table(t.boardScores)}
          GROUP BY board, ${bucket}`.execute(db);
      }
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable(t.boardBuckets).ifExists().execute();
    },
  };
}

/**
 * 0003: the award routine (see `award-routine.ts`), a function on PostgreSQL and a procedure on
 * MySQL, named after the prefix: it applies an award planned by the client in one round trip.
 */
function awardRoutineMigration(dialect: SqlDialectName, t: Tables): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql.raw(awardRoutine(dialect, t)).execute(db);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await sql.raw(dropAwardRoutine(dialect, t)).execute(db);
    },
  };
}

/** The adapter's migrations for one dialect and prefix, for Kysely's `Migrator`. */
export function migrationProvider(dialect: SqlDialectName, tables: Tables): MigrationProvider {
  return {
    getMigrations: async () => ({
      "0001_initial": initial(dialect, tables),
      "0002_score_buckets": scoreBuckets(dialect, tables),
      "0003_award_routine": awardRoutineMigration(dialect, tables),
    }),
  };
}
