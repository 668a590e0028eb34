import { invalidArgument } from "./errors.js";
import type { Granularity, Period } from "./types.js";

/*
 * Calendar buckets (day, ISO week, month) in an IANA time zone, using only Intl and Date so core
 * stays dependency-free and edge-safe.
 *
 * Internally a local date is a day number: days since 1970-01-01 in the proleptic Gregorian
 * calendar, and a "wall" time is local wall-clock time expressed as if it were UTC milliseconds.
 * The start of local day D is the first instant whose local wall time is at or after D 00:00, so
 * a skipped midnight (DST at 00:00) starts the day at the transition, and a skipped day (Samoa,
 * 2011-12-30) is an empty bucket that no instant maps to.
 */

const DAY = 86_400_000;
const SECOND = 1_000;
/** 0001-01-01T00:00Z: keys stay 4-digit years and Intl stays well inside Date's range. */
const MIN_AT = -62_135_596_800_000;
/** 10000-01-01T00:00Z (exclusive). */
const MAX_AT = 253_402_300_800_000;
/** Local years a key may name: what instants in [MIN_AT, MAX_AT) can produce in any zone. */
const MIN_KEY_YEAR = 0;
const MAX_KEY_YEAR = 10_000;
/** Upper bound on {@link periodKeysBetween}: callers fan keys out into storage queries. */
const MAX_KEYS = 10_000;
/** Valid zones are cached; the cap bounds memory when callers pass many spellings of zones. */
const MAX_CACHED_ZONES = 1_000;
/** Day starts memoised per zone: enough for a few years of backfill without unbounded growth. */
const MAX_CACHED_STARTS = 4_096;

const ALL_RANGE: { start: number; end: number } = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };

/** The cached bucket of the last day looked up in a zone, with all three keys precomputed. */
interface DayEntry {
  readonly start: number;
  readonly end: number;
  readonly days: number;
  readonly day: string;
  readonly week: string;
  readonly month: string;
}

interface Zone {
  readonly fmt: Intl.DateTimeFormat;
  /** The last day bucket computed: consecutive awards almost always fall in it. */
  last: DayEntry | undefined;
  /** Local day number -> first instant of that day; each costs several Intl calls to compute. */
  readonly starts: Map<number, number>;
}

const zones = new Map<string, Zone>();

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  return typeof value;
}

function zoneOf(timeZone: unknown): Zone {
  if (typeof timeZone === "string") {
    const cached = zones.get(timeZone);
    if (cached !== undefined) return cached;
  }
  let fmt: Intl.DateTimeFormat | undefined;
  // An empty or non-string zone would silently fall back to the host zone: reject it instead.
  if (typeof timeZone === "string" && timeZone !== "") {
    try {
      fmt = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        // The era tells 1 BC from AD 1; boundary probes around year 1 need it.
        era: "short",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    } catch {
      fmt = undefined;
    }
  }
  if (fmt === undefined || typeof timeZone !== "string") {
    throw invalidArgument(`timeZone must be an IANA time zone such as "Europe/Berlin" or "UTC"; got ${describe(timeZone)}.`, {
      field: "timeZone",
      value: typeof timeZone === "string" ? timeZone.slice(0, 200) : typeof timeZone,
    });
  }
  if (zones.size >= MAX_CACHED_ZONES) zones.clear();
  const zone: Zone = { fmt, last: undefined, starts: new Map() };
  zones.set(timeZone, zone);
  return zone;
}

/**
 * Validates an IANA time zone name and returns it unchanged (not canonicalised, so stored
 * configuration round-trips). Throws INVALID_ARGUMENT for anything Intl does not know; valid zones
 * are cached because building their formatter is the slow part.
 */
export function checkTimeZone(timeZone: unknown): string {
  zoneOf(timeZone);
  return timeZone as string;
}

function checkPeriod(period: unknown): Period {
  if (period === "all" || period === "day" || period === "week" || period === "month") return period;
  throw invalidArgument(`period must be "all", "day", "week" or "month"; got ${describe(period)}.`, { field: "period" });
}

function checkGranularity(granularity: unknown): Granularity {
  if (granularity === "day" || granularity === "week" || granularity === "month") return granularity;
  throw invalidArgument(`granularity must be "day", "week" or "month"; got ${describe(granularity)}.`, {
    field: "granularity",
  });
}

