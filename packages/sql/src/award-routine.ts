import { BUCKET_BITS, BUCKET_LEVELS } from "./buckets.js";
import type { SqlDialectName } from "./options.js";
import type { Tables } from "./tables.js";

/*
 * The award routine: a PL/pgSQL function (PostgreSQL) or a stored procedure (MySQL/MariaDB),
 * created per table prefix by migration 0003, that applies an award planned in JavaScript in one
 * round trip.
 *
 * The client reads the user's state without a lock, plans the award with core's `planAwards`
 * (floors, levels, events, idempotency outcomes, board scores) and sends the plan together with
 * the state it was planned from. The routine locks the user's rows in the same order as every
 * other writer (users, then board_users), re-reads that state under the lock and applies the plan
 * only if nothing changed; otherwise it writes nothing of the plan and returns the current state,
 * for the client to plan again. So the routine never computes award semantics itself: it checks
 * and writes, and keeps the score counters and buckets exact (which needs a statement per counter,
 * hence a routine and not one data-modifying statement).
 *
 * The plan is one JSON document (see `AwardPlanDocument` in award-fast.ts):
 *   u, now                 user id, the award's time
 *   p [{m, st, sl, t, l}]  metrics: seen total/level (null: no row / no level), total/level to write (t null: none)
 *   k [key], sk [key]      idempotency keys the call names, and those of them seen live
 *   r [{k, o}], x          outcomes to record, and their expiry
 *   e [{t, a, at, b}]      events to append, in order (b: the JSON body as text)
 *   b [{b, ss, s}]         boards: the user's seen score (null: no entry), new score (null: unchanged)
 *   bx [{b, x}]            board expiries to store
 *   c [{b, s, n}]          score counter changes, sorted by (board, score)
 *   q [{b, l, k, n, c1, c2}]  MySQL only: the buckets they move, in key order, and the counters feeding each
 * The result is rows (k, name, v, l, o): when applied, one row with k = -1 (PostgreSQL) or no
 * result set (MySQL); otherwise a row with k = -2 followed by the current state in the shape of the client's own read (k 0: points,
 * 1: board entries, 2: live idempotency records).
 */

/** The routine's name for a prefix (prefixes are validated `[a-z_][a-z0-9_]{0,39}`). */
export function awardRoutineName(tables: Tables): string {
  // tables.users is `${prefix}users`.
  return `${tables.users.slice(0, -"users".length)}apply_award`;
}

const q = (name: string, dialect: SqlDialectName) => (dialect === "postgres" ? `"${name}"` : `\`${name}\``);

/** The tables a routine touches, quoted for `dialect`. */
function quotedTables(t: Tables, dialect: SqlDialectName) {
  const [users, boardUsers, points, events, idem, boards, entries, scores, buckets] = [
    t.users,
    t.boardUsers,
    t.points,
    t.events,
    t.idempotency,
    t.boards,
    t.boardEntries,
    t.boardScores,
    t.boardBuckets,
  ].map((name) => q(name, dialect));
  return { users, boardUsers, points, events, idem, boards, entries, scores, buckets };
}

