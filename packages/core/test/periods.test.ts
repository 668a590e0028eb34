import { describe, test, expect } from "vitest";
import fc from "fast-check";
import { GamifyError } from "../src/errors.js";
import { checkTimeZone, periodKey, periodKeysBetween, periodRange, periodRangeAt } from "../src/periods.js";
import type { Granularity, Period } from "../src/types.js";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function expectInvalid(fn: () => unknown): void {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(GamifyError);
  expect((error as GamifyError).code).toBe("INVALID_ARGUMENT");
}

/** Epoch ms of a UTC date-time; unlike Date.UTC, years 0-99 are taken literally. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

// An oracle independent of the implementation: local wall-clock text straight from Intl.
const oracles = new Map<string, Intl.DateTimeFormat>();
function local(timeZone: string, at: number): { date: string; time: string; weekday: string } {
  let fmt = oracles.get(timeZone);
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    oracles.set(timeZone, fmt);
  }
  const parts: Record<string, string> = {};
  for (const part of fmt.formatToParts(at)) parts[part.type] = part.value;
  return {
    date: `${(parts.year ?? "").padStart(4, "0")}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
    weekday: parts.weekday ?? "",
  };
}

const ZONES = [
  "UTC",
  "America/New_York",
  "America/Los_Angeles",
  "Europe/Berlin",
  "Europe/London",
  "Australia/Lord_Howe",
  "Asia/Kathmandu",
  "Asia/Tehran",
  "America/Santiago",
  "America/Havana",
  "Asia/Beirut",
  "America/St_Johns",
  "Pacific/Apia",
  "Pacific/Chatham",
  "Pacific/Kiritimati",
  "Pacific/Honolulu",
  "Africa/Casablanca",
];
const GRANULARITIES: readonly Granularity[] = ["day", "week", "month"];

describe("checkTimeZone", () => {
  test("returns IANA zones unchanged", () => {
    for (const zone of ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]) {
      expect(checkTimeZone(zone)).toBe(zone);
      expect(checkTimeZone(zone)).toBe(zone); // cached path
    }
  });

  test("rejects unknown zones and non-strings with INVALID_ARGUMENT", () => {
    for (const zone of ["Mars/Phobos", "", " UTC", "Europe/Berlin ", "GMT+25", 42, undefined, null, {}, ["UTC"]]) {
      expectInvalid(() => checkTimeZone(zone));
    }
  });

  test("every function rejects an unknown zone", () => {
    const at = utc(2026, 11, 25, 12);
    expectInvalid(() => periodKey("day", at, "Not/AZone"));
    expectInvalid(() => periodKey("all", at, "Not/AZone"));
    expectInvalid(() => periodRange("day", "2026-11-25", "Not/AZone"));
    expectInvalid(() => periodRangeAt("week", at, "Not/AZone"));
    expectInvalid(() => periodKeysBetween("month", at, at + DAY, "Not/AZone"));
  });
});

describe("periodKey", () => {
  test("formats day, ISO week and month keys", () => {
    const at = utc(2026, 11, 25, 12, 34, 56, 789);
    expect(periodKey("all", at, "UTC")).toBe("all");
    expect(periodKey("day", at, "UTC")).toBe("2026-11-25");
    expect(periodKey("week", at, "UTC")).toBe("2026-W48");
    expect(periodKey("month", at, "UTC")).toBe("2026-11");
    expect(periodKey("week", utc(2026, 3, 2, 12), "UTC")).toBe("2026-W10");
  });

  test("uses the local date of the zone", () => {
    const at = utc(2026, 11, 30, 23, 30);
    expect(periodKey("day", at, "UTC")).toBe("2026-11-30");
    expect(periodKey("day", at, "Europe/Berlin")).toBe("2026-12-01");
    expect(periodKey("month", at, "Europe/Berlin")).toBe("2026-12");
    expect(periodKey("day", at, "America/Los_Angeles")).toBe("2026-11-30");
    expect(periodKey("day", utc(2026, 12, 1, 6), "Pacific/Kiritimati")).toBe("2026-12-01");
    expect(periodKey("day", utc(2026, 11, 30, 10), "Pacific/Kiritimati")).toBe("2026-12-01");
    // Alternating zones and instants must not leak the per-zone cache.
    expect(periodKey("day", at, "UTC")).toBe("2026-11-30");
    expect(periodKey("week", at, "Europe/Berlin")).toBe("2026-W49");
  });

  test("ISO weeks at year edges", () => {
    const cases: [number, number, number, string][] = [
      [2020, 12, 31, "2020-W53"],
      [2021, 1, 1, "2020-W53"],
      [2021, 1, 3, "2020-W53"],
      [2021, 1, 4, "2021-W01"],
      [2024, 12, 29, "2024-W52"],
      [2024, 12, 30, "2025-W01"],
      [2025, 1, 1, "2025-W01"],
      [2026, 1, 1, "2026-W01"],
      [2025, 12, 29, "2026-W01"],
      [2026, 12, 31, "2026-W53"],
      [2027, 1, 3, "2026-W53"],
      [2027, 1, 4, "2027-W01"],
      [2008, 12, 29, "2009-W01"],
      [2010, 1, 3, "2009-W53"],
    ];
    for (const [y, m, d, key] of cases) {
      expect(periodKey("week", utc(y, m, d, 12), "UTC")).toBe(key);
      expect(periodKey("week", utc(y, m, d, 0), "UTC")).toBe(key);
      expect(periodKey("week", utc(y, m, d, 23, 59, 59, 999), "UTC")).toBe(key);
    }
  });

  test("zero-pads years before 1000 and handles the edges of the supported range", () => {
    expect(periodKey("day", utc(5, 3, 1, 12), "UTC")).toBe("0005-03-01");
    expect(periodKey("month", utc(999, 12, 31, 12), "UTC")).toBe("0999-12");
    // 0001-01-01 is a Monday in the proleptic Gregorian calendar.
    expect(periodKey("week", utc(1, 1, 1), "UTC")).toBe("0001-W01");
    // West of UTC, the first supported instant is still in local year 0.
    expect(periodKey("day", utc(1, 1, 1), "Pacific/Honolulu")).toBe("0000-12-31");
    expect(periodKey("week", utc(1, 1, 1), "Pacific/Honolulu")).toBe("0000-W52");
    expect(periodRange("day", "0000-12-31", "Pacific/Honolulu").end).toBeGreaterThan(utc(1, 1, 1));
    expect(periodKey("day", utc(9999, 12, 31, 23), "UTC")).toBe("9999-12-31");
    expect(periodKey("day", utc(9999, 12, 31, 23), "Pacific/Kiritimati")).toBe("+010000-01-01");
    expect(periodRange("day", "+010000-01-01", "UTC")).toEqual({ start: utc(10000, 1, 1), end: utc(10000, 1, 2) });
  });

  test("floors fractional instants", () => {
    const midnight = utc(2026, 1, 1);
    expect(periodKey("day", midnight - 0.5, "UTC")).toBe("2025-12-31");
    expect(periodKey("day", midnight + 0.5, "UTC")).toBe("2026-01-01");
  });

  test("rejects bad instants and periods", () => {
    for (const at of [Number.NaN, Infinity, -Infinity, utc(1, 1, 1) - 1, utc(10000, 1, 1), "1764000000000", null]) {
      expectInvalid(() => periodKey("day", at as number, "UTC"));
      expectInvalid(() => periodRangeAt("day", at as number, "UTC"));
    }
    for (const period of ["year", "", "Day", undefined, 1]) {
      expectInvalid(() => periodKey(period as Period, utc(2026, 1, 1), "UTC"));
      expectInvalid(() => periodRange(period as Period, "2026-01-01", "UTC"));
      expectInvalid(() => periodRangeAt(period as Period, utc(2026, 1, 1), "UTC"));
    }
  });
});

describe("periodRange", () => {
  test("UTC day, week and month ranges", () => {
    expect(periodRange("day", "2026-11-25", "UTC")).toEqual({ start: utc(2026, 11, 25), end: utc(2026, 11, 26) });
    expect(periodRange("week", "2026-W48", "UTC")).toEqual({ start: utc(2026, 11, 23), end: utc(2026, 11, 30) });
    expect(periodRange("week", "2020-W53", "UTC")).toEqual({ start: utc(2020, 12, 28), end: utc(2021, 1, 4) });
    expect(periodRange("week", "2025-W01", "UTC")).toEqual({ start: utc(2024, 12, 30), end: utc(2025, 1, 6) });
    expect(periodRange("month", "2026-11", "UTC")).toEqual({ start: utc(2026, 11, 1), end: utc(2026, 12, 1) });
    expect(periodRange("month", "2026-12", "UTC")).toEqual({ start: utc(2026, 12, 1), end: utc(2027, 1, 1) });
  });

  test("February in leap and common years", () => {
    const leap = periodRange("month", "2024-02", "UTC");
    expect(leap).toEqual({ start: utc(2024, 2, 1), end: utc(2024, 3, 1) });
    expect(leap.end - leap.start).toBe(29 * DAY);
    const common = periodRange("month", "2023-02", "UTC");
    expect(common.end - common.start).toBe(28 * DAY);
    expect(periodRange("day", "2024-02-29", "UTC")).toEqual({ start: utc(2024, 2, 29), end: utc(2024, 3, 1) });
    expect(periodKey("month", utc(2024, 2, 29, 23, 59, 59, 999), "UTC")).toBe("2024-02");
    expect(periodKey("month", utc(2024, 3, 1), "UTC")).toBe("2024-03");
    // 2000 was a leap year, 1900 was not.
    expect(periodRange("day", "2000-02-29", "UTC").start).toBe(utc(2000, 2, 29));
    expectInvalid(() => periodRange("day", "1900-02-29", "UTC"));
  });

  test("month ranges follow the zone", () => {
    expect(periodRange("month", "2026-03", "Europe/Berlin")).toEqual({
      start: utc(2026, 2, 28, 23), // 00:00 CET
      end: utc(2026, 3, 31, 22), // 00:00 CEST
    });
  });

  test('"all" spans every safe integer and has the single key "all"', () => {
    const all = { start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER };
    expect(periodRange("all", "all", "UTC")).toEqual(all);
    expect(periodRangeAt("all", utc(2026, 1, 1), "Asia/Kathmandu")).toEqual(all);
    for (const key of ["ALL", "", "2026", "2026-11-25"]) expectInvalid(() => periodRange("all", key, "UTC"));
  });

  test("malformed and non-canonical keys throw INVALID_ARGUMENT", () => {
    const bad: [Period, unknown][] = [
      ["day", "2026-11-5"],
      ["day", "2026-13-01"],
      ["day", "2026-00-10"],
      ["day", "2026-02-29"],
      ["day", "2024-02-30"],
      ["day", "2026-04-31"],
      ["day", "2026-11-00"],
      ["day", "2026-11-25T00"],
      ["day", " 2026-11-25"],
      ["day", "20261125"],
      ["day", "2026-W48"],
      ["day", "2026-11"],
      ["day", "+002026-11-25"],
      ["day", "-000001-01-01"],
      ["day", "+010001-01-01"],
      ["day", ""],
      ["day", 20261125],
      ["day", null],
      ["week", "2026-W00"],
      ["week", "2026-W54"],
      ["week", "2025-W53"], // 2025 has 52 ISO weeks
      ["week", "2026-w48"],
      ["week", "2026-W4"],
      ["week", "2026-W048"],
      ["week", "2026-11-25"],
      ["month", "2026-00"],
      ["month", "2026-13"],
      ["month", "2026-1"],
      ["month", "2026-11-01"],
      ["month", "26-11"],
      ["month", undefined],
    ];
    for (const [period, key] of bad) expectInvalid(() => periodRange(period, key as string, "UTC"));
    // 53-week years do have a week 53.
    expect(periodRange("week", "2026-W53", "UTC")).toEqual({ start: utc(2026, 12, 28), end: utc(2027, 1, 4) });
  });
});

describe("DST in America/New_York", () => {
  const NY = "America/New_York";

  test("the spring-forward week is 7 days minus an hour", () => {
    const at = utc(2026, 3, 8, 12); // Sunday 2026-03-08, clocks went 02:00 -> 03:00
    expect(periodKey("week", at, NY)).toBe("2026-W10");
    const range = periodRange("week", "2026-W10", NY);
    expect(range).toEqual({ start: utc(2026, 3, 2, 5), end: utc(2026, 3, 9, 4) }); // Monday 00:00 EST, Monday 00:00 EDT
    expect(local(NY, range.start)).toMatchObject({ date: "2026-03-02", time: "00:00:00", weekday: "Mon" });
    expect(local(NY, range.end)).toMatchObject({ date: "2026-03-09", time: "00:00:00", weekday: "Mon" });
    expect(range.end - range.start).toBe(7 * DAY - HOUR);
    const lastMs = range.end - 1;
    expect(local(NY, lastMs)).toMatchObject({ date: "2026-03-08", time: "23:59:59", weekday: "Sun" });
    expect(periodKey("week", lastMs, NY)).toBe("2026-W10");
    expect(periodKey("week", lastMs + 1, NY)).toBe("2026-W11");
    expect(periodKey("week", range.start - 1, NY)).toBe("2026-W09");
    expect(periodRangeAt("week", at, NY)).toEqual(range);
  });

  test("the fall-back week is 7 days plus an hour", () => {
    const at = utc(2026, 11, 1, 5, 30); // 01:30 EDT... or EST: the repeated hour
    expect(periodKey("week", at, NY)).toBe("2026-W44");
    const range = periodRange("week", "2026-W44", NY);
    expect(range).toEqual({ start: utc(2026, 10, 26, 4), end: utc(2026, 11, 2, 5) });
    expect(local(NY, range.start)).toMatchObject({ date: "2026-10-26", time: "00:00:00", weekday: "Mon" });
    expect(local(NY, range.end)).toMatchObject({ date: "2026-11-02", time: "00:00:00", weekday: "Mon" });
    expect(range.end - range.start).toBe(7 * DAY + HOUR);
    const lastMs = range.end - 1;
    expect(local(NY, lastMs)).toMatchObject({ date: "2026-11-01", time: "23:59:59", weekday: "Sun" });
    expect(periodKey("week", lastMs, NY)).toBe("2026-W44");
    expect(periodKey("week", lastMs + 1, NY)).toBe("2026-W45");
    expect(periodRangeAt("week", at, NY)).toEqual(range);
  });

  test("DST days are 23 and 25 hours long", () => {
    const spring = periodRange("day", "2026-03-08", NY);
    expect(spring).toEqual({ start: utc(2026, 3, 8, 5), end: utc(2026, 3, 9, 4) });
    expect(spring.end - spring.start).toBe(23 * HOUR);
    const fall = periodRange("day", "2026-11-01", NY);
    expect(fall).toEqual({ start: utc(2026, 11, 1, 4), end: utc(2026, 11, 2, 5) });
    expect(fall.end - fall.start).toBe(25 * HOUR);
    // Both passes through 01:30 belong to the same day.
    expect(periodKey("day", utc(2026, 11, 1, 5, 30), NY)).toBe("2026-11-01");
    expect(periodKey("day", utc(2026, 11, 1, 6, 30), NY)).toBe("2026-11-01");
    expect(periodRange("day", "2026-11-02", NY).end - periodRange("day", "2026-11-02", NY).start).toBe(DAY);
    // The month containing spring-forward is an hour short of 31 days.
    const march = periodRange("month", "2026-03", NY);
    expect(march.end - march.start).toBe(31 * DAY - HOUR);
  });
});

describe("other zones", () => {
  test("Australia/Lord_Howe shifts by 30 minutes", () => {
    const tz = "Australia/Lord_Howe";
    const spring = periodRange("day", "2026-10-04", tz); // +10:30 -> +11:00
    expect(spring).toEqual({ start: utc(2026, 10, 3, 13, 30), end: utc(2026, 10, 4, 13) });
    expect(spring.end - spring.start).toBe(23 * HOUR + 30 * MINUTE);
    const autumn = periodRange("day", "2026-04-05", tz); // +11:00 -> +10:30
    expect(autumn).toEqual({ start: utc(2026, 4, 4, 13), end: utc(2026, 4, 5, 13, 30) });
    expect(autumn.end - autumn.start).toBe(24 * HOUR + 30 * MINUTE);
    expect(periodKey("day", utc(2026, 10, 4, 12, 59, 59, 999), tz)).toBe("2026-10-04");
    expect(periodKey("day", utc(2026, 10, 4, 13), tz)).toBe("2026-10-05");
  });

  test("Asia/Kathmandu (+05:45) day and month boundaries", () => {
    const tz = "Asia/Kathmandu";
    expect(periodRange("day", "2026-11-25", tz)).toEqual({ start: utc(2026, 11, 24, 18, 15), end: utc(2026, 11, 25, 18, 15) });
    expect(periodKey("day", utc(2026, 11, 24, 18, 14, 59, 999), tz)).toBe("2026-11-24");
    expect(periodKey("day", utc(2026, 11, 24, 18, 15), tz)).toBe("2026-11-25");
    expect(periodRange("month", "2026-11", tz)).toEqual({ start: utc(2026, 10, 31, 18, 15), end: utc(2026, 11, 30, 18, 15) });
    expect(periodRange("week", "2026-W48", tz)).toEqual({ start: utc(2026, 11, 22, 18, 15), end: utc(2026, 11, 29, 18, 15) });
  });

  test("a skipped midnight starts the day at its first existing instant", () => {
    // [zone, day, first instant (UTC), local wall time then]
    const cases: [string, string, number, string][] = [
      ["America/Santiago", "2022-09-11", utc(2022, 9, 11, 4), "01:00:00"],
      ["America/Havana", "2026-03-08", utc(2026, 3, 8, 5), "01:00:00"],
      ["Asia/Beirut", "2026-03-29", utc(2026, 3, 28, 22), "01:00:00"],
    ];
    for (const [tz, day, start, time] of cases) {
      const range = periodRange("day", day, tz);
      expect(range.start).toBe(start);
      expect(range.end - range.start).toBe(23 * HOUR);
      expect(local(tz, range.start)).toMatchObject({ date: day, time });
      expect(local(tz, range.start - 1).date < day).toBe(true);
      expect(periodKey("day", range.start - 1, tz)).not.toBe(day);
      expect(periodKey("day", range.start, tz)).toBe(day);
    }
    // The week and month containing such a day start at the usual midnight.
    expect(periodRange("month", "2022-09", "America/Santiago").start).toBe(utc(2022, 9, 1, 4));
  });

  test("a repeated midnight starts the day at its first occurrence", () => {
    // Havana falls back from 01:00 CDT to 00:00 CST, so 00:00-01:00 happens twice.
    const range = periodRange("day", "2026-11-01", "America/Havana");
    expect(range).toEqual({ start: utc(2026, 11, 1, 4), end: utc(2026, 11, 2, 5) });
    expect(periodKey("day", range.start - 1, "America/Havana")).toBe("2026-10-31");
    expect(periodKey("day", utc(2026, 11, 1, 5, 30), "America/Havana")).toBe("2026-11-01");
  });

  test("a skipped day (Pacific/Apia, 2011-12-30) is an empty bucket", () => {
    const tz = "Pacific/Apia";
    const skipped = periodRange("day", "2011-12-30", tz);
    expect(skipped.end).toBe(skipped.start);
    expect(periodKey("day", skipped.start - 1, tz)).toBe("2011-12-29");
    expect(periodKey("day", skipped.start, tz)).toBe("2011-12-31");
    const from = periodRange("day", "2011-12-29", tz).start;
    const to = periodRange("day", "2011-12-31", tz).end;
    expect(periodKeysBetween("day", from, to, tz)).toEqual(["2011-12-29", "2011-12-31"]);
    // The week lost a day.
    const week = periodRangeAt("week", skipped.start, tz);
    expect(week.end - week.start).toBe(6 * DAY);
  });

  test("UTC days are always 24 hours", () => {
    for (const day of ["2026-03-08", "2026-03-29", "2026-10-25", "2026-11-01", "2016-12-31"]) {
      const range = periodRange("day", day, "UTC");
      expect(range.end - range.start).toBe(DAY);
      expect(new Date(range.start).toISOString()).toBe(`${day}T00:00:00.000Z`);
    }
  });
});

describe("periodKeysBetween", () => {
  test("lists intersecting buckets oldest first, `to` exclusive", () => {
    expect(periodKeysBetween("day", utc(2026, 11, 25, 12), utc(2026, 11, 28), "UTC")).toEqual([
      "2026-11-25",
      "2026-11-26",
      "2026-11-27",
    ]);
    expect(periodKeysBetween("day", utc(2026, 11, 25, 12), utc(2026, 11, 28) + 1, "UTC")).toEqual([
      "2026-11-25",
      "2026-11-26",
      "2026-11-27",
      "2026-11-28",
    ]);
    expect(periodKeysBetween("day", utc(2026, 11, 25), utc(2026, 11, 25) + 1, "UTC")).toEqual(["2026-11-25"]);
    expect(periodKeysBetween("week", utc(2020, 12, 28), utc(2021, 1, 12), "UTC")).toEqual(["2020-W53", "2021-W01", "2021-W02"]);
    expect(periodKeysBetween("month", utc(2026, 11, 15), utc(2027, 2, 1), "Europe/Berlin")).toEqual([
      "2026-11",
      "2026-12",
      "2027-01",
      "2027-02", // 2027-02-01T00:00Z is already February in Berlin
    ]);
    expect(periodKeysBetween("month", utc(2026, 11, 15), utc(2027, 2, 1), "America/New_York")).toEqual(["2026-11", "2026-12", "2027-01"]);
  });

  test("is empty for an empty interval", () => {
    const at = utc(2026, 11, 25, 12);
    expect(periodKeysBetween("day", at, at, "UTC")).toEqual([]);
    expect(periodKeysBetween("week", at, at - DAY, "UTC")).toEqual([]);
  });

  test("caps the result at 10,000 keys", () => {
    const from = utc(2000, 1, 1);
    const keys = periodKeysBetween("day", from, from + 10_000 * DAY, "UTC");
    expect(keys).toHaveLength(10_000);
    expect(keys[0]).toBe("2000-01-01");
    expect(keys[9_999]).toBe(periodKey("day", from + 10_000 * DAY - 1, "UTC"));
    expectInvalid(() => periodKeysBetween("day", from, from + 10_000 * DAY + 1, "UTC"));
    expectInvalid(() => periodKeysBetween("month", utc(1, 1, 1), utc(9999, 12, 31), "UTC"));
    expectInvalid(() => periodKeysBetween("week", utc(1900, 1, 1), utc(2100, 1, 1), "Europe/Berlin"));
  });

  test("rejects bad arguments", () => {
    const at = utc(2026, 1, 1);
    expectInvalid(() => periodKeysBetween("all" as Granularity, at, at + DAY, "UTC"));
    expectInvalid(() => periodKeysBetween("year" as Granularity, at, at + DAY, "UTC"));
    expectInvalid(() => periodKeysBetween("day", Number.NaN, at, "UTC"));
    expectInvalid(() => periodKeysBetween("day", at, Infinity, "UTC"));
  });
});

describe("properties", () => {
  const instant = fc.integer({ min: utc(1900, 1, 1), max: utc(2100, 1, 1) });
  const zone = fc.constantFrom(...ZONES);
  const granularity = fc.constantFrom(...GRANULARITIES);

  test("the range of an instant's key contains it, and its edges map back to the key", () => {
    fc.assert(
      fc.property(instant, zone, granularity, (at, tz, period) => {
        const key = periodKey(period, at, tz);
        const range = periodRange(period, key, tz);
        expect(range.start).toBeLessThanOrEqual(at);
        expect(at).toBeLessThan(range.end);
        expect(periodKey(period, range.start, tz)).toBe(key);
        expect(periodKey(period, range.end - 1, tz)).toBe(key);
        expect(periodKey(period, range.end, tz)).not.toBe(key);
        expect(periodKey(period, range.start - 1, tz)).not.toBe(key);
        expect(periodRangeAt(period, at, tz)).toEqual(range);
        // Checked against Intl directly: buckets start at local midnight of their first day.
        const first = local(tz, range.start);
        const before = local(tz, range.start - 1);
        if (period === "day") expect(first.date).toBe(key);
        if (period === "week") expect(first.weekday).toBe("Mon");
        if (period === "month") expect(first.date).toBe(`${key}-01`);
        expect(before.date < first.date).toBe(true);
        expect(local(tz, range.end - 1).date < local(tz, range.end).date).toBe(true);
      }),
      { numRuns: 600 },
    );
  });

  test("keys between two instants tile the interval", () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 120 * DAY }), zone, granularity, (from, span, tz, g) => {
        const to = from + span;
        const keys = periodKeysBetween(g, from, to, tz);
        expect(keys[0]).toBe(periodKey(g, from, tz));
        expect(keys[keys.length - 1]).toBe(periodKey(g, to - 1, tz));
        const ranges = keys.map((key) => periodRange(g, key, tz));
        for (let i = 0; i < ranges.length; i++) {
          const range = ranges[i];
          const next = ranges[i + 1];
          if (range === undefined) throw new Error("unreachable");
          expect(range.start).toBeLessThan(range.end);
          expect(range.start).toBeLessThan(to);
          expect(range.end).toBeGreaterThan(from);
          if (next !== undefined) {
            expect(next.start).toBe(range.end);
            expect((keys[i] ?? "") < (keys[i + 1] ?? "")).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
