import { sql, type RawBuilder } from "kysely";
import type { SqlDialectName } from "./options.js";

/**
 * Score buckets for ranks (see `leaderboards.ts`): level L (1..BUCKET_LEVELS) groups a board's
 * scores by floor(score / 2^(BUCKET_BITS * L)); level 0 is board_scores itself.
 */
export const BUCKET_BITS = 6;
export const BUCKET_LEVELS = 8;

/** SQL for floor(expr / 2^bits) on a BIGINT, exact for every safe integer on both dialects. */
export function floorShift(dialect: SqlDialectName, expr: RawBuilder<unknown>, bits: number): RawBuilder<unknown> {
  // PostgreSQL's >> on bigint is an arithmetic shift, i.e. a floor division by 2^bits.
  if (dialect === "postgres") return sql`(${expr} >> ${sql.lit(bits)})`;
  // MySQL's >> is unsigned and DIV truncates toward zero, so negatives take the long way round.
  const d = sql.lit(2 ** bits);
  return sql`(CASE WHEN ${expr} >= 0 THEN ${expr} DIV ${d} ELSE -((-${expr} - 1) DIV ${d}) - 1 END)`;
}

