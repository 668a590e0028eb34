import { randomUUID } from "node:crypto";
import { link, open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { GamifyError } from "@gamifykit/core";
import { errnoOf, unavailable } from "./errors.js";
import { removeIfPresent } from "./io.js";

/** What the lock file holds: who owns the directory. */
interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  /** Unique per acquisition, so a release never removes a lock someone else took over. */
  readonly token: string;
  readonly since: number;
}

/** A held directory lock. */
export interface DirectoryLock {
  readonly path: string;
  release(): Promise<void>;
}

export const LOCK_FILE = "LOCK";

/** An unreadable lock younger than this may be a creator still writing it; older ones are stale. */
const UNREADABLE_GRACE_MS = 10_000;

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, hostname: host, token, since } = value as Record<string, unknown>;
    if (typeof pid !== "number" || typeof host !== "string" || typeof token !== "string" || typeof since !== "number") return undefined;
    return { pid, hostname: host, token, since };
  } catch {
    return undefined;
  }
}

/** False only when the pid certainly does not run on this host (EPERM means it runs as someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) !== "ESRCH";
  }
}

function heldError(path: string, owner: LockOwner | undefined): GamifyError {
  const who =
    owner === undefined
      ? "an unreadable owner"
      : owner.pid === process.pid && owner.hostname === hostname()
        ? `this process (pid ${owner.pid}); open the directory once and share the stores, e.g. with fileStores()`
        : `pid ${owner.pid} on host ${owner.hostname} since ${new Date(owner.since).toISOString()}`;
  return new GamifyError(
    "STORAGE_UNAVAILABLE",
    `The file store at ${path} is locked by ${who}. Only one process may write a store; stop the other one, or delete the lock file if you are sure no process uses the directory.`,
    { details: { lockFile: path, ...(owner === undefined ? {} : { pid: owner.pid, hostname: owner.hostname }) } },
  );
}

/**
 * Takes the directory's lock file with O_EXCL. A lock left by a dead process on this host is
 * taken over; a live owner (or one on another host, which cannot be checked) is an error.
 */
export async function acquireLock(directory: string): Promise<DirectoryLock> {
  const path = join(directory, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, hostname: hostname(), token: randomUUID(), since: Date.now() };
  // A few rounds: each lost race against another process re-reads the lock.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(JSON.stringify(me));
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { path, release: () => releaseLock(path, me.token) };
    } catch (error) {
      if (errnoOf(error) !== "EEXIST") throw unavailable(`Could not create the lock file ${path}; check that the directory is writable`, error);
    }
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (errnoOf(error) === "ENOENT") continue; // released meanwhile
      throw unavailable(`Could not read the lock file ${path}`, error);
    }
    const owner = parseOwner(text);
    if (owner === undefined) {
      // Empty or half-written: a creator still writing it, or one that crashed between open and
      // write. Only treat it as stale once it has stayed unreadable for a while.
      const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age < UNREADABLE_GRACE_MS) throw heldError(path, owner);
    } else if (owner.hostname !== hostname() || isAlive(owner.pid)) {
      throw heldError(path, owner);
    }
    await takeOver(path, text);
  }
  throw new GamifyError("STORAGE_UNAVAILABLE", `Could not take the lock file ${path}: other processes kept taking it; retry.`, {
    details: { lockFile: path },
  });
}

/**
 * Moves a stale lock aside. Renaming (rather than deleting) lets us check we moved the stale
 * lock we judged, not a fresh one another process created meanwhile; that one is put back.
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return; // someone else moved it; retry the create
    throw unavailable(`Could not remove the stale lock file ${path}`, error);
  }
  const moved = await readFile(aside, "utf8").catch(() => undefined);
  if (moved !== staleText) {
    await link(aside, path).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

async function releaseLock(path: string, token: string): Promise<void> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text !== undefined && parseOwner(text)?.token === token) await removeIfPresent(path);
}
