/**
 * File adapter for GamifyKit: a JSON-lines log with snapshots, group commit and a lock file, for
 * development and small single-process installs.
 */
export { fileStores, fileStorage, fileLeaderboards, fileAnalytics } from "./stores.js";
export type { FileStores } from "./stores.js";
export type { Durability, FileStoreOptions } from "./options.js";
