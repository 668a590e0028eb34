import { describe, expect, expectTypeOf, test } from "vitest";
import { Emitter } from "../src/emitter.js";
import type { BadgeAwardedEvent, GamifyEvent, ListenerErrorEvent, PointsAddedEvent } from "../src/events.js";

let seq = 0;

function pointsAdded(overrides: Partial<PointsAddedEvent> = {}): PointsAddedEvent {
  seq++;
  return { id: `evt-${seq}`, type: "points_added", userId: "alice", at: 1_700_000_000_000, metric: "points", delta: 10, total: 10, ...overrides };
}

function badgeAwarded(): BadgeAwardedEvent {
  seq++;
  return { id: `evt-${seq}`, type: "badge_awarded", userId: "alice", at: 1_700_000_000_000, badge: "first-steps" };
}

/** Lets pending promise callbacks (rejection handlers) run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("on / off", () => {
  test("a typed listener receives events of its type only", () => {
    const emitter = new Emitter();
    const seen: PointsAddedEvent[] = [];
    emitter.on("points_added", (event) => {
      expectTypeOf(event).toEqualTypeOf<PointsAddedEvent>();
      seen.push(event);
    });
    const event = pointsAdded();
    emitter.emit(event);
    emitter.emit(badgeAwarded());
    expect(seen).toEqual([event]);
    expect(seen[0]).toBe(event);
  });

  test("on returns a function that unsubscribes", () => {
    const emitter = new Emitter();
    let calls = 0;
    const off = emitter.on("points_added", () => {
      calls++;
    });
    emitter.emit(pointsAdded());
    off();
    emitter.emit(pointsAdded());
    expect(calls).toBe(1);
    expect(emitter.listenerCount("points_added")).toBe(0);
    off(); // idempotent
    expect(emitter.listenerCount("points_added")).toBe(0);
  });

  test("off removes a listener added with on, leaving the others", () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    const a = () => {
      calls.push("a");
    };
    const b = () => {
      calls.push("b");
    };
    emitter.on("points_added", a);
    emitter.on("points_added", b);
    emitter.off("points_added", a);
    emitter.emit(pointsAdded());
    expect(calls).toEqual(["b"]);
  });

  test("off on another channel or for an unknown listener does nothing", () => {
    const emitter = new Emitter();
    let calls = 0;
    const listener = () => {
      calls++;
    };
    emitter.on("points_added", listener);
    emitter.off("badge_awarded", listener);
    emitter.off("points_added", () => undefined);
    emitter.emit(pointsAdded());
    expect(calls).toBe(1);
  });

  test("listeners run in subscription order", () => {
    const emitter = new Emitter();
    const calls: number[] = [];
    for (const i of [1, 2, 3]) {
      emitter.on("points_added", () => {
        calls.push(i);
      });
    }
    emitter.emit(pointsAdded());
    expect(calls).toEqual([1, 2, 3]);
  });

  test("emitting with no listeners is a no-op", () => {
    const emitter = new Emitter();
    expect(() => emitter.emit(pointsAdded())).not.toThrow();
  });
});

describe('"*" channel', () => {
  test("receives every event, after the type's listeners", () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    emitter.on("*", (event) => {
      expectTypeOf(event).toEqualTypeOf<GamifyEvent>();
      calls.push(`*:${event.type}`);
    });
    emitter.on("points_added", () => {
      calls.push("points_added");
    });
    emitter.on("badge_awarded", () => {
      calls.push("badge_awarded");
    });
    emitter.emit(pointsAdded());
    emitter.emit(badgeAwarded());
    expect(calls).toEqual(["points_added", "*:points_added", "badge_awarded", "*:badge_awarded"]);
  });

  test('"*" listeners get the same event object', () => {
    const emitter = new Emitter();
    const seen: GamifyEvent[] = [];
    emitter.on("*", (event) => {
      seen.push(event);
    });
    const event = pointsAdded();
    emitter.emit(event);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(event);
  });
});

describe("once", () => {
  test("fires for the next event only", () => {
    const emitter = new Emitter();
    const seen: PointsAddedEvent[] = [];
    emitter.once("points_added", (event) => {
      seen.push(event);
    });
    const first = pointsAdded();
    emitter.emit(first);
    emitter.emit(pointsAdded());
    expect(seen).toEqual([first]);
    expect(emitter.listenerCount("points_added")).toBe(0);
  });

  test('works on "*"', () => {
    const emitter = new Emitter();
    let calls = 0;
    emitter.once("*", () => {
      calls++;
    });
    emitter.emit(badgeAwarded());
    emitter.emit(pointsAdded());
    expect(calls).toBe(1);
  });

  test("several once listeners on the same channel each fire once", () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    emitter.once("points_added", () => {
      calls.push("a");
    });
    emitter.once("points_added", () => {
      calls.push("b");
    });
    emitter.on("points_added", () => {
      calls.push("c");
    });
    emitter.emit(pointsAdded());
    emitter.emit(pointsAdded());
    expect(calls).toEqual(["a", "b", "c", "c"]);
  });

  test("the returned function cancels it before it fires", () => {
    const emitter = new Emitter();
    let calls = 0;
    const off = emitter.once("points_added", () => {
      calls++;
    });
    expect(emitter.listenerCount("points_added")).toBe(1);
    off();
    emitter.emit(pointsAdded());
    expect(calls).toBe(0);
    expect(emitter.listenerCount("points_added")).toBe(0);
  });

  test("a once listener that throws is still removed", () => {
    const emitter = new Emitter();
    let calls = 0;
    emitter.once("points_added", () => {
      calls++;
      throw new Error("boom");
    });
    emitter.emit(pointsAdded());
    emitter.emit(pointsAdded());
    expect(calls).toBe(1);
  });
});

describe("listener failures", () => {
  test('a listener that throws is reported on "error" with { error, event }, and the others still run', () => {
    const emitter = new Emitter();
    const boom = new Error("boom");
    const reports: ListenerErrorEvent[] = [];
    const calls: string[] = [];
    emitter.on("error", (report) => {
      reports.push(report);
    });
    emitter.on("points_added", () => {
      calls.push("first");
      throw boom;
    });
    emitter.on("points_added", () => {
      calls.push("second");
    });
    emitter.on("*", () => {
      calls.push("*");
    });
    const event = pointsAdded();
    expect(() => emitter.emit(event)).not.toThrow();
    expect(calls).toEqual(["first", "second", "*"]);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.error).toBe(boom);
    expect(reports[0]?.event).toBe(event);
  });

  test('a throwing "*" listener is reported too', () => {
    const emitter = new Emitter();
    const reports: ListenerErrorEvent[] = [];
    emitter.on("error", (report) => {
      reports.push(report);
    });
    emitter.on("*", () => {
      throw "not even an Error";
    });
    const event = badgeAwarded();
    emitter.emit(event);
    expect(reports).toEqual([{ error: "not even an Error", event }]);
  });

  test("a listener that throws with no error listener does not break emit", () => {
    const emitter = new Emitter();
    let after = 0;
    emitter.on("points_added", () => {
      throw new Error("boom");
    });
    emitter.on("points_added", () => {
      after++;
    });
    expect(() => emitter.emit(pointsAdded())).not.toThrow();
    expect(after).toBe(1);
  });

  test('a listener returning a rejected promise is reported on "error"', async () => {
    const emitter = new Emitter();
    const reason = new Error("async boom");
    const reports: ListenerErrorEvent[] = [];
    emitter.on("error", (report) => {
      reports.push(report);
    });
    let after = 0;
    emitter.on("points_added", async () => {
      throw reason;
    });
    emitter.on("points_added", () => {
      after++;
    });
    const event = pointsAdded();
    expect(() => emitter.emit(event)).not.toThrow();
    expect(after).toBe(1);
    await settle();
    expect(reports).toHaveLength(1);
    expect(reports[0]?.error).toBe(reason);
    expect(reports[0]?.event).toBe(event);
  });

  test("a listener returning a resolved promise is not reported", async () => {
    const emitter = new Emitter();
    const reports: ListenerErrorEvent[] = [];
    emitter.on("error", (report) => {
      reports.push(report);
    });
    emitter.on("points_added", async () => "fine");
    emitter.emit(pointsAdded());
    await settle();
    expect(reports).toEqual([]);
  });

  test('an "error" listener that throws is swallowed, and the other error listeners still run', () => {
    const emitter = new Emitter();
    const reports: unknown[] = [];
    emitter.on("error", () => {
      throw new Error("error listener failed");
    });
    emitter.on("error", (report) => {
      reports.push(report.error);
    });
    const boom = new Error("boom");
    emitter.on("points_added", () => {
      throw boom;
    });
    let after = 0;
    emitter.on("points_added", () => {
      after++;
    });
    expect(() => emitter.emit(pointsAdded())).not.toThrow();
    expect(reports).toEqual([boom]);
    expect(after).toBe(1);
  });

  test('an "error" listener returning a rejected promise is swallowed (no unhandled rejection)', async () => {
    const emitter = new Emitter();
    let called = 0;
    emitter.on("error", async () => {
      called++;
      throw new Error("async error listener failed");
    });
    emitter.on("points_added", () => {
      throw new Error("boom");
    });
    emitter.emit(pointsAdded());
    await settle();
    // An unhandled rejection would fail this run.
    expect(called).toBe(1);
  });

  test("reportError without an event delivers { error } only", () => {
    const emitter = new Emitter();
    const reports: ListenerErrorEvent[] = [];
    emitter.on("error", (report) => {
      reports.push(report);
    });
    const error = new Error("background task failed");
    emitter.reportError(error);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toEqual({ error });
    expect(Object.keys(reports[0] ?? {})).toEqual(["error"]);
  });

  test("reportError with no error listener does nothing", () => {
    const emitter = new Emitter();
    expect(() => emitter.reportError(new Error("x"), pointsAdded())).not.toThrow();
  });
});

describe("listenerCount and clear", () => {
  test("listenerCount counts per channel", () => {
    const emitter = new Emitter();
    expect(emitter.listenerCount("points_added")).toBe(0);
    expect(emitter.listenerCount("*")).toBe(0);
    expect(emitter.listenerCount("error")).toBe(0);
    const offA = emitter.on("points_added", () => undefined);
    emitter.on("points_added", () => undefined);
    emitter.once("points_added", () => undefined);
    emitter.on("*", () => undefined);
    emitter.on("error", () => undefined);
    expect(emitter.listenerCount("points_added")).toBe(3);
    expect(emitter.listenerCount("*")).toBe(1);
    expect(emitter.listenerCount("error")).toBe(1);
    expect(emitter.listenerCount("badge_awarded")).toBe(0);
    offA();
    expect(emitter.listenerCount("points_added")).toBe(2);
  });

  test("clear drops every listener on every channel", () => {
    const emitter = new Emitter();
    let calls = 0;
    const count = () => {
      calls++;
    };
    emitter.on("points_added", count);
    emitter.once("badge_awarded", count);
    emitter.on("*", count);
    emitter.on("error", count);
    emitter.clear();
    for (const channel of ["points_added", "badge_awarded", "*", "error"] as const) {
      expect(emitter.listenerCount(channel)).toBe(0);
    }
    emitter.emit(pointsAdded());
    emitter.emit(badgeAwarded());
    emitter.reportError(new Error("x"));
    expect(calls).toBe(0);
  });

  test("the emitter works again after clear", () => {
    const emitter = new Emitter();
    emitter.on("points_added", () => undefined);
    emitter.clear();
    let calls = 0;
    emitter.on("points_added", () => {
      calls++;
    });
    emitter.emit(pointsAdded());
    expect(calls).toBe(1);
  });
});

describe("changing subscriptions during emit", () => {
  test("a listener unsubscribing itself does not skip the others", () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    emitter.on("points_added", () => {
      calls.push("a");
    });
    const offB = emitter.on("points_added", () => {
      calls.push("b");
      offB();
    });
    emitter.on("points_added", () => {
      calls.push("c");
    });
    emitter.on("points_added", () => {
      calls.push("d");
    });
    emitter.emit(pointsAdded());
    expect(calls).toEqual(["a", "b", "c", "d"]);
    calls.length = 0;
    emitter.emit(pointsAdded());
    expect(calls).toEqual(["a", "c", "d"]);
  });

  test("a once listener in the middle does not skip the ones after it", () => {
    const emitter = new Emitter();
    const calls: string[] = [];
    emitter.on("points_added", () => {
      calls.push("a");
    });
    emitter.once("points_added", () => {
      calls.push("once");
    });
    emitter.on("points_added", () => {
      calls.push("c");
    });
    emitter.emit(pointsAdded());
    emitter.emit(pointsAdded());
    expect(calls).toEqual(["a", "once", "c", "a", "c"]);
  });
});
