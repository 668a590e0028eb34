import type { GamifyEvent } from "@gamifykit/core";

/**
 * An event on its way to clients, with its wire forms computed once however many clients
 * receive it (serialising per client would dominate a fan-out to many clients).
 */
export class Outgoing {
  readonly event: GamifyEvent;
  #json: string | undefined;
  #sse: string | undefined;

  constructor(event: GamifyEvent) {
    this.event = event;
  }

  /** The event as JSON (one WebSocket message). */
  get json(): string {
    return (this.#json ??= JSON.stringify(this.event));
  }

  /** The event in the text/event-stream format: its id (for Last-Event-ID), its type, its JSON. */
  get sse(): string {
    // JSON.stringify escapes line breaks, so the data fits on one `data:` line.
    return (this.#sse ??= `id: ${this.event.id}\nevent: ${this.event.type}\ndata: ${this.json}\n\n`);
  }
}
