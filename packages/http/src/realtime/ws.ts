import type { WebSocket } from "ws";

// ws's readyState values (the WebSocket standard's), so this module needs no runtime import of `ws`.
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
import type { RealtimeFilter } from "./filter.js";
import type { Outgoing } from "./outgoing.js";

export interface WsClientOptions {
  readonly filter: RealtimeFilter;
  /** A client whose unsent bytes exceed this is dropped. */
  readonly maxBufferedBytes: number;
  /** Called once when the socket closes, whatever the reason. */
  readonly onEnd: () => void;
}

/** Close code for a client dropped because it could not keep up (RFC 6455 "try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** Close code on server shutdown ("going away"). */
export const CLOSE_GOING_AWAY = 1001;

/**
 * One WebSocket client: each matching event is one JSON text message. Heartbeats ping it; a peer
 * that did not answer the previous ping is terminated. A peer whose unsent data (`bufferedAmount`)
 * exceeds the limit is terminated rather than buffered without bound.
 */
export class WsClient {
  readonly filter: RealtimeFilter;
  readonly #socket: WebSocket;
  readonly #options: WsClientOptions;
  #alive = true;
  #ended = false;

  constructor(socket: WebSocket, options: WsClientOptions) {
    this.#socket = socket;
    this.#options = options;
    this.filter = options.filter;
    socket.on("pong", () => {
      this.#alive = true;
    });
    // Clients have nothing to say on this socket; incoming messages are ignored.
    socket.on("error", () => this.#terminate());
    socket.once("close", () => this.#finish());
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(out: Outgoing): void {
    if (this.#socket.readyState !== OPEN) return;
    if (this.#socket.bufferedAmount > this.#options.maxBufferedBytes) {
      // close() would queue its frame behind the backlog; a slow peer must free its memory now.
      this.#terminate();
      return;
    }
    this.#socket.send(out.json);
  }

  heartbeat(): void {
    if (this.#socket.readyState !== OPEN) return;
    if (!this.#alive) {
      this.#terminate();
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  #terminate(): void {
    this.#socket.terminate();
    this.#finish();
  }

  /** Runs onEnd once, as soon as the client is cut off (the socket's close event comes later). */
  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#options.onEnd();
  }

  /** Closes politely, and cuts the connection if the peer does not answer within `graceMs`. */
  close(graceMs: number): Promise<void> {
    const socket = this.#socket;
    if (socket.readyState === CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.terminate(), graceMs);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === OPEN || socket.readyState === CONNECTING) socket.close(CLOSE_GOING_AWAY, "server shutting down");
    });
  }
}
