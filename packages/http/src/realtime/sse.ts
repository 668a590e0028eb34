import { GamifyError, type GamifyEvent } from "@gamifykit/core";
import type { RealtimeFilter } from "./filter.js";
import { Outgoing } from "./outgoing.js";

const encoder = new TextEncoder();

/** A control message (not an engine event), e.g. `resync`; it carries no id. */
export function formatControl(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface SseClientOptions {
  readonly filter: RealtimeFilter;
  readonly maxQueuedEvents: number;
  /** The reconnection delay hinted to the browser. */
  readonly retryMs: number;
  /** Heartbeat ticks a client may leave queued data unread before it is dropped. */
  readonly maxStalledTicks: number;
  /** Called once when the stream ends, whatever the reason. */
  readonly onEnd: () => void;
}

/**
 * One server-sent-events stream. Events wait in a bounded queue until the consumer pulls; a client
 * that falls more than `maxQueuedEvents` behind, or leaves data unread for `maxStalledTicks`
 * heartbeats, is dropped (its stream errors and the connection closes), so a slow or stuck reader
 * costs a bounded amount of memory. EventSource then reconnects with Last-Event-ID and resumes.
 *
 * While a resumption replays history, live events wait aside and are sent afterwards, skipping
 * any the replay already sent.
 */
/** How many replayed ids a client remembers for the late live copies of recent events. */
const AWAITING_LIVE_IDS = 1024;

export class SseClient {
  readonly filter: RealtimeFilter;
  readonly stream: ReadableStream<Uint8Array>;
  readonly #options: SseClientOptions;
  #queue: string[] = [];
  #queuedEvents = 0;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #state: "replaying" | "live" | "ended" = "live";
  /** Live events that arrived during a replay. */
  #pending: Outgoing[] = [];
  /** Ids the replay sent, so a live copy of the same event is skipped. */
  #replayed = new Set<string>();
  /**
   * Replayed ids whose live copy had not arrived when the replay ended: a bus delivers an event
   * after the award's commit, so the log can hand it to the replay first. Bounded to the latest.
   */
  #awaitingLive = new Set<string>();
  #stalledTicks = 0;

  constructor(options: SseClientOptions) {
    this.#options = options;
    this.filter = options.filter;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
          // The retry hint, and a first chunk so proxies and clients see the stream open at once.
          this.#queue.push(`retry: ${options.retryMs}\n: connected\n\n`);
        },
        pull: (controller) => this.#pull(controller),
        cancel: () => this.#end(),
      },
      // Pull only when the consumer wants data: anything not yet read stays in our bounded queue.
      { highWaterMark: 0 },
    );
  }

  get ended(): boolean {
    return this.#state === "ended";
  }

  /** Holds live events aside until {@link endReplay}. */
  beginReplay(): void {
    if (this.#state === "live") this.#state = "replaying";
  }

  /** Sends one event of the replay, waiting while the consumer is behind. False once the stream ended. */
  async replay(event: GamifyEvent): Promise<boolean> {
    while (this.#state !== "ended" && this.#queuedEvents >= Math.max(1, this.#options.maxQueuedEvents >> 1)) {
      await new Promise<void>((resolve) => (this.#room = resolve));
    }
    if (this.#state === "ended") return false;
    this.#replayed.add(event.id);
    this.#enqueue(new Outgoing(event).sse, true);
    return true;
  }

  /** True when the current replay already sent this event. */
  hasReplayed(id: string): boolean {
    return this.#replayed.has(id);
  }

  /** Sends a control message (not counted as an event). */
  control(type: string, data: Record<string, unknown>): void {
    if (this.#state === "ended") return;
    this.#enqueue(formatControl(type, data), false);
  }

  /** Ends the replay: sends the live events that waited, minus those the replay sent. */
  endReplay(): void {
    if (this.#state !== "replaying") return;
    this.#state = "live";
    const pending = this.#pending;
    const replayed = this.#replayed;
    this.#pending = [];
    this.#replayed = new Set();
    for (const out of pending) {
      if (!replayed.delete(out.event.id)) this.#enqueue(out.sse, true);
      if (this.ended) return;
    }
    this.#awaitingLive = new Set([...replayed].slice(-AWAITING_LIVE_IDS));
  }

  /** A live event that passed the filter. */
  push(out: Outgoing): void {
    if (this.#state === "ended") return;
    if (this.#state === "replaying") {
      this.#pending.push(out);
      if (this.#pending.length > this.#options.maxQueuedEvents) this.drop("fell behind during its replay");
      return;
    }
    if (this.#awaitingLive.delete(out.event.id)) return;
    this.#enqueue(out.sse, true);
  }

  /** A comment line keeps proxies from closing an idle stream; also detects a consumer that stopped reading. */
  heartbeat(): void {
    if (this.#state === "ended") return;
    if (this.#queue.length > 0) {
      if (++this.#stalledTicks >= this.#options.maxStalledTicks) this.drop("stopped reading");
      return;
    }
    this.#queue.push(": ping\n\n");
    this.#wakeUp();
  }

  /** Ends the stream normally (server shutdown), after what is already queued. */
  close(): void {
    if (this.#state === "ended") return;
    const controller = this.#controller;
    const rest = this.#queue.join("");
    this.#end();
    try {
      if (rest !== "") controller?.enqueue(encoder.encode(rest));
      controller?.close();
    } catch {
      // Already closed or errored by the consumer.
    }
  }

  /** Ends the stream with an error, releasing its queue: the connection closes and the client reconnects. */
  drop(why: string): void {
    if (this.#state === "ended") return;
    const controller = this.#controller;
    this.#end();
    try {
      controller?.error(
        new GamifyError("CLOSED", `Realtime client dropped: it ${why} (limit ${this.#options.maxQueuedEvents} queued events); it should reconnect with Last-Event-ID.`),
      );
    } catch {
      // Already closed.
    }
  }

  #enqueue(chunk: string, isEvent: boolean): void {
    this.#queue.push(chunk);
    if (isEvent && ++this.#queuedEvents > this.#options.maxQueuedEvents) {
      this.drop("fell behind");
      return;
    }
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.#queue.length === 0 && this.#state !== "ended") {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#queue.length === 0) return;
    const text = this.#queue.join("");
    this.#queue = [];
    this.#queuedEvents = 0;
    this.#stalledTicks = 0;
    controller.enqueue(encoder.encode(text));
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  #end(): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#queue = [];
    this.#pending = [];
    this.#wakeUp();
    const room = this.#room;
    this.#room = undefined;
    room?.();
    this.#options.onEnd();
  }
}
