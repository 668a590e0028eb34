import type { GamifyEvent } from "./events.js";

/**
 * Carries engine events between processes, so every server instance can deliver an event to the
 * realtime clients connected to it, whichever instance made the award. Implementations:
 * `redisEventBus` (@gamifykit/redis, pub/sub) and `postgresEventBus` (@gamifykit/sql,
 * LISTEN/NOTIFY). Each instance of an application creates its own bus.
 *
 * Delivery is at most once and best effort: an event published while a subscriber's connection
 * is down is not redelivered (clients resume from the user's event log instead).
 */
export interface EventBus {
  /** Names the transport and channel in logs and errors, e.g. `redis:gamifykit:events`. */
  readonly name: string;
  /**
   * Sends an event to every other bus subscribed to the same channel. Resolves once the transport
   * accepted it; rejects with a `GamifyError` (`STORAGE_UNAVAILABLE`, `PAYLOAD_TOO_LARGE`, `CLOSED`).
   */
  publish(event: GamifyEvent): Promise<void>;
  /**
   * Calls `listener` for each event published by *other* bus instances on the channel; a bus does
   * not echo its own publications, which the publishing process already has. Starts listening
   * lazily on the first subscription; returns a function that unsubscribes.
   */
  subscribe(listener: (event: GamifyEvent) => void): () => void;
  /**
   * Opens the subscription if needed and resolves once it is active on the server, so events
   * published afterwards reach this bus. Optional: a bus without it is taken as ready at once.
   */
  ready?(): Promise<void>;
  /** Stops listening and releases the connections the bus created (never the host's). Idempotent. */
  close(): Promise<void>;
}