/** CREATE FUNCTION for PostgreSQL. */
function postgresRoutine(t: Tables): string {
  const id = (name: string) => q(name, "postgres");
  const { users, boardUsers, points, events, idem, boards, entries, scores, buckets } = quotedTables(t, "postgres");
  return `
CREATE FUNCTION ${id(awardRoutineName(t))}(plan jsonb)
RETURNS TABLE (k integer, name text, v bigint, l integer, o text)
LANGUAGE plpgsql AS $gk$
DECLARE
  uid text := plan->>'u';
  now_ms bigint := (plan->>'now')::bigint;
  c record;
  g record;
  after_n bigint;
  cb text[] := '{}';
  cs bigint[] := '{}';
  cn bigint[] := '{}';
  cd bigint[] := '{}';
  stale boolean;
BEGIN
  -- Lock the user's row (and the board store's per-user row) as every other writer does, in the same order.
  INSERT INTO ${users} AS u (user_id, created_at, updated_at) VALUES (uid, now_ms, now_ms)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at;
  IF jsonb_array_length(plan->'b') > 0 THEN
    INSERT INTO ${boardUsers} AS bu (user_id) VALUES (uid) ON CONFLICT (user_id) DO UPDATE SET user_id = bu.user_id;
  END IF;

  -- The state the plan was made from must still be the state: otherwise return the current one.
  stale := EXISTS (
    SELECT 1 FROM jsonb_to_recordset(plan->'p') AS s(m text, st bigint, sl integer)
    LEFT JOIN ${points} p ON p.user_id = uid AND p.metric = s.m
    WHERE p.total IS DISTINCT FROM s.st OR p.level IS DISTINCT FROM s.sl);
  IF NOT stale AND jsonb_array_length(plan->'b') > 0 THEN
    stale := EXISTS (
      SELECT 1 FROM jsonb_to_recordset(plan->'b') AS s(b text, ss bigint)
      LEFT JOIN ${entries} e ON e.board = s.b AND e.user_id = uid
      WHERE e.score IS DISTINCT FROM s.ss);
  END IF;
  -- The live keys among those named must be exactly those seen live.
  IF NOT stale AND jsonb_array_length(plan->'k') > 0 THEN
    stale := (SELECT count(*) FROM ${idem} i
              WHERE i.user_id = uid AND i.expires_at > now_ms AND i.idem_key IN (SELECT jsonb_array_elements_text(plan->'k')))
             <> jsonb_array_length(plan->'sk')
      OR EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(plan->'sk') AS s(key)
        WHERE NOT EXISTS (SELECT 1 FROM ${idem} i WHERE i.user_id = uid AND i.idem_key = s.key AND i.expires_at > now_ms));
  END IF;
  IF stale THEN
    RETURN QUERY
      SELECT -2, NULL::text, NULL::bigint, NULL::integer, NULL::text
      UNION ALL
      SELECT 0, p.metric::text, p.total, p.level, NULL::text FROM ${points} p
        WHERE p.user_id = uid AND p.metric IN (SELECT s.m FROM jsonb_to_recordset(plan->'p') AS s(m text))
      UNION ALL
      SELECT 1, e.board::text, e.score, NULL::integer, NULL::text FROM ${entries} e
        WHERE e.user_id = uid AND e.board IN (SELECT s.b FROM jsonb_to_recordset(plan->'b') AS s(b text))
      UNION ALL
      SELECT 2, i.idem_key::text, NULL::bigint, NULL::integer, i.outcome FROM ${idem} i
        WHERE i.user_id = uid AND i.expires_at > now_ms AND i.idem_key IN (SELECT jsonb_array_elements_text(plan->'k'));
    RETURN;
  END IF;

  INSERT INTO ${points} AS p (user_id, metric, total, level)
    SELECT uid, s.m, s.t, s.l FROM jsonb_to_recordset(plan->'p') AS s(m text, t bigint, l integer) WHERE s.t IS NOT NULL
    -- A request without a level policy keeps the level stored earlier.
    ON CONFLICT (user_id, metric) DO UPDATE SET total = excluded.total, level = COALESCE(excluded.level, p.level);
  -- In plan order: ids grow in log order (points event, then its level events).
  IF jsonb_array_length(plan->'e') > 0 THEN
    INSERT INTO ${events} (user_id, type, action, at, body)
      SELECT uid, e.j->>'t', e.j->>'a', (e.j->>'at')::bigint, e.j->>'b'
      FROM jsonb_array_elements(plan->'e') WITH ORDINALITY AS e(j, i) ORDER BY e.i;
  END IF;
  -- An upsert: an expired key's row may still be there, waiting for the sweep.
  IF jsonb_array_length(plan->'r') > 0 THEN
    INSERT INTO ${idem} AS i (user_id, idem_key, outcome, expires_at)
      SELECT uid, r.j->>'k', r.j->>'o', (plan->>'x')::bigint
      FROM jsonb_array_elements(plan->'r') WITH ORDINALITY AS r(j, n) ORDER BY r.n
      ON CONFLICT (user_id, idem_key) DO UPDATE SET outcome = excluded.outcome, expires_at = excluded.expires_at;
  END IF;

  -- Board rows, then entries, then counters, then buckets: the order of the board store's own writes.
  IF jsonb_array_length(plan->'bx') > 0 THEN
    INSERT INTO ${boards} AS b (board, expires_at)
      SELECT x.j->>'b', (x.j->>'x')::bigint FROM jsonb_array_elements(plan->'bx') WITH ORDINALITY AS x(j, n) ORDER BY x.n
      ON CONFLICT (board) DO UPDATE SET expires_at = excluded.expires_at;
  END IF;
  -- Entries and counters change together (a changed score moves two counters); none when nothing moved.
  IF jsonb_array_length(plan->'c') = 0 THEN
    RETURN QUERY SELECT -1, NULL::text, NULL::bigint, NULL::integer, NULL::text;
    RETURN;
  END IF;
  -- A changed score gets a fresh seq: the tie-break is when the score last changed.
  INSERT INTO ${entries} AS e (board, user_id, score)
    SELECT s.j->>'b', uid, (s.j->>'s')::bigint FROM jsonb_array_elements(plan->'b') WITH ORDINALITY AS s(j, n)
    WHERE s.j->>'s' IS NOT NULL ORDER BY s.n
    ON CONFLICT (board, user_id) DO UPDATE SET score = excluded.score, seq = excluded.seq;
  -- Score counters, in (board, score) order; a counter that reaches zero goes, so counters never
  -- sit at zero and a counter equal to its own change is new (a distinct score appeared).
  FOR c IN SELECT (m.j->>'b') AS b, (m.j->>'s')::bigint AS s, (m.j->>'n')::bigint AS n
           FROM jsonb_array_elements(plan->'c') WITH ORDINALITY AS m(j, i) ORDER BY m.i LOOP
    INSERT INTO ${scores} AS x (board, score, n) VALUES (c.b, c.s, c.n)
      ON CONFLICT (board, score) DO UPDATE SET n = x.n + excluded.n RETURNING x.n INTO after_n;
    IF after_n <= 0 THEN
      DELETE FROM ${scores} WHERE board = c.b AND score = c.s;
    END IF;
    cb := cb || c.b;
    cs := cs || c.s;
    cn := cn || c.n;
    cd := cd || (CASE WHEN after_n <= 0 THEN -1 WHEN after_n = c.n THEN 1 ELSE 0 END)::bigint;
  END LOOP;
  IF cardinality(cb) > 0 THEN
    -- Buckets shared by the old and the new score cancel out and are not touched.
    INSERT INTO ${buckets} AS x (board, level, bucket, n, d)
      SELECT m.b, lv, m.s >> (${BUCKET_BITS} * lv), sum(m.n), sum(m.d)
      FROM unnest(cb, cs, cn, cd) AS m(b, s, n, d) CROSS JOIN generate_series(1, ${BUCKET_LEVELS}) AS lv
      GROUP BY m.b, lv, m.s >> (${BUCKET_BITS} * lv)
      HAVING sum(m.n) <> 0 OR sum(m.d) <> 0
      ORDER BY m.b COLLATE "C", lv, 3
      ON CONFLICT (board, level, bucket) DO UPDATE SET n = x.n + excluded.n, d = x.d + excluded.d;
    -- Buckets whose count fell may have emptied: point deletes by key.
    FOR g IN SELECT m.b, lv, m.s >> (${BUCKET_BITS} * lv) AS bucket
             FROM unnest(cb, cs, cn) AS m(b, s, n) CROSS JOIN generate_series(1, ${BUCKET_LEVELS}) AS lv
             GROUP BY m.b, lv, m.s >> (${BUCKET_BITS} * lv) HAVING sum(m.n) < 0 LOOP
      DELETE FROM ${buckets} WHERE board = g.b AND level = g.lv AND bucket = g.bucket AND n <= 0;
    END LOOP;
  END IF;
  RETURN QUERY SELECT -1, NULL::text, NULL::bigint, NULL::integer, NULL::text;
END
$gk$`;
}

