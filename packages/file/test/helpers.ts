import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AwardRequest } from "@gamifykit/core";
import { nodeIo, type FileIo } from "../src/io.js";

/** A fresh directory under the OS temp dir; all of them are removed by {@link removeTempDirs}. */
const made: string[] = [];
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gamifykit-file-"));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** The real I/O, counting data syncs; `failSyncs` makes them fail with EIO. */
export function countingIo(): FileIo & { syncs: number; failSyncs: boolean } {
  const io = {
    syncs: 0,
    failSyncs: false,
    async datasync(handle: Parameters<FileIo["datasync"]>[0]) {
      io.syncs++;
      if (io.failSyncs) throw Object.assign(new Error("EIO: i/o error, fdatasync (simulated)"), { code: "EIO" });
      await nodeIo.datasync(handle);
    },
    syncDirectory: (path: string) => nodeIo.syncDirectory(path),
  };
  return io;
}

/** A raw +delta award request, as the engine would build it. */
export function award(userId: string, id: string, delta: number, at = Date.now(), idempotencyKey?: string): AwardRequest {
  return {
    metric: "points",
    delta,
    event: { id, type: "points_added", userId, at, metric: "points", delta, total: 0 },
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
}
