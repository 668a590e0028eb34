import type { AnalyticsStore, LeaderboardStore, Storage } from "@gamifykit/core";
import { Attachment, SharedDatabase } from "./database.js";
import { FileAnalytics } from "./file-analytics.js";
import { FileLeaderboards } from "./file-leaderboards.js";
import { FileStorage } from "./file-storage.js";
import { nodeIo, type FileIo } from "./io.js";
import { resolveOptions, type FileStoreOptions } from "./options.js";

/** The three stores of one directory, sharing its lock and log. */
export interface FileStores {
  readonly storage: Storage;
  readonly leaderboardStore: LeaderboardStore;
  readonly analytics: AnalyticsStore;
  /**
   * Opens the directory now (lock, snapshot, log replay) so a held lock or a damaged log fails at
   * startup rather than on the first award. Optional: every store opens on its first call.
   */
  open(): Promise<void>;
  /** Writes a snapshot now and starts a new log segment (it also happens every `compactEvery` records). */
  compact(): Promise<void>;
  /** Closes all three stores: flushes and syncs the log and releases the lock. Idempotent. */
  close(): Promise<void>;
}

/** Builds the stores on an I/O seam; tests pass one that counts syncs. Not exported by the package. */
export function createFileStores(options: FileStoreOptions, io: FileIo): FileStores {
  const shared = new SharedDatabase(resolveOptions(options), io);
  const links = { storage: new Attachment(shared, "storage"), leaderboards: new Attachment(shared, "leaderboard store"), analytics: new Attachment(shared, "analytics store") };
  const storage = new FileStorage(links.storage);
  const leaderboards = new FileLeaderboards(links.leaderboards);
  const analytics = new FileAnalytics(links.analytics);
  const open = async (): Promise<void> => {
    await Promise.all([links.storage.db(), links.leaderboards.db(), links.analytics.db()]);
  };
  return {
    storage,
    leaderboardStore: leaderboards,
    analytics,
    open,
    async compact() {
      await (await links.storage.db()).compact();
    },
    async close() {
      await Promise.all([storage.close(), leaderboards.close(), analytics.close()]);
    },
  };
}

/**
 * Storage, leaderboards and analytics in one directory: an append-only JSON-lines log with
 * periodic snapshots, group commit and a lock file, for development and small single-process
 * installs. Nothing happens until the first call (or {@link FileStores.open}). The directory is
 * released when every store used so far is closed; `gk.close()` closes all three.
 *
 * @example
 * const files = fileStores({ directory: "./data/gamify" });
 * const gk = createGamify({ ...files });
 * // ...
 * await gk.close(); // closes the three stores, syncs the log and releases the lock
 */
export function fileStores(options: FileStoreOptions): FileStores {
  return createFileStores(options, nodeIo);
}

/**
 * A file {@link Storage} that owns `options.directory` (to keep leaderboards and analytics in the
 * same directory, use {@link fileStores}: a second store on a directory fails on its lock).
 *
 * @example
 * const gk = createGamify({ storage: fileStorage({ directory: "./data/gamify" }) });
 */
export function fileStorage(options: FileStoreOptions): Storage {
  return fileStores(options).storage;
}

/**
 * A file {@link LeaderboardStore} that owns `options.directory` (see {@link fileStores} to share one).
 *
 * @example
 * const gk = createGamify({ leaderboardStore: fileLeaderboards({ directory: "./data/boards" }) });
 */
export function fileLeaderboards(options: FileStoreOptions): LeaderboardStore {
  return fileStores(options).leaderboardStore;
}

/**
 * A file {@link AnalyticsStore} that owns `options.directory` (see {@link fileStores} to share one).
 *
 * @example
 * const gk = createGamify({ analytics: fileAnalytics({ directory: "./data/analytics", timeZone: "Europe/Berlin" }) });
 */
export function fileAnalytics(options: FileStoreOptions): AnalyticsStore {
  return fileStores(options).analytics;
}
