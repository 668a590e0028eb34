import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { GamifyError } from "@gamifykit/core";
import { AnalyticsModel } from "./analytics-model.js";
import { BoardModel } from "./board-model.js";
import { closedError, unavailable } from "./errors.js";
import { removeIfPresent, type FileIo } from "./io.js";
import { Journal } from "./journal.js";
import { listSegments, readSegment, segmentPath, SNAPSHOT_FILE } from "./log-files.js";
import { acquireLock, type DirectoryLock } from "./lock.js";
import type { ResolvedOptions } from "./options.js";
import type { AnalyticsRecord, BoardRecord, LogRecord, StorageRecord } from "./records.js";
import { readSnapshot, writeSnapshot } from "./snapshot.js";
import { StorageModel } from "./storage-model.js";

const isBoardRecord = (r: LogRecord): r is BoardRecord => r.op.startsWith("board.");
const isAnalyticsRecord = (r: LogRecord): r is AnalyticsRecord => r.op.startsWith("analytics.");

/** Serialises a record before anything is applied, so an unserialisable call changes nothing. */
function encode(record: LogRecord): string {
  try {
    return JSON.stringify(record);
  } catch (error) {
    throw new GamifyError("INVALID_ARGUMENT", "The file store can only keep JSON values; event metadata must be JSON-serialisable (no BigInt or cycles).", {
      cause: error,
    });
  }
}

/**
 * One open store directory: the lock, the three in-memory models and the log. Every change is
 * applied to a model and appended to the log in one synchronous step (board changes in one
 * exclusive step), so the log replays to exactly the state that was acknowledged.
 */
export class Database {
  private compacting: Promise<void> | undefined;

  private constructor(
    private readonly options: ResolvedOptions,
    private readonly io: FileIo,
    private readonly lock: DirectoryLock,
    private readonly journal: Journal,
    readonly storage: StorageModel,
    readonly boards: BoardModel,
    readonly analytics: AnalyticsModel,
  ) {}

  /**
   * Takes the lock, loads the snapshot, replays the log (cutting off a torn last line) and opens
   * the log for appending. A fresh directory gets an empty snapshot first.
   */
  static async open(options: ResolvedOptions, io: FileIo): Promise<Database> {
    const { directory } = options;
    try {
      await mkdir(directory, { recursive: true });
    } catch (error) {
      throw unavailable(`Could not create the file store directory ${directory}; check the path and permissions`, error);
    }
    const lock = await acquireLock(directory);
    try {
      return await Database.load(options, io, lock);
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw unavailable(`Could not open the file store in ${directory}`, error);
    }
  }

