import assert from "node:assert/strict";
import type { EventBus, GamifyEvent } from "@gamifykit/core";
import { expectGamifyError, sleep, suiteTitle, type SuiteRunner } from "./helpers.js";

/** How long a test waits for events to arrive before it fails (within a runner's usual 5 s test timeout). */
const DELIVERY_TIMEOUT_MS = 3000;
const DEFAULT_LARGE_EVENT_CHARS = 16_000;
/**
 * How long a test keeps listening for events that must not arrive, once a later event reached
 * another bus (buses may use separate connections, so that event alone does not prove the
 * others were never sent).
 */
const QUIET_MS = 100;

/**
 * Opens the buses of {@link eventBusSuite}. Each test asks for a fresh channel, opens a few buses
 * on it and closes every one of them itself, also when it fails.
 */
export interface EventBusFactory {
  /** A new channel name that no other test, run or process shares. */
  channel(): string;
  /**
   * Opens a bus on `channel`. `index` counts the buses a test opens (0, 1, 2, …): alternate the
   * connection kind by it (e.g. odd buses open their own connection, even ones use the host's
   * client) so the suite runs both. In the ordering test the publisher is bus 1.
   */
  bus(channel: string, index: number): EventBus | Promise<EventBus>;
}

/** Options of {@link eventBusSuite}. */
export interface EventBusSuiteOptions {
  /** Shown in test names, e.g. `redis`. */
  name?: string;
  /**
   * Characters of metadata in the suite's large events; the bus must carry events this large
   * whole and in order. Default 16 000 (more than one PostgreSQL NOTIFY).
   */
  largeEventChars?: number;
  /**
   * Characters of metadata in an event the bus must refuse with `PAYLOAD_TOO_LARGE` (and keep
   * working). Leave unset for a bus without a size limit; the test is then not registered.
   */
  tooLargeEventChars?: number;
}

/** A `points_added` event with a fresh id; `extra` overrides or adds fields. */
function event(userId: string, extra: Record<string, unknown> = {}): GamifyEvent {
  return { id: crypto.randomUUID(), type: "points_added", userId, at: Date.now(), metric: "xp", delta: 5, total: 5, ...extra } as GamifyEvent;
}

