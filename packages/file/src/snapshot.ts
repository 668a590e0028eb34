import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { GamifyError } from "@gamifykit/core";
import type { SavedAnalytics } from "./analytics-model.js";
import type { SavedBoards } from "./board-model.js";
import { errnoOf } from "./errors.js";
import { writeFileAtomic, type FileIo } from "./io.js";
import { SNAPSHOT_FILE } from "./log-files.js";
import type { SavedStorage } from "./storage-model.js";

export const SNAPSHOT_FORMAT = "gamifykit-file";
export const SNAPSHOT_VERSION = 1;

/** The whole state at the start of log segment `segment` (segments before it are covered). */
export interface Snapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: typeof SNAPSHOT_VERSION;
  /** The first log segment to replay on top of this snapshot. */
  readonly segment: number;
  /** The store's clock when the snapshot was taken. */
  readonly at: number;
  readonly storage: SavedStorage;
  readonly leaderboards: SavedBoards;
  readonly analytics: SavedAnalytics;
}

/** The snapshot, or undefined in a directory that has none yet. */
export async function readSnapshot(directory: string): Promise<Snapshot | undefined> {
  const path = join(directory, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  }
  let value: Partial<Snapshot>;
  try {
    value = JSON.parse(text) as Partial<Snapshot>;
  } catch (error) {
    // Snapshots are replaced by rename, so a damaged one was damaged after it was written.
    throw new GamifyError("STORAGE_UNAVAILABLE", `The snapshot ${path} is not valid JSON; restore the directory from a backup.`, { cause: error, details: { file: path } });
  }
  if (value.format !== SNAPSHOT_FORMAT || value.version !== SNAPSHOT_VERSION || typeof value.segment !== "number") {
    throw new GamifyError("STORAGE_UNAVAILABLE", `${path} is not a GamifyKit file-store snapshot of version ${SNAPSHOT_VERSION}; is the directory used by something else, or written by a newer version?`, {
      details: { file: path },
    });
  }
  return value as Snapshot;
}

/**
 * Writes the snapshot atomically. The parts come pre-serialised: storage and analytics are
 * captured synchronously at the log's rotation point, the leaderboards a moment later.
 */
export async function writeSnapshot(
  io: FileIo,
  directory: string,
  head: { segment: number; at: number },
  parts: { storage: string; leaderboards: string; analytics: string },
): Promise<void> {
  const text =
    `{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"version":${SNAPSHOT_VERSION},"segment":${head.segment},"at":${head.at},` +
    `"storage":${parts.storage},"leaderboards":${parts.leaderboards},"analytics":${parts.analytics}}\n`;
  await writeFileAtomic(io, directory, join(directory, SNAPSHOT_FILE), text);
}