/** CREATE PROCEDURE for MySQL 8 / MariaDB 10.11 (JSON_TABLE reads the plan). */
function mysqlRoutine(t: Tables): string {
  const id = (name: string) => q(name, "mysql");
  const { users, boardUsers, points, events, idem, boards, entries, scores, buckets } = quotedTables(t, "mysql");
  // Strings compare as the tables do: binary (see migration 0001).
  const str = (n: number) => `VARCHAR(${n}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`;
  const text = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";
  const jt = (path: string, columns: string) => `JSON_TABLE(plan, '${path}' COLUMNS (${columns}))`;
  const seenKeys = jt("$.k[*]", `key_ ${str(128)} PATH '$'`);
  return `
CREATE PROCEDURE ${id(awardRoutineName(t))}(IN plan ${text})
BEGIN
  DECLARE uid ${str(128)};
  DECLARE now_ms BIGINT;
  DECLARE done INT DEFAULT 0;
  DECLARE cb ${str(255)};
  DECLARE cs BIGINT;
  DECLARE cn BIGINT;
  -- Per counter, in order: +1 when its score appeared, -1 when it emptied, else 0.
  DECLARE dv ${text} DEFAULT '[]';
  DECLARE bd BIGINT;
  DECLARE c1 INT;
  DECLARE c2 INT;
  DECLARE stale BOOLEAN DEFAULT FALSE;
  DECLARE lv INT;
  DECLARE ev_type VARCHAR(32);
  DECLARE ev_action ${str(128)};
  DECLARE ev_at BIGINT;
  DECLARE ev_body ${text};
  -- Events and entries go in one row at a time: a multi-row INSERT … SELECT into a table with an
  -- auto-increment column holds InnoDB's table-level AUTO-INC lock to the end of the statement
  -- (innodb_autoinc_lock_mode 1, MariaDB's default), and deadlocks with the row locks of others.
  DECLARE logged CURSOR FOR
    SELECT e.t, e.a, e.at, e.b FROM ${jt("$.e[*]", `i FOR ORDINALITY, t VARCHAR(32) PATH '$.t', a ${str(128)} PATH '$.a', at BIGINT PATH '$.at', b ${text} PATH '$.b'`)} e ORDER BY e.i;
  DECLARE placed CURSOR FOR
    SELECT s.b, s.s FROM ${jt("$.b[*]", `i FOR ORDINALITY, b ${str(255)} PATH '$.b', s BIGINT PATH '$.s'`)} s WHERE s.s IS NOT NULL ORDER BY s.i;
  DECLARE bucketed CURSOR FOR
    SELECT q.b, q.l, q.k, q.n, q.c1, q.c2 FROM ${jt("$.q[*]", `i FOR ORDINALITY, b ${str(255)} PATH '$.b', l INT PATH '$.l', k BIGINT PATH '$.k', n BIGINT PATH '$.n', c1 INT PATH '$.c1', c2 INT PATH '$.c2'`)} q
    ORDER BY q.i;
  DECLARE counters CURSOR FOR
    SELECT c.b, c.s, c.n FROM ${jt("$.c[*]", `i FOR ORDINALITY, b ${str(255)} PATH '$.b', s BIGINT PATH '$.s', n BIGINT PATH '$.n'`)} c ORDER BY c.i;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  -- A failure leaves no transaction open on the pooled connection.
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;

  SET uid = JSON_VALUE(plan, '$.u');
  SET now_ms = JSON_VALUE(plan, '$.now');
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  -- Lock the user's row (and the board store's per-user row) as every other writer does, in the same order.
  INSERT INTO ${users} (user_id, created_at, updated_at) VALUES (uid, now_ms, now_ms)
    ON DUPLICATE KEY UPDATE updated_at = VALUES(updated_at);
  IF JSON_LENGTH(plan, '$.b') > 0 THEN
    INSERT INTO ${boardUsers} (user_id) VALUES (uid) ON DUPLICATE KEY UPDATE user_id = ${boardUsers}.user_id;
  END IF;

  -- The state the plan was made from must still be the state: otherwise return the current one.
  SET stale = EXISTS (
    SELECT 1 FROM ${jt("$.p[*]", `m ${str(128)} PATH '$.m', st BIGINT PATH '$.st', sl INT PATH '$.sl'`)} s
    LEFT JOIN ${points} p ON p.user_id = uid AND p.metric = s.m
    WHERE NOT (p.total <=> s.st AND p.level <=> s.sl));
  IF NOT stale AND JSON_LENGTH(plan, '$.b') > 0 THEN
    SET stale = EXISTS (
      SELECT 1 FROM ${jt("$.b[*]", `b ${str(255)} PATH '$.b', ss BIGINT PATH '$.ss'`)} s
      LEFT JOIN ${entries} e ON e.board = s.b AND e.user_id = uid
      WHERE NOT (e.score <=> s.ss));
  END IF;
  -- The live keys among those named must be exactly those seen live.
  IF NOT stale AND JSON_LENGTH(plan, '$.k') > 0 THEN
    SET stale = (SELECT COUNT(*) FROM ${idem} i
                 WHERE i.user_id = uid AND i.expires_at > now_ms AND i.idem_key IN (SELECT k.key_ FROM ${seenKeys} k))
                <> JSON_LENGTH(plan, '$.sk')
      OR EXISTS (
        SELECT 1 FROM ${jt("$.sk[*]", `key_ ${str(128)} PATH '$'`)} s
        WHERE NOT EXISTS (SELECT 1 FROM ${idem} i WHERE i.user_id = uid AND i.idem_key = s.key_ AND i.expires_at > now_ms));
  END IF;
  IF stale THEN
    SELECT -2 AS k, NULL AS name, NULL AS v, NULL AS l, NULL AS o
    UNION ALL
    SELECT 0, p.metric, p.total, p.level, NULL FROM ${points} p
      WHERE p.user_id = uid AND p.metric IN (SELECT s.m FROM ${jt("$.p[*]", `m ${str(128)} PATH '$.m'`)} s)
    UNION ALL
    SELECT 1, e.board, e.score, NULL, NULL FROM ${entries} e
      WHERE e.user_id = uid AND e.board IN (SELECT s.b FROM ${jt("$.b[*]", `b ${str(255)} PATH '$.b'`)} s)
    UNION ALL
    SELECT 2, i.idem_key, NULL, NULL, i.outcome FROM ${idem} i
      WHERE i.user_id = uid AND i.expires_at > now_ms AND i.idem_key IN (SELECT k.key_ FROM ${seenKeys} k);
    -- Nothing of the plan was written; the lock rows go too.
    ROLLBACK;
  ELSE
    INSERT INTO ${points} (user_id, metric, total, level)
      SELECT uid, s.m, s.t, s.l FROM ${jt("$.p[*]", `i FOR ORDINALITY, m ${str(128)} PATH '$.m', t BIGINT PATH '$.t', l INT PATH '$.l'`)} s
      WHERE s.t IS NOT NULL ORDER BY s.i
      -- A request without a level policy keeps the level stored earlier.
      ON DUPLICATE KEY UPDATE total = VALUES(total), level = COALESCE(VALUES(level), ${points}.level);
    -- In plan order: ids grow in log order (points event, then its level events).
    SET done = 0;
    OPEN logged;
    logging: LOOP
      FETCH logged INTO ev_type, ev_action, ev_at, ev_body;
      IF done = 1 THEN LEAVE logging; END IF;
      INSERT INTO ${events} (user_id, type, action, at, body) VALUES (uid, ev_type, ev_action, ev_at, ev_body);
    END LOOP;
    CLOSE logged;
    -- An upsert: an expired key's row may still be there, waiting for the sweep.
    IF JSON_LENGTH(plan, '$.r') > 0 THEN
      INSERT INTO ${idem} (user_id, idem_key, outcome, expires_at)
        SELECT uid, s.k, s.o, JSON_VALUE(plan, '$.x') FROM ${jt("$.r[*]", `i FOR ORDINALITY, k ${str(128)} PATH '$.k', o ${text} PATH '$.o'`)} s
        ORDER BY s.i
        ON DUPLICATE KEY UPDATE outcome = VALUES(outcome), expires_at = VALUES(expires_at);
    END IF;

    -- Board rows, then entries, then counters, then buckets: the order of the board store's own writes.
    IF JSON_LENGTH(plan, '$.bx') > 0 THEN
      INSERT INTO ${boards} (board, expires_at)
        SELECT s.b, s.x FROM ${jt("$.bx[*]", `i FOR ORDINALITY, b ${str(255)} PATH '$.b', x BIGINT PATH '$.x'`)} s ORDER BY s.i
        ON DUPLICATE KEY UPDATE expires_at = VALUES(expires_at);
    END IF;
    -- REPLACE deletes and re-inserts: a changed score gets a fresh seq (the tie-break).
    SET done = 0;
    OPEN placed;
    placing: LOOP
      FETCH placed INTO cb, cs;
      IF done = 1 THEN LEAVE placing; END IF;
      REPLACE INTO ${entries} (board, user_id, score) VALUES (cb, uid, cs);
    END LOOP;
    CLOSE placed;
    -- Score counters, in (board, score) order; a counter that reaches zero goes, so counters never
    -- sit at zero and a counter equal to its own change is new (a distinct score appeared).
    SET done = 0;
    OPEN counters;
    counting: LOOP
      FETCH counters INTO cb, cs, cn;
      IF done = 1 THEN LEAVE counting; END IF;
      INSERT INTO ${scores} (board, score, n) VALUES (cb, cs, cn) ON DUPLICATE KEY UPDATE n = ${scores}.n + VALUES(n);
      IF cn > 0 THEN
        -- 1: inserted, so the score is new on the board; 2: updated.
        SET dv = JSON_ARRAY_APPEND(dv, '$', IF(ROW_COUNT() = 1, 1, 0));
      ELSE
        -- The counter existed (the user's old score is counted there); deleted when it emptied.
        DELETE FROM ${scores} WHERE board = cb AND score = cs AND n <= 0;
        SET dv = JSON_ARRAY_APPEND(dv, '$', -ROW_COUNT());
      END IF;
    END LOOP;
    CLOSE counters;
    -- Buckets, as the client listed them in key order with the counters feeding each; a bucket
    -- shared by the old and the new score whose counts do not change is not touched.
    SET done = 0;
    OPEN bucketed;
    bucketing: LOOP
      FETCH bucketed INTO cb, lv, cs, cn, c1, c2;
      IF done = 1 THEN LEAVE bucketing; END IF;
      SET bd = JSON_EXTRACT(dv, CONCAT('$[', c1, ']')) + IF(c2 IS NULL, 0, JSON_EXTRACT(dv, CONCAT('$[', c2, ']')));
      IF cn <> 0 OR bd <> 0 THEN
        INSERT INTO ${buckets} (board, level, bucket, n, d) VALUES (cb, lv, cs, cn, bd)
          ON DUPLICATE KEY UPDATE n = ${buckets}.n + VALUES(n), d = ${buckets}.d + VALUES(d);
        IF cn < 0 THEN
          DELETE FROM ${buckets} WHERE board = cb AND level = lv AND bucket = cs AND n <= 0;
        END IF;
      END IF;
    END LOOP;
    CLOSE bucketed;
    -- Applied: no result set.
    COMMIT;
  END IF;
END`;
}

/** The statement that creates the award routine for a dialect and prefix. */
export function awardRoutine(dialect: SqlDialectName, tables: Tables): string {
  return dialect === "postgres" ? postgresRoutine(tables) : mysqlRoutine(tables);
}

/** The statement that drops it. */
export function dropAwardRoutine(dialect: SqlDialectName, tables: Tables): string {
  const name = q(awardRoutineName(tables), dialect);
  return dialect === "postgres" ? `DROP FUNCTION IF EXISTS ${name}(jsonb)` : `DROP PROCEDURE IF EXISTS ${name}`;
}