  private static async load(options: ResolvedOptions, io: FileIo, lock: DirectoryLock): Promise<Database> {
    const { directory } = options;
    const storage = new StorageModel(options.idempotencyTtlMs);
    const boards = new BoardModel();
    const analytics = new AnalyticsModel(options.timeZone);
    let db: Database | undefined;
    const journalOptions = {
      directory,
      durability: options.durability,
      batchIntervalMs: options.batchIntervalMs,
      io,
      segmentLimit: options.compactEvery,
      // A failed background compaction loses nothing (the log still holds every record); the next one retries.
      onSegmentFull: () => void db?.compact().catch(() => undefined),
    };
    await removeIfPresent(join(directory, `${SNAPSHOT_FILE}.tmp`));
    const snapshot = await readSnapshot(directory);
    const segments = await listSegments(directory);
    if (snapshot === undefined) {
      if (segments.length > 0) {
        throw new GamifyError("STORAGE_UNAVAILABLE", `${directory} holds log segments but no ${SNAPSHOT_FILE}; the directory is damaged. Restore it from a backup.`);
      }
      const at = options.clock();
      await writeSnapshot(io, directory, { segment: 1, at }, {
        storage: JSON.stringify(storage.save()),
        leaderboards: JSON.stringify(await boards.save(at)),
        analytics: JSON.stringify(analytics.save()),
      });
      db = new Database(options, io, lock, await Journal.open(journalOptions, 1, 0, true), storage, boards, analytics);
      return db;
    }
    // Segments before the snapshot's are leftovers of a compaction interrupted after its rename.
    for (const n of segments) if (n < snapshot.segment) await removeIfPresent(segmentPath(directory, n));
    const live = segments.filter((n) => n >= snapshot.segment);
    live.forEach((n, i) => {
      if (n !== snapshot.segment + i) {
        throw new GamifyError("STORAGE_UNAVAILABLE", `Log segment ${segmentPath(directory, snapshot.segment + i)} is missing; the directory is damaged. Restore it from a backup.`);
      }
    });
    storage.load(snapshot.storage);
    await boards.load(snapshot.leaderboards, snapshot.at);
    analytics.load(snapshot.analytics);
    let replayed = 0;
    let inLast = 0;
    for (const [i, n] of live.entries()) {
      const path = segmentPath(directory, n);
      const records = await readSegment(path, i === live.length - 1);
      for (const record of records) {
        try {
          await applyRecord(record, storage, boards, analytics);
        } catch (error) {
          throw unavailable(`Replaying ${path} failed at record ${replayed + 1} (${record.op}); the log does not match its snapshot`, error);
        }
        replayed++;
      }
      inLast = records.length;
    }
    const zoneChanged = snapshot.analytics.timeZone !== options.timeZone;
    if (zoneChanged && !analytics.isEmpty()) {
      throw new GamifyError(
        "CONFLICT",
        `The analytics in ${directory} are bucketed in ${snapshot.analytics.timeZone}, not ${options.timeZone}; pass timeZone: ${JSON.stringify(snapshot.analytics.timeZone)}.`,
        { details: { field: "timeZone", stored: snapshot.analytics.timeZone, requested: options.timeZone } },
      );
    }
    const last = live.at(-1);
    const journal = last === undefined ? await Journal.open(journalOptions, snapshot.segment, 0, true) : await Journal.open(journalOptions, last, inLast, false);
    db = new Database(options, io, lock, journal, storage, boards, analytics);
    // Start the next open from a fresh snapshot when this one had much to replay (or a new zone to record).
    if (live.length > 1 || replayed >= options.compactEvery || zoneChanged) await db.compact();
    return db;
  }

  /** The store's clock. */
  now(): number {
    return this.options.clock();
  }

  /** Throws when the log can no longer be written. */
  check(): void {
    this.journal.check();
  }

  /**
   * Applies a storage record and appends it; resolves when it is acknowledged. Without a record
   * (the call changed nothing), waits until everything the answer was based on is acknowledged.
   */
  writeStorage(record: StorageRecord | undefined): Promise<void> {
    if (record === undefined) return this.journal.barrier();
    const line = encode(record);
    this.storage.apply(record);
    return this.journal.append(line);
  }

  /** {@link Database.writeStorage} for analytics. */
  writeAnalytics(record: AnalyticsRecord): Promise<void> {
    const line = encode(record);
    this.analytics.apply(record);
    return this.journal.append(line);
  }

  /**
   * Builds a board record at the current time, applies it (the memory store validates it) and
   * appends it, one call at a time; resolves with the call's result once acknowledged.
   */
  async writeBoards<R>(build: (t: number) => BoardRecord): Promise<R> {
    let ack: Promise<void> = Promise.resolve();
    const result = await this.boards.exclusive(async () => {
      this.journal.check();
      const record = build(this.options.clock());
      const line = encode(record);
      const value = await this.boards.apply(record);
      // A remove that found nothing changed nothing.
      if (!(record.op === "board.remove" && value === false)) ack = this.journal.append(line);
      return value;
    });
    await ack;
    return result as R;
  }

