import type { GamifyEvent, GamifyEventMap, GamifyEventType, ListenerErrorEvent } from "./events.js";

/** A listener for one event type. */
export type Listener<T extends GamifyEventType> = (event: GamifyEventMap[T]) => unknown;
/** A listener for every event. */
export type AnyListener = (event: GamifyEvent) => unknown;
/** A listener for listener failures. */
export type ErrorListener = (event: ListenerErrorEvent) => unknown;

/** Channels: every event type, `"*"` for all events, `"error"` for listener failures. */
export type Channel = GamifyEventType | "*" | "error";
export type ListenerFor<C extends Channel> = C extends "*"
  ? AnyListener
  : C extends "error"
    ? ErrorListener
    : C extends GamifyEventType
      ? Listener<C>
      : never;

/**
 * A typed emitter that never lets a listener break the caller: a listener that throws (or
 * returns a rejected promise) is reported on `error`; an `error` listener that throws is dropped.
 */
export class Emitter {
  readonly #listeners = new Map<Channel, Set<(event: never) => unknown>>();

  /** Subscribes; returns a function that unsubscribes. */
  on<C extends Channel>(channel: C, listener: ListenerFor<C>): () => void {
    let set = this.#listeners.get(channel);
    if (!set) this.#listeners.set(channel, (set = new Set()));
    set.add(listener as (event: never) => unknown);
    return () => this.off(channel, listener);
  }

  /** Subscribes for the next event only. */
  once<C extends Channel>(channel: C, listener: ListenerFor<C>): () => void {
    const wrapper = ((event: never) => {
      off();
      return (listener as (event: never) => unknown)(event);
    }) as ListenerFor<C>;
    const off = this.on(channel, wrapper);
    return off;
  }

  /** Unsubscribes a listener added with `on` (not the wrapper of `once`: use its returned function). */
  off<C extends Channel>(channel: C, listener: ListenerFor<C>): void {
    this.#listeners.get(channel)?.delete(listener as (event: never) => unknown);
  }

  /** Number of listeners on a channel. */
  listenerCount(channel: Channel): number {
    return this.#listeners.get(channel)?.size ?? 0;
  }

  /** Delivers an event to its type's listeners, then to `"*"` listeners. */
  emit(event: GamifyEvent): void {
    this.#deliver(event.type, event);
    this.#deliver("*", event);
  }

  /** Reports a failure on `error`. */
  reportError(error: unknown, event?: GamifyEvent): void {
    const set = this.#listeners.get("error");
    if (!set || set.size === 0) return;
    const payload: ListenerErrorEvent = event === undefined ? { error } : { error, event };
    for (const listener of [...set]) {
      try {
        const result = (listener as ErrorListener)(payload);
        if (result instanceof Promise) result.catch(() => undefined);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }

  /** Drops every listener. */
  clear(): void {
    this.#listeners.clear();
  }

  #deliver(channel: Channel, event: GamifyEvent): void {
    const set = this.#listeners.get(channel);
    if (!set || set.size === 0) return;
    // Copy so a listener that unsubscribes (e.g. `once`) does not disturb iteration.
    for (const listener of [...set]) {
      try {
        const result = (listener as AnyListener)(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.reportError(error, event));
      } catch (error) {
        this.reportError(error, event);
      }
    }
  }
}
