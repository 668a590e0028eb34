import { open, rename, rm, type FileHandle } from "node:fs/promises";
import process from "node:process";
import { errnoOf } from "./errors.js";

/**
 * The sync calls the store makes, behind one seam so tests can count and fail them. Not part of
 * the public API.
 */
export interface FileIo {
  /** `fdatasync(2)` on an open file. */
  datasync(handle: FileHandle): Promise<void>;
  /** Makes a directory's entries (created, renamed, removed files) durable. */
  syncDirectory(path: string): Promise<void>;
}

/** The real thing. */
export const nodeIo: FileIo = {
  datasync: (handle) => handle.datasync(),
  async syncDirectory(path) {
    // Windows cannot open a directory for syncing; its rename is durable on its own (NTFS journal).
    if (process.platform === "win32") return;
    const dir = await open(path, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  },
};

/** Writes all of `data` (a write to a regular file may still return short). */
export async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/**
 * Replaces `path` atomically: writes `path.tmp`, syncs it, renames it over `path`, then syncs the
 * directory, so a crash leaves either the old file or the new one, never a mix.
 */
export async function writeFileAtomic(io: FileIo, directory: string, path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await writeAll(handle, Buffer.from(data, "utf8"));
    await io.datasync(handle);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(tmp, path);
  await io.syncDirectory(directory);
}

/** Removes a file; absent is fine. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await rm(path);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") throw error;
  }
}
