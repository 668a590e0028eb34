import { readdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { GamifyError } from "@gamifykit/core";
import { isLogRecord, type LogRecord } from "./records.js";

export const SNAPSHOT_FILE = "snapshot.json";
const SEGMENT = /^log-(\d{8})\.jsonl$/;

/** `log-00000042.jsonl`: zero-padded so a directory listing sorts in log order. */
export function segmentName(n: number): string {
  return `log-${String(n).padStart(8, "0")}.jsonl`;
}

/** Segment numbers present in the directory, ascending. */
export async function listSegments(directory: string): Promise<number[]> {
  const numbers: number[] = [];
  for (const name of await readdir(directory)) {
    const match = SEGMENT.exec(name);
    if (match) numbers.push(Number(match[1]));
  }
  return numbers.sort((a, b) => a - b);
}

function corrupt(message: string, details: Record<string, unknown>, cause?: unknown): GamifyError {
  return new GamifyError("STORAGE_UNAVAILABLE", message, { details, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Reads a segment's records. An unterminated last line is a write torn by a crash: in the last
 * segment it was never acknowledged, so it is cut off the file; anywhere else, and any line that
 * does not parse, is corruption and fails with the file and line, since dropping a committed
 * record silently would lose acknowledged data.
 */
export async function readSegment(path: string, isLast: boolean): Promise<LogRecord[]> {
  const bytes = await readFile(path);
  const end = bytes.lastIndexOf(0x0a) + 1;
  if (end < bytes.length) {
    if (!isLast) {
      throw corrupt(`Log segment ${path} ends with an unterminated record but later segments exist; the log is damaged. Restore the directory from a backup.`, {
        file: path,
      });
    }
    // Torn by a crash mid-write: never acknowledged, so drop it.
    await truncate(path, end);
  }
  const text = bytes.subarray(0, end).toString("utf8");
  const records: LogRecord[] = [];
  let line = 0;
  let start = 0;
  while (start < text.length) {
    const stop = text.indexOf("\n", start);
    const raw = text.slice(start, stop);
    start = stop + 1;
    line++;
    if (raw === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw corrupt(`Log segment ${path}, line ${line}, is not valid JSON; the log is damaged. Restore the directory from a backup, or remove the line if losing that record is acceptable.`, { file: path, line }, error);
    }
    if (!isLogRecord(value)) {
      throw corrupt(`Log segment ${path}, line ${line}, is not a record this version understands (written by a newer version?).`, { file: path, line });
    }
    records.push(value);
  }
  return records;
}

/** Path of segment `n`. */
export function segmentPath(directory: string, n: number): string {
  return join(directory, segmentName(n));
}
