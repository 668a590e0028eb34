import { open, type FileHandle } from "node:fs/promises";
import type { GamifyError } from "@gamifykit/core";
import { unavailable } from "./errors.js";
import { writeAll, type FileIo } from "./io.js";
import { segmentPath } from "./log-files.js";
import type { Durability } from "./options.js";

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may never await a barrier; an unobserved rejection must not crash the host.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Lines written together, acknowledged together. */
interface Batch {
  readonly kind: "batch";
  readonly lines: string[];
  readonly done: Deferred;
}

/** The point where the log moves on to a new segment. */
interface Rotation {
  readonly kind: "rotate";
  readonly segment: number;
  readonly done: Deferred;
}

export interface JournalOptions {
  readonly directory: string;
  readonly durability: Durability;
  readonly batchIntervalMs: number;
  readonly io: FileIo;
  /** Called after a write when the current segment holds at least this many records. */
  readonly segmentLimit: number;
  readonly onSegmentFull: () => void;
}

/**
 * The append-only log writer. Lines appended in one tick form a batch, written with one
 * `write(2)` and (in `fsync` mode) one `fdatasync(2)`; lines arriving while a batch is being
 * written form the next batch. A failed write or sync poisons the journal: the in-memory state
 * may then hold changes the disk does not, so every later call fails until the store is reopened
 * (reopening replays the disk, the source of truth).
 */
export class Journal {
  private queue: (Batch | Rotation)[] = [];
  /** The batch still accepting lines, if any. */
  private accepting: Batch | undefined;
  /** The promise of the newest batch: resolves once everything appended so far is acknowledged. */
  private tail: Promise<void> = Promise.resolve();
  private draining = false;
  private dirty = false;
  /** The periodic sync of "batch" mode, running beside writes (a slow disk must not stall them). */
  private syncing: Promise<void> | undefined;
  private failure: GamifyError | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private records: number;

  private constructor(
    private readonly options: JournalOptions,
    private handle: FileHandle,
    private segment: number,
    records: number,
  ) {
    this.records = records;
    if (options.durability === "batch") {
      this.timer = setInterval(() => this.periodicSync(), options.batchIntervalMs);
      // A forgotten close() must not keep the process alive; the data is already written.
      this.timer.unref();
    }
  }

  /** Opens segment `segment` for appending; `records` is how many it already holds. */
  static async open(options: JournalOptions, segment: number, records: number, create: boolean): Promise<Journal> {
    const path = segmentPath(options.directory, segment);
    const handle = await open(path, create ? "wx" : "a");
    if (create) await options.io.syncDirectory(options.directory);
    return new Journal(options, handle, segment, records);
  }

  /** Throws when an earlier write failed. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Appends one line (JSON without a newline). Resolves when the line is acknowledged by the
   * durability mode; rejects with STORAGE_UNAVAILABLE when the write or sync fails.
   */
  append(line: string): Promise<void> {
    this.check();
    let batch = this.accepting;
    if (batch === undefined) {
      batch = { kind: "batch", lines: [], done: deferred() };
      this.accepting = batch;
      this.queue.push(batch);
      this.tail = batch.done.promise;
      this.schedule();
    }
    batch.lines.push(`${line}\n`);
    return batch.done.promise;
  }

  /** Resolves once every line appended so far is acknowledged (rejects if one failed). */
  barrier(): Promise<void> {
    this.check();
    return this.tail;
  }

  /**
   * Ends the current segment: lines appended before this call go to it, later lines to the next.
   * Returns the new segment's number and a promise resolved once the switch is on disk.
   */
  rotate(): { segment: number; done: Promise<void> } {
    this.check();
    const rotation: Rotation = { kind: "rotate", segment: this.segment + 1, done: deferred() };
    this.accepting = undefined;
    this.queue.push(rotation);
    this.schedule();
    // Later barriers also wait for the switch, so close() never races it.
    this.tail = rotation.done.promise;
    return { segment: rotation.segment, done: rotation.done.promise };
  }

  /** Writes what is queued, syncs (in every mode), and closes the file. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.tail.catch(() => undefined);
      await this.syncing;
      if (this.failure === undefined) await this.options.io.datasync(this.handle);
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.draining) return;
    this.draining = true;
    // setImmediate, not a microtask: every call made in this tick joins the batch first.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const item = this.queue.shift();
        if (item === undefined) break;
        if (item === this.accepting) this.accepting = undefined;
        if (item.kind === "batch") await this.write(item);
        else await this.switchSegment(item);
      }
    } finally {
      this.draining = false;
      if (this.queue.length > 0) this.schedule();
    }
  }

  private periodicSync(): void {
    if (!this.dirty || this.syncing !== undefined || this.failure !== undefined) return;
    this.dirty = false;
    this.syncing = this.options.io
      .datasync(this.handle)
      .catch((error: unknown) => this.fail(error, []))
      .finally(() => {
        this.syncing = undefined;
      });
  }

  private async write(batch: Batch): Promise<void> {
    if (this.failure) {
      batch.done.reject(this.failure);
      return;
    }
    try {
      await writeAll(this.handle, Buffer.from(batch.lines.join(""), "utf8"));
      if (this.options.durability === "fsync") await this.options.io.datasync(this.handle);
      else this.dirty = true;
    } catch (error) {
      this.fail(error, [batch]);
      return;
    }
    this.records += batch.lines.length;
    batch.done.resolve();
    if (this.records >= this.options.segmentLimit) this.options.onSegmentFull();
  }

  private async switchSegment(rotation: Rotation): Promise<void> {
    if (this.failure) {
      rotation.done.reject(this.failure);
      return;
    }
    try {
      // The old segment is complete; make it durable before leaving it (not needed for "none").
      // Clean first, so the periodic timer starts no sync of its own on a file about to close
      // (writes wait in the queue behind this switch, so nothing dirties it meanwhile).
      this.dirty = false;
      await this.syncing;
      if (this.options.durability !== "none") await this.options.io.datasync(this.handle);
      const next = await open(segmentPath(this.options.directory, rotation.segment), "wx");
      await this.handle.close();
      this.handle = next;
      this.dirty = false;
      await this.options.io.syncDirectory(this.options.directory);
    } catch (error) {
      this.fail(error, [rotation]);
      return;
    }
    this.segment = rotation.segment;
    this.records = 0;
    rotation.done.resolve();
  }

  /** Poisons the journal and fails everything queued. */
  private fail(error: unknown, items: readonly (Batch | Rotation)[]): void {
    this.failure ??= unavailable(
      `Writing the log in ${this.options.directory} failed, so changes made in memory may not be on disk; close the stores and open them again (check disk space and permissions)`,
      error,
    );
    for (const item of [...items, ...this.queue.splice(0)]) item.done.reject(this.failure);
    this.accepting = undefined;
  }
}