function checkInstant(value: unknown, field: string): number {
  if (typeof value !== "number" || !(value >= MIN_AT && value < MAX_AT)) {
    throw invalidArgument(`${field} must be epoch milliseconds between years 1 and 9999; got ${describe(value)}.`, { field });
  }
  // Intl truncates fractions toward zero; boundaries are whole milliseconds, so flooring keeps buckets exact.
  return Math.floor(value);
}

// ---- Proleptic Gregorian arithmetic (H. Hinnant's days_from_civil / civil_from_days) ----

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

interface Civil {
  readonly y: number;
  readonly m: number;
  readonly d: number;
}

function civilFromDays(days: number): Civil {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

/** Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday). */
function isoWeekday(days: number): number {
  return (((days + 3) % 7) + 7) % 7;
}

function mondayOf(days: number): number {
  return days - isoWeekday(days);
}

function isoWeek(days: number): { year: number; week: number } {
  // The ISO week-year is the year of the week's Thursday.
  const thursday = mondayOf(days) + 3;
  const year = civilFromDays(thursday).y;
  return { year, week: Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1 };
}

function firstOfMonth(days: number): number {
  const { y, m } = civilFromDays(days);
  return daysFromCivil(y, m, 1);
}

function firstOfNextMonth(days: number): number {
  const { y, m } = civilFromDays(days);
  return m === 12 ? daysFromCivil(y + 1, 1, 1) : daysFromCivil(y, m + 1, 1);
}

// ---- Key formatting and parsing ----

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** ISO 8601: four digits for 0000–9999, otherwise a sign and six digits (only "+010000" occurs here). */
function formatYear(y: number): string {
  return y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? "-" : "+"}${pad(Math.abs(y), 6)}`;
}

function dayKeyOf(days: number): string {
  const { y, m, d } = civilFromDays(days);
  return `${formatYear(y)}-${pad(m, 2)}-${pad(d, 2)}`;
}

function monthKeyOf(days: number): string {
  const { y, m } = civilFromDays(days);
  return `${formatYear(y)}-${pad(m, 2)}`;
}

function weekKeyOf(days: number): string {
  const { year, week } = isoWeek(days);
  return `${formatYear(year)}-W${pad(week, 2)}`;
}

function keyOf(granularity: Granularity, days: number): string {
  return granularity === "day" ? dayKeyOf(days) : granularity === "week" ? weekKeyOf(days) : monthKeyOf(days);
}

const DAY_KEY = /^(\d{4}|\+\d{6})-(\d{2})-(\d{2})$/;
const WEEK_KEY = /^(\d{4}|\+\d{6})-W(\d{2})$/;
const MONTH_KEY = /^(\d{4}|\+\d{6})-(\d{2})$/;

function malformedKey(granularity: Granularity, key: unknown): never {
  const example = granularity === "day" ? "2026-11-25" : granularity === "week" ? "2026-W48" : "2026-11";
  throw invalidArgument(`${describe(key)} is not a ${granularity} key (expected e.g. "${example}").`, {
    field: "key",
    period: granularity,
  });
}

/** The local day numbers [first, end) a key covers; rejects non-canonical keys so each bucket has one name. */
function parseKey(granularity: Granularity, key: unknown): { first: number; end: number } {
  if (typeof key !== "string") malformedKey(granularity, key);
  const match = (granularity === "day" ? DAY_KEY : granularity === "week" ? WEEK_KEY : MONTH_KEY).exec(key);
  if (match === null) malformedKey(granularity, key);
  const yearText = match[1] ?? "";
  const year = Number(yearText);
  const n = Number(match[2]);
  if (formatYear(year) !== yearText || year < MIN_KEY_YEAR || year > MAX_KEY_YEAR) malformedKey(granularity, key);
  if (granularity === "week") {
    const monday = mondayOf(daysFromCivil(year, 1, 4)) + (n - 1) * 7;
    // Week 00, and week 53 in a 52-week year, land in another week-year.
    if (n < 1 || weekKeyOf(monday) !== key) malformedKey(granularity, key);
    return { first: monday, end: monday + 7 };
  }
  if (n < 1 || n > 12) malformedKey(granularity, key);
  if (granularity === "month") {
    const first = daysFromCivil(year, n, 1);
    return { first, end: firstOfNextMonth(first) };
  }
  const days = daysFromCivil(year, n, Number(match[3]));
  if (dayKeyOf(days) !== key) malformedKey(granularity, key);
  return { first: days, end: days + 1 };
}

// ---- Time zone arithmetic ----

/** Local wall-clock time at instant `t` (a whole millisecond), to the second, as UTC-style ms. */
function wallAt(zone: Zone, t: number): number {
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of zone.fmt.formatToParts(t)) {
    switch (part.type) {
      case "year":
        year = Number(part.value);
        break;
      case "month":
        month = Number(part.value);
        break;
      case "day":
        day = Number(part.value);
        break;
      case "hour":
        // Some engines print midnight as "24" despite hourCycle h23.
        hour = Number(part.value) % 24;
        break;
      case "minute":
        minute = Number(part.value);
        break;
      case "second":
        second = Number(part.value);
        break;
      case "era":
        bc = part.value.startsWith("B");
        break;
      default:
        break;
    }
  }
  if (bc) year = 1 - year;
  // daysFromCivil rather than Date.UTC, which maps years 0-99 to 1900-1999.
  return daysFromCivil(year, month, day) * DAY + hour * 3_600_000 + minute * 60_000 + second * SECOND;
}

/** The zone's UTC offset in ms at instant `t`. */
function offsetAt(zone: Zone, t: number): number {
  return wallAt(zone, t) - Math.floor(t / SECOND) * SECOND;
}

/** The first instant whose local wall time is at or after 00:00 of local day `days`, memoised. */
function startOfDay(zone: Zone, days: number): number {
  const cached = zone.starts.get(days);
  if (cached !== undefined) return cached;
  const start = computeStartOfDay(zone, days);
  if (zone.starts.size >= MAX_CACHED_STARTS) zone.starts.clear();
  zone.starts.set(days, start);
  return start;
}

/**
 * Computes {@link startOfDay}.
 *
 * Offsets a day either side bracket any transition near midnight (offsets stay within ±16 h), so
 * the answer is `T - offset` for one of them, checked against Intl; if neither maps back to
 * midnight, midnight is in a gap and the answer is the transition, found by bisection.
 */
function computeStartOfDay(zone: Zone, days: number): number {
  const midnight = days * DAY;
  const before = midnight - offsetAt(zone, midnight - DAY);
  const after = midnight - offsetAt(zone, midnight + DAY);
  const lo = Math.min(before, after);
  const hi = Math.max(before, after);
  // The earlier candidate first: where midnight happens twice, the day starts at the first one.
  const loWall = wallAt(zone, lo);
  if (loWall === midnight) return lo;
  if (hi !== lo) {
    const hiWall = wallAt(zone, hi);
    if (hiWall === midnight) return hi;
    if (loWall < midnight && hiWall > midnight) return firstAtOrAfter(zone, midnight, lo, hi);
  }
  // More than one transition within a day of midnight: search a wide bracket.
  return firstAtOrAfter(zone, midnight, midnight - 2 * DAY, midnight + 2 * DAY);
}

/** Bisects for the first instant in (lo, hi] whose wall time reaches `wall`; needs wall(lo) < wall <= wall(hi). */
function firstAtOrAfter(zone: Zone, wall: number, lo: number, hi: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallAt(zone, mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The day bucket containing `at`, from the per-zone cache when possible. */
function dayEntry(zone: Zone, at: number): DayEntry {
  const last = zone.last;
  if (last !== undefined && at >= last.start && at < last.end) return last;
  let days = Math.floor(wallAt(zone, at) / DAY);
  let start = startOfDay(zone, days);
  let end = startOfDay(zone, days + 1);
  // Where clocks step back across midnight, or a day is skipped, the naive local date can
  // disagree with the bucket boundaries; the boundaries win so keys and ranges always agree.
  while (start > at) {
    days -= 1;
    end = start;
    start = startOfDay(zone, days);
  }
  while (end <= at) {
    days += 1;
    start = end;
    end = startOfDay(zone, days + 1);
  }
  const entry: DayEntry = { start, end, days, day: dayKeyOf(days), week: weekKeyOf(days), month: monthKeyOf(days) };
  zone.last = entry;
  return entry;
}

/** Local day numbers [first, end) of the bucket of `granularity` that contains local day `days`. */
function bucketDays(granularity: Granularity, days: number): { first: number; end: number } {
  if (granularity === "day") return { first: days, end: days + 1 };
  if (granularity === "week") {
    const monday = mondayOf(days);
    return { first: monday, end: monday + 7 };
  }
  return { first: firstOfMonth(days), end: firstOfNextMonth(days) };
}

// ---- Public API ----

/**
 * The key of the bucket containing instant `at` (epoch ms) in `timeZone`: "all", a day
 * ("2026-11-25"), an ISO 8601 week ("2026-W48": ISO week-year, weeks start on Monday) or a month
 * ("2026-11"). Runs on every award, so the last day bucket per zone is cached and week and month
 * keys are derived from it without further Intl calls.
 */
export function periodKey(period: Period, at: number, timeZone: string): string {
  checkPeriod(period);
  const t = checkInstant(at, "at");
  const zone = zoneOf(timeZone);
  if (period === "all") return "all";
  const entry = dayEntry(zone, t);
  return period === "day" ? entry.day : period === "week" ? entry.week : entry.month;
}

/**
 * The half-open interval [start, end) in epoch ms of the bucket named `key` in `timeZone`:
 * from 00:00 local of its first day (day, Monday, 1st of month) to the next bucket's start, so
 * DST days are 23 h or 25 h long. "all" spans every safe integer. Throws INVALID_ARGUMENT for a
 * malformed or non-canonical key, so a typo cannot silently select an empty bucket.
 */
export function periodRange(period: Period, key: string, timeZone: string): { start: number; end: number } {
  checkPeriod(period);
  const zone = zoneOf(timeZone);
  if (period === "all") {
    if (key !== "all") {
      throw invalidArgument(`The only key of period "all" is "all"; got ${describe(key)}.`, { field: "key", period });
    }
    return { ...ALL_RANGE };
  }
  const last = zone.last;
  if (period === "day" && last !== undefined && last.day === key) return { start: last.start, end: last.end };
  const { first, end } = parseKey(period, key);
  return { start: startOfDay(zone, first), end: startOfDay(zone, end) };
}

/** The range of the bucket containing `at`: {@link periodRange} of {@link periodKey}, without the key round trip. */
export function periodRangeAt(period: Period, at: number, timeZone: string): { start: number; end: number } {
  checkPeriod(period);
  const t = checkInstant(at, "at");
  const zone = zoneOf(timeZone);
  if (period === "all") return { ...ALL_RANGE };
  const entry = dayEntry(zone, t);
  if (period === "day") return { start: entry.start, end: entry.end };
  const { first, end } = bucketDays(period, entry.days);
  return { start: startOfDay(zone, first), end: startOfDay(zone, end) };
}

/**
 * Every key of `granularity` whose bucket intersects [from, to), oldest first, for analytics
 * queries over stored buckets. Empty when `from >= to`. Throws INVALID_ARGUMENT beyond 10,000 keys
 * so one request cannot fan out into unbounded storage reads.
 */
export function periodKeysBetween(granularity: Granularity, from: number, to: number, timeZone: string): string[] {
  checkGranularity(granularity);
  const lo = checkInstant(from, "from");
  const hi = checkInstant(to, "to");
  const zone = zoneOf(timeZone);
  const keys: string[] = [];
  if (lo >= hi) return keys;
  const entry = dayEntry(zone, lo);
  let { first, end } = bucketDays(granularity, entry.days);
  let start = startOfDay(zone, first);
  while (start < hi) {
    const next = startOfDay(zone, end);
    // A skipped local day (Pacific/Apia, 2011-12-30) is an empty bucket: it intersects nothing.
    if (next > start) {
      if (keys.length === MAX_KEYS) {
        throw invalidArgument(`The interval spans more than ${MAX_KEYS} ${granularity} buckets; narrow it or use a coarser granularity.`, {
          field: "to",
          max: MAX_KEYS,
        });
      }
      keys.push(keyOf(granularity, first));
    }
    ({ first, end } = bucketDays(granularity, end));
    start = next;
  }
  return keys;
}
