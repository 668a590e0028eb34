import { pino, type DestinationStream, type Logger } from "pino";
import type { ServerConfig } from "./config/load.js";

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO ", 40: "WARN ", 50: "ERROR", 60: "FATAL" };
const OMIT = new Set(["level", "time", "msg", "pid", "hostname"]);

/** One readable line per pino record: `12:00:00.123 INFO  request method=GET status=200 …`. */
export function formatPretty(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const time = typeof record["time"] === "number" ? new Date(record["time"]).toISOString().slice(11, 23) : "";
  const level = LEVEL_NAMES[record["level"] as number] ?? String(record["level"]);
  const fields = Object.entries(record)
    .filter(([key]) => !OMIT.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${time} ${level} ${String(record["msg"] ?? "")}${fields ? ` ${fields}` : ""}\n`;
}

function prettyStream(out: { write(text: string): unknown }): DestinationStream {
  return { write: (line: string) => void out.write(formatPretty(line)) };
}

/**
 * The server's pino logger: JSON lines on stdout, or (`GAMIFYKIT_LOG_FORMAT=pretty`, the development
 * default) one readable line per record. Secrets in headers are redacted.
 */
export function createLogger(log: ServerConfig["log"], out: { write(text: string): unknown } = process.stdout): Logger {
  const options = {
    level: log.level,
    base: { pid: process.pid },
    redact: { paths: ["req.headers.authorization", "req.headers['x-api-key']", "headers.authorization"], censor: "[redacted]" },
  };
  return log.format === "pretty" ? pino(options, prettyStream(out)) : pino(options, { write: (line: string) => void out.write(line) });
}