  /**
   * Writes a snapshot of the whole state and moves the log to a new segment, then removes the
   * segments the snapshot covers. Crash-safe at every step: until the snapshot's rename is on
   * disk the old snapshot and every segment are still there; after it, the old segments are
   * ignored (and removed on the next open).
   */
  compact(): Promise<void> {
    this.compacting ??= this.runCompaction()
      .catch((error: unknown) => {
        throw unavailable(`Compacting the file store in ${this.options.directory} failed (the log still holds every record); check disk space`, error);
      })
      .finally(() => {
        this.compacting = undefined;
      });
    return this.compacting;
  }

  private async runCompaction(): Promise<void> {
    const { directory } = this.options;
    const taken = await this.boards.exclusive(async () => {
      const at = this.options.clock();
      // One synchronous step: the rotation point, storage and analytics agree exactly...
      const storage = JSON.stringify(this.storage.save());
      const analytics = JSON.stringify(this.analytics.save());
      const rotation = this.journal.rotate();
      // ...and board changes wait for this exclusive section, so the boards are still at that point.
      const leaderboards = JSON.stringify(await this.boards.save(at));
      return { at, rotation, parts: { storage, analytics, leaderboards } };
    });
    await writeSnapshot(this.io, directory, { segment: taken.rotation.segment, at: taken.at }, taken.parts);
    await taken.rotation.done;
    for (const n of await listSegments(directory)) {
      if (n < taken.rotation.segment) await removeIfPresent(segmentPath(directory, n));
    }
  }

  /** Finishes pending writes, syncs, and releases the lock. */
  async close(): Promise<void> {
    try {
      await this.compacting?.catch(() => undefined);
      // Let board calls already queued finish and append.
      await this.boards.exclusive(async () => undefined);
      await this.journal.close();
      await this.boards.close();
    } catch (error) {
      throw unavailable(`Closing the file store in ${this.options.directory} failed; the last writes may not be synced`, error);
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }
}

async function applyRecord(record: LogRecord, storage: StorageModel, boards: BoardModel, analytics: AnalyticsModel): Promise<void> {
  if (isBoardRecord(record)) await boards.apply(record);
  else if (isAnalyticsRecord(record)) analytics.apply(record);
  else storage.apply(record);
}

/**
 * Shares one {@link Database} between the stores of one directory. A store attaches on its first
 * call; the directory is opened by the first attach and closed (lock released) when the last
 * attached store closes.
 */
export class SharedDatabase {
  private refs = 0;
  private opening: Promise<Database> | undefined;
  private closing: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly io: FileIo,
  ) {}

  async acquire(): Promise<Database> {
    this.refs++;
    if (this.opening === undefined) {
      const opening = this.closing.then(() => Database.open(this.options, this.io));
      this.opening = opening;
      opening.catch(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    }
    try {
      return await this.opening;
    } catch (error) {
      this.refs--;
      throw error;
    }
  }

  async release(): Promise<void> {
    this.refs--;
    if (this.refs > 0 || this.opening === undefined) return;
    const opening = this.opening;
    this.opening = undefined;
    this.closing = opening.then(
      (db) => db.close(),
      () => undefined,
    );
    await this.closing;
  }
}

/** One store's link to the shared database: attaches lazily, detaches on close. */
export class Attachment {
  private ready: Promise<Database> | undefined;
  private closed = false;

  constructor(
    private readonly shared: SharedDatabase,
    private readonly kind: string,
  ) {}

  /** The open database; opens it on first use. Throws CLOSED after close(). */
  async db(): Promise<Database> {
    if (this.closed) throw closedError(this.kind);
    if (this.ready === undefined) {
      const ready = this.shared.acquire();
      this.ready = ready;
      // A failed open (e.g. the lock is held) is retried by the next call.
      ready.catch(() => {
        if (this.ready === ready) this.ready = undefined;
      });
    }
    const db = await this.ready;
    if (this.closed) throw closedError(this.kind);
    db.check();
    return db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ready = this.ready;
    this.ready = undefined;
    if (ready !== undefined && (await ready.then(() => true, () => false))) await this.shared.release();
  }
}