/** Records what a bus's listener receives; `until(n)` waits for the n-th event. */
function collect(bus: EventBus) {
  const seen: GamifyEvent[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  bus.subscribe((e) => {
    seen.push(e);
    for (const w of waiters) if (seen.length >= w.n) w.resolve();
  });
  const until = async (n: number): Promise<void> => {
    if (seen.length >= n) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => waiters.push({ n, resolve })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${bus.name} received ${seen.length} of ${n} events within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  return { seen, until };
}

const ready = async (...buses: EventBus[]): Promise<void> => {
  await Promise.all(buses.map((b) => b.ready?.()));
};

const ids = (events: readonly GamifyEvent[]) => events.map((e) => e.id);
const users = (events: readonly GamifyEvent[]) => events.map((e) => e.userId);

/**
 * The conformance suite for an {@link EventBus}: delivery to every other bus on the channel as
 * published and never back to the publisher, order of concurrent publishes, large events,
 * isolation between channels, unsubscribing, `ready()`, and `close()` (idempotent; calls
 * afterwards fail with `CLOSED`). Backend details (option validation, framing, reconnection,
 * which connections `close()` ends) stay in the adapter's own tests.
 */
export function eventBusSuite(runner: SuiteRunner, factory: EventBusFactory, options: EventBusSuiteOptions = {}): void {
  const { describe, test } = runner;
  const largeChars = options.largeEventChars ?? DEFAULT_LARGE_EVENT_CHARS;
  if (!Number.isSafeInteger(largeChars) || largeChars < 1) throw new TypeError(`largeEventChars must be a positive integer; got ${String(largeChars)}.`);
  const tooLarge = options.tooLargeEventChars;
  if (tooLarge !== undefined && (!Number.isSafeInteger(tooLarge) || tooLarge <= largeChars)) {
    throw new TypeError(`tooLargeEventChars must be an integer above largeEventChars (${largeChars}); got ${String(tooLarge)}.`);
  }
  const large = (userId: string) => event(userId, { metadata: { pad: "q".repeat(largeChars) } });

  /**
   * Runs `fn` with `count` buses opened on one fresh channel (`channelOf` may move some of them
   * elsewhere); closes them all, also when the test fails.
   */
  const withBuses = async (
    count: number,
    fn: (buses: EventBus[], channel: string) => Promise<void>,
    channelOf: (index: number, channel: string) => string = (_, channel) => channel,
  ): Promise<void> => {
    const channel = factory.channel();
    const opened: EventBus[] = [];
    try {
      for (let i = 0; i < count; i++) opened.push(await factory.bus(channelOf(i, channel), i));
      await fn(opened, channel);
    } catch (error) {
      await Promise.all(opened.map((b) => b.close().catch(() => undefined)));
      throw error;
    }
    await Promise.all(opened.map((b) => b.close()));
  };

  describe(suiteTitle("event bus", options), () => {
    test("an event published on one bus reaches every other bus on the channel, as published, and never echoes", () =>
      withBuses(3, async ([a, b, c]) => {
        const atA = collect(a!);
        const atB = collect(b!);
        const atC = collect(c!);
        await ready(a!, b!, c!);
        const sent = [event("alice", { metadata: { note: "héllo ✓ 𝄞", nested: { list: [1, null, true] } }, reason: "quest" }), event("bob")];
        for (const e of sent) await a!.publish(e);
        await Promise.all([atB.until(2), atC.until(2)]);
        assert.deepEqual(atB.seen, sent);
        assert.deepEqual(atC.seen, sent);
        await b!.publish(event("carol"));
        await atA.until(1);
        await atC.until(3);
        await sleep(QUIET_MS);
        // a's own publications never came back to it (nor b's to b); b's one reached a and c.
        assert.deepEqual(users(atA.seen), ["carol"]);
        assert.deepEqual(users(atB.seen), ["alice", "bob"]);
        assert.deepEqual(users(atC.seen), ["alice", "bob", "carol"]);
      }));

    test("concurrent publishes arrive in the order they were made, large ones included, also while the publisher's connection opens", () =>
      withBuses(2, async ([receiver, publisher]) => {
        const atReceiver = collect(receiver!);
        await ready(receiver!);
        const sent = Array.from({ length: 60 }, (_, i) => (i % 7 === 0 ? large(`u${i}`) : event(`u${i}`)));
        const first = publisher!.publish(sent[0]!);
        // The rest are published a little later, while the first may still wait for the connection.
        await sleep(1);
        await Promise.all([first, ...sent.slice(1).map((e) => publisher!.publish(e))]);
        await atReceiver.until(sent.length);
        assert.deepEqual(ids(atReceiver.seen), ids(sent));
      }));

    test(`an event of ${largeChars} characters arrives whole, in order with the events around it, also several at once`, () =>
      withBuses(2, async ([a, b]) => {
        const atB = collect(b!);
        await ready(b!);
        const big = event("alice", { metadata: { text: "x".repeat(largeChars), more: "ü✓𝄞".repeat(300) } });
        const sent = [event("before"), big, event("after")];
        for (const e of sent) await a!.publish(e);
        await Promise.all(Array.from({ length: 5 }, (_, i) => a!.publish(large(`p${i}`))));
        await atB.until(8);
        assert.deepEqual(atB.seen.slice(0, 3), sent);
        assert.deepEqual(users(atB.seen.slice(3)).sort(), ["p0", "p1", "p2", "p3", "p4"]);
      }));

    if (tooLarge !== undefined) {
      test(`an event of ${tooLarge} characters fails with PAYLOAD_TOO_LARGE and the bus keeps working`, () =>
        withBuses(2, async ([a, b]) => {
          const atB = collect(b!);
          await ready(b!);
          await expectGamifyError(a!.publish(event("huge", { metadata: { text: "z".repeat(tooLarge) } })), "PAYLOAD_TOO_LARGE");
          await a!.publish(event("after"));
          await atB.until(1);
          assert.deepEqual(users(atB.seen), ["after"]);
        }));
    }

    test("buses on different channels do not hear each other", () => {
      const elsewhere = factory.channel();
      return withBuses(
        3,
        async ([a, other, same], channel) => {
          assert.notEqual(elsewhere, channel, "factory.channel() returns a new channel each time");
          const atA = collect(a!);
          const atOther = collect(other!);
          const atSame = collect(same!);
          await ready(a!, other!, same!);
          await other!.publish(event("elsewhere"));
          await a!.publish(event("alice"));
          await atSame.until(1);
          await sleep(QUIET_MS);
          assert.deepEqual(users(atSame.seen), ["alice"]);
          assert.equal(atOther.seen.length, 0);
          // Nor did `other`'s event, published before `alice`'s, reach this channel.
          assert.equal(atA.seen.length, 0);
        },
        (i, channel) => (i === 1 ? elsewhere : channel),
      );
    });

    test("unsubscribe stops delivery to that listener only, and calling it again is harmless", () =>
      withBuses(2, async ([a, b]) => {
        const kept = collect(b!);
        const dropped: GamifyEvent[] = [];
        const off = b!.subscribe((e) => dropped.push(e));
        await ready(b!);
        off();
        off();
        await a!.publish(event("alice"));
        await kept.until(1);
        assert.equal(dropped.length, 0);
        assert.equal(kept.seen.length, 1);
      }));

    test("ready() resolves once listening, can be called again, and an event published right after arrives", () =>
      withBuses(2, async ([a, b]) => {
        const atB = collect(b!);
        await ready(b!);
        await ready(b!);
        await a!.publish(event("alice"));
        await atB.until(1);
        assert.deepEqual(users(atB.seen), ["alice"]);
      }));

    test("close() is idempotent, and publish, subscribe and ready() afterwards fail with CLOSED", () =>
      withBuses(2, async (buses) => {
        await ready(...buses);
        await buses[1]!.publish(event("alice"));
        await Promise.all([...buses.map((b) => b.close()), ...buses.map((b) => b.close())]);
        await Promise.all(buses.map((b) => b.close()));
        for (const bus of buses) {
          await expectGamifyError(bus.publish(event("alice")), "CLOSED", `publish on ${bus.name}`);
          await expectGamifyError(() => bus.subscribe(() => undefined), "CLOSED", `subscribe on ${bus.name}`);
          if (bus.ready) await expectGamifyError(bus.ready(), "CLOSED", `ready on ${bus.name}`);
        }
      }));

    test("a closed bus no longer calls its listeners; the others on the channel still hear", () =>
      withBuses(3, async ([a, b, c]) => {
        const atB = collect(b!);
        const atC = collect(c!);
        await ready(b!, c!);
        await b!.close();
        await a!.publish(event("alice"));
        await atC.until(1);
        await sleep(QUIET_MS);
        assert.deepEqual(users(atC.seen), ["alice"]);
        assert.equal(atB.seen.length, 0);
      }));
  });
}
