import type { GamifyEvent } from "@gamifykit/core";

/** The last `capacity` event ids seen, to deliver an event once even if it arrives twice. */
export class IdWindow {
  readonly #ids = new Set<string>();
  readonly #order: string[] = [];
  #next = 0;

  constructor(private readonly capacity: number) {}

  /** Remembers the id; false when it was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    if (this.capacity === 0) return true;
    if (this.#order.length < this.capacity) {
      this.#order.push(id);
    } else {
      this.#ids.delete(this.#order[this.#next] as string);
      this.#order[this.#next] = id;
      this.#next = (this.#next + 1) % this.capacity;
    }
    this.#ids.add(id);
    return true;
  }
}

/**
 * The last `capacity` events this instance delivered (its own and those from the bus), in the
 * order it delivered them, so a reconnecting client can be sent what it missed.
 */
export class ReplayBuffer {
  /** A ring: the event at absolute position p sits at index p % capacity. */
  readonly #ring: (GamifyEvent | undefined)[];
  /** Event id → its absolute position (the number of events pushed before it). */
  readonly #positions = new Map<string, number>();
  #pushed = 0;

  constructor(private readonly capacity: number) {
    this.#ring = new Array<GamifyEvent | undefined>(capacity).fill(undefined);
  }

  push(event: GamifyEvent): void {
    if (this.capacity === 0) return;
    const slot = this.#pushed % this.capacity;
    const evicted = this.#ring[slot];
    if (evicted !== undefined && this.#positions.get(evicted.id) === this.#pushed - this.capacity) this.#positions.delete(evicted.id);
    this.#ring[slot] = event;
    this.#positions.set(event.id, this.#pushed++);
  }

  /** True when the buffer holds the event with this id. */
  has(id: string): boolean {
    return this.#positions.has(id);
  }

  /** The events after the one with this id, oldest first; undefined when the id is not held. */
  after(id: string): GamifyEvent[] | undefined {
    const position = this.#positions.get(id);
    if (position === undefined) return undefined;
    const events: GamifyEvent[] = [];
    for (let p = position + 1; p < this.#pushed; p++) events.push(this.#ring[p % this.capacity] as GamifyEvent);
    return events;
  }
}
