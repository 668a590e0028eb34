import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GamifyError, isGamifyError } from "../src/errors.js";
import { memoryLeaderboards } from "../src/memory/leaderboards.js";
import { OrderedIndex } from "../src/memory/ordered-index.js";
import type { LeaderboardStore, RankMode, RankedEntry } from "../src/types.js";

const MODES: readonly RankMode[] = ["standard", "dense", "ordinal"];

// ---- naive model ------------------------------------------------------------------------------

interface ModelEntry {
  userId: string;
  score: number;
  seq: number;
}

/** Best first: score descending, then the earlier stamp. */
function sorted(entries: Iterable<ModelEntry>): ModelEntry[] {
  return [...entries].sort((a, b) => (a.score !== b.score ? b.score - a.score : a.seq - b.seq));
}

function modelRank(order: readonly ModelEntry[], pos: number, mode: RankMode): number {
  const score = order[pos]!.score;
  if (mode === "ordinal") return pos + 1;
  if (mode === "standard") return 1 + order.filter((e) => e.score > score).length;
  return 1 + new Set(order.filter((e) => e.score > score).map((e) => e.score)).size;
}

function modelPage(order: readonly ModelEntry[], start: number, end: number, mode: RankMode): RankedEntry[] {
  const out: RankedEntry[] = [];
  for (let pos = Math.max(0, start); pos < Math.min(order.length, end); pos++) {
    const e = order[pos]!;
    out.push({ userId: e.userId, score: e.score, rank: modelRank(order, pos, mode) });
  }
  return out;
}

function modelAround(order: readonly ModelEntry[], userId: string, radius: number, mode: RankMode): RankedEntry[] {
  const pos = order.findIndex((e) => e.userId === userId);
  if (pos < 0) return [];
  const width = 2 * radius + 1;
  const start = Math.max(0, Math.min(pos - radius, order.length - width));
  return modelPage(order, start, start + width, mode);
}

/** The store's documented behaviour over plain maps: one stamp counter, re-stamped only on change. */
class ModelStore {
  boards = new Map<string, Map<string, ModelEntry>>();
  private seq = 0;

  order(board: string): ModelEntry[] {
    return sorted(this.boards.get(board)?.values() ?? []);
  }

  write(board: string, userId: string, score: number): void {
    let users = this.boards.get(board);
    if (users === undefined) {
      users = new Map();
      this.boards.set(board, users);
    }
    const entry = users.get(userId);
    if (entry === undefined) users.set(userId, { userId, score, seq: ++this.seq });
    else if (entry.score !== score) {
      entry.score = score;
      entry.seq = ++this.seq;
    }
  }

  /** Returns the new totals, or "OUT_OF_RANGE" without changing anything. */
  increment(updates: readonly { board: string; delta: number }[], userId: string): number[] | "OUT_OF_RANGE" {
    const pending = new Map<string, number>();
    const totals: number[] = [];
    for (const { board, delta } of updates) {
      const total = (pending.get(board) ?? this.boards.get(board)?.get(userId)?.score ?? 0) + delta;
      if (!Number.isSafeInteger(total)) return "OUT_OF_RANGE";
      pending.set(board, total);
      totals.push(total);
    }
    updates.forEach(({ board }, u) => this.write(board, userId, totals[u]!));
    return totals;
  }

  remove(board: string, userId: string): boolean {
    const users = this.boards.get(board);
    const removed = users?.delete(userId) ?? false;
    if (users?.size === 0) this.boards.delete(board);
    return removed;
  }

  removeUser(userId: string): void {
    for (const board of [...this.boards.keys()]) this.remove(board, userId);
  }
}

async function codeOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    if (isGamifyError(error)) return error.code;
    throw error;
  }
  return "no error";
}

// ---- OrderedIndex -----------------------------------------------------------------------------

type IndexOp = { kind: "insert"; score: number; stamp: number } | { kind: "delete"; pick: number } | { kind: "deleteMissing"; score: number };

function checkIndex(index: OrderedIndex, order: readonly ModelEntry[], scoreRange: number): void {
  index.checkInvariants();
  expect(index.size).toBe(order.length);
  expect(index.distinctSize).toBe(new Set(order.map((e) => e.score)).size);
  order.forEach((e, pos) => {
    expect(index.positionOf(e.score, e.seq)).toBe(pos);
    expect(index.at(pos)).toEqual(e);
  });
  expect(index.at(order.length)).toBeUndefined();
  expect(index.at(-1)).toBeUndefined();
  for (let s = -scoreRange - 1; s <= scoreRange + 1; s++) {
    expect(index.countAbove(s)).toBe(order.filter((e) => e.score > s).length);
    expect(index.countAtLeast(s)).toBe(order.filter((e) => e.score >= s).length);
    expect(index.distinctAbove(s)).toBe(new Set(order.filter((e) => e.score > s).map((e) => e.score)).size);
  }
  // A non-integer probe lands between two scores.
  expect(index.countAbove(0.5)).toBe(order.filter((e) => e.score > 0.5).length);
  const seen: ModelEntry[] = [];
  index.forEachInRange(0, order.length, (userId, score, seq) => seen.push({ userId, score, seq }));
  expect(seen).toEqual(order);
  // Pages across block edges, clamped at both ends, in every mode.
  const n = order.length;
  for (const mode of MODES) {
    for (const [from, to] of [
      [0, n],
      [1, 4],
      [Math.floor(n / 3), Math.floor(n / 3) + 9],
      [n - 3, n + 2],
      [-2, 2],
      [n, n + 1],
    ] as const) {
      expect(index.page(from, to, mode)).toEqual(modelPage(order, from, to, mode));
    }
  }
}

describe("OrderedIndex", () => {
  test("seeds its user table per index, so ids chosen to collide in one process do not collide in another", () => {
    // Handles are table slots: with a fixed hash, two indexes would give the same ids the same slots.
    const ids = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const slots = () => {
      const index = new OrderedIndex();
      ids.forEach((id, i) => index.insert(i, i, id));
      return ids.map((id) => index.handleOf(id));
    };
    const first = slots();
    expect(new Set(first).size).toBe(ids.length);
    expect(slots()).not.toEqual(first);
  });

  test("matches a sorted array under random inserts and deletes with many ties", () => {
    const op: fc.Arbitrary<IndexOp> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ kind: fc.constant("insert" as const), score: fc.integer({ min: -3, max: 3 }), stamp: fc.nat(50) }),
      },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("deleteMissing" as const), score: fc.integer({ min: -3, max: 3 }) }) },
    );
    fc.assert(
      fc.property(fc.constantFrom(4, 5, 7, 16), fc.array(op, { maxLength: 150 }), (blockSize, ops) => {
        const index = new OrderedIndex({ blockSize });
        const model: ModelEntry[] = [];
        let seq = 0;
        ops.forEach((o, step) => {
          if (o.kind === "insert") {
            // Stamps in any order (unique): a new entry may land before others with its score.
            const e = { userId: `u${seq}`, score: o.score, seq: o.stamp * 1000 + ++seq };
            index.insert(e.score, e.seq, e.userId);
            model.push(e);
          } else if (o.kind === "delete") {
            if (model.length === 0) return;
            const [e] = model.splice(o.pick % model.length, 1);
            expect(index.delete(e!.score, e!.seq)).toBe(true);
          } else {
            expect(index.delete(o.score, 0.5)).toBe(false);
            expect(index.positionOf(o.score, 0.5)).toBe(-1);
          }
          if (step % 10 === 0) checkIndex(index, sorted(model), 3);
        });
        checkIndex(index, sorted(model), 3);
      }),
      { numRuns: 150 },
    );
  });

  test.each([8, 13])("stays consistent through growth, churn and shrinking to empty (block size %i)", (blockSize) => {
    const index = new OrderedIndex({ blockSize });
    const model: ModelEntry[] = [];
    let seed = 42;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let seq = 1; seq <= 3000; seq++) {
      const e = { userId: `u${seq}`, score: next(50), seq };
      index.insert(e.score, e.seq, e.userId);
      model.push(e);
    }
    checkIndex(index, sorted(model), 50);
    // Churn at a steady size: blocks split, shrink, merge and disappear over and over.
    for (let step = 0, seq = 3001; step < 6000; step++) {
      if (next(2) === 0) {
        const e = { userId: `u${seq}`, score: next(50), seq: seq++ };
        index.insert(e.score, e.seq, e.userId);
        model.push(e);
      } else {
        const [e] = model.splice(next(model.length), 1);
        expect(index.delete(e!.score, e!.seq)).toBe(true);
      }
      if (step % 50 === 0) index.checkInvariants();
    }
    checkIndex(index, sorted(model), 50);
    while (model.length > 0) {
      const [e] = model.splice(next(model.length), 1);
      expect(index.delete(e!.score, e!.seq)).toBe(true);
      if (model.length % 50 === 0) index.checkInvariants();
      if (model.length % 500 === 0) checkIndex(index, sorted(model), 50);
    }
    checkIndex(index, [], 50);
    index.insert(7, 1, "again");
    checkIndex(index, [{ userId: "again", score: 7, seq: 1 }], 8);
  });

  test("handles: moves, removals and ranks by handle match a sorted array", () => {
    type HandleOp =
      | { kind: "insert"; score: number }
      | { kind: "move"; pick: number; delta: number }
      | { kind: "jump"; pick: number; score: number; early: boolean }
      | { kind: "remove"; pick: number };
    const op: fc.Arbitrary<HandleOp> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("insert" as const), score: fc.integer({ min: -20, max: 20 }) }) },
      // Small changes mostly stay in their block; jumps cross blocks; an early stamp moves an entry ahead of its ties.
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("move" as const), pick: fc.nat(), delta: fc.integer({ min: -3, max: 3 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant("jump" as const), pick: fc.nat(), score: fc.integer({ min: -20, max: 20 }), early: fc.boolean() }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
    );
    fc.assert(
      // size "max": long runs, so the user table grows and reuses freed slots many times.
      fc.property(fc.constantFrom(4, 6, 16), fc.array(op, { maxLength: 200, size: "max" }), (blockSize, ops) => {
        const index = new OrderedIndex({ blockSize });
        const live: ModelEntry[] = [];
        const gone: string[] = [];
        let seq = 1000;
        let early = 0;
        // Handles are valid until the next insert (which may renumber them): look them up per use.
        const handle = (e: ModelEntry): number => {
          const h = index.handleOf(e.userId);
          expect(index.userOf(h)).toBe(e.userId);
          return h;
        };
        const check = () => {
          const order = sorted(live);
          checkIndex(
            index,
            order.map(({ userId, score, seq }) => ({ userId, score, seq })),
            24,
          );
          for (const e of live) {
            const pos = order.indexOf(e);
            const h = handle(e);
            expect(index.positionOfHandle(h)).toBe(pos);
            expect(index.scoreOf(h)).toBe(e.score);
            for (const mode of MODES) expect(index.rankOf(h, mode)).toBe(modelRank(order, pos, mode));
          }
          for (const userId of gone) expect(index.handleOf(userId)).toBe(-1);
        };
        ops.forEach((o, step) => {
          if (o.kind === "insert") {
            const e = { userId: `u${seq}`, score: o.score, seq: ++seq };
            const h = index.insert(e.score, e.seq, e.userId);
            expect(index.handleOf(e.userId)).toBe(h);
            live.push(e);
          } else if (live.length > 0) {
            const at = o.pick % live.length;
            const e = live[at]!;
            if (o.kind === "remove") {
              index.remove(handle(e));
              live.splice(at, 1);
              gone.push(e.userId);
            } else {
              e.score = o.kind === "move" ? e.score + o.delta : o.score;
              e.seq = o.kind === "jump" && o.early ? --early : ++seq;
              index.move(handle(e), e.score, e.seq);
            }
          }
          if (step % 10 === 0) check();
        });
        check();
      }),
      { numRuns: 150 },
    );
  });

  test("moves inside one block over short and long distances, both ways", () => {
    // Block size 64, 40 entries: all in one block, so every move below stays inside it.
    const index = new OrderedIndex({ blockSize: 64 });
    const live: ModelEntry[] = [];
    let seq = 0;
    for (let u = 0; u < 40; u++) {
      const e = { userId: `m${u}`, score: (u % 20) * 10, seq: ++seq };
      index.insert(e.score, e.seq, e.userId);
      live.push(e);
    }
    for (const [u, score] of [
      [3, 195], // up many places
      [3, 5], // down many places
      [7, 75], // a few places
      [12, 125],
      [0, 0], // same score, new stamp: to the end of its ties
      [39, 195],
    ] as const) {
      const e = live[u]!;
      e.score = score;
      e.seq = ++seq;
      index.move(index.handleOf(e.userId), score, e.seq);
      const order = sorted(live);
      checkIndex(index, order, 200);
      for (const x of live) for (const mode of MODES) expect(index.rankOf(index.handleOf(x.userId), mode)).toBe(modelRank(order, order.indexOf(x), mode));
    }
  });

  test("moving a block's last entry updates the next block's first score start", () => {
    // Block size 4: four inserts split into [9, 5a] and [5b, 5c]; 5a and 5b are one run across blocks.
    const index = new OrderedIndex({ blockSize: 4 });
    const handles = [9, 5, 5, 5].map((score, i) => index.insert(score, i + 1, `u${i}`));
    index.move(handles[1]!, 6, 5);
    index.checkInvariants();
    expect([1, 2, 3].map((i) => index.rankOf(handles[i]!, "dense"))).toEqual([2, 3, 3]);
    index.move(handles[1]!, 5, 0);
    index.checkInvariants();
    expect(index.rankOf(handles[2]!, "dense")).toBe(2);
    expect(index.rankOf(handles[2]!, "standard")).toBe(2);
  });

  test("a nearly empty block merges only into a neighbour with room to spare", () => {
    // Block size 8: eight descending inserts split into [80..50] and [40..10].
    const index = new OrderedIndex({ blockSize: 8 });
    let seq = 0;
    for (const score of [80, 70, 60, 50, 40, 30, 20, 10, 35, 25, 15]) index.insert(score, ++seq, `s${score}`);
    // The second block now holds 7; shrinking the first to 1 must not merge them into a full block.
    for (const [score, stamp] of [
      [80, 1],
      [70, 2],
      [60, 3],
    ] as const) {
      expect(index.delete(score, stamp)).toBe(true);
      index.checkInvariants();
    }
    expect(index.at(0)).toEqual({ score: 50, seq: 4, userId: "s50" });
    index.insert(12, ++seq, "s12");
    index.checkInvariants();
    expect(index.size).toBe(9);
  });

  test("forEachInRange clamps its bounds and reports positions", () => {
    const index = new OrderedIndex({ blockSize: 4 });
    for (let i = 0; i < 10; i++) index.insert(i % 3, i + 1, `u${i}`);
    const positions: number[] = [];
    index.forEachInRange(-5, 3, (_u, _s, _q, pos) => positions.push(pos));
    index.forEachInRange(8, 99, (_u, _s, _q, pos) => positions.push(pos));
    index.forEachInRange(5, 5, () => positions.push(-1));
    expect(positions).toEqual([0, 1, 2, 8, 9]);
  });

  test("the user table finds every user through growth, removals and slot reuse", () => {
    const index = new OrderedIndex({ blockSize: 16 });
    const live = new Map<string, number>();
    let seed = 9;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // Ids that share long prefixes and differ in one character, as generated ids do.
    const id = (n: number): string => `user-${String(n).padStart(6, "0")}`;
    for (let seq = 1; seq <= 20_000; seq++) {
      const n = next(4000);
      const h = index.handleOf(id(n));
      if (h < 0) {
        index.insert(next(100), seq, id(n));
        live.set(id(n), seq);
      } else if (next(3) === 0) {
        index.remove(h);
        live.delete(id(n));
      } else index.move(h, next(100), seq);
      if (seq % 2000 === 0) {
        index.checkInvariants();
        for (let m = 0; m < 4000; m++) expect(index.handleOf(id(m)) >= 0).toBe(live.has(id(m)));
      }
    }
    expect(index.size).toBe(live.size);
    expect(index.handleOf("")).toBe(-1);
    expect(index.handleOf("user-")).toBe(-1);
  });

  test("a small board with a stream of new users reuses its table without growing it", () => {
    // Five users at a time, a thousand over its life: freed slots fill the table until it is
    // rebuilt at the same size.
    const index = new OrderedIndex({ blockSize: 4 });
    for (let n = 0; n < 1000; n++) {
      if (n >= 5) index.remove(index.handleOf(`u${n - 5}`));
      index.insert(n % 7, n + 1, `u${n}`);
      if (n % 37 === 0) index.checkInvariants();
    }
    index.checkInvariants();
    expect(index.size).toBe(5);
    expect([995, 996, 997, 998, 999].map((n) => index.positionOfHandle(index.handleOf(`u${n}`))).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(index.handleOf("u994")).toBe(-1);
  });

  test("rejects a duplicate key, a duplicate user and a tiny block size", () => {
    const index = new OrderedIndex();
    index.insert(5, 1, "a");
    expect(() => index.insert(5, 1, "b")).toThrow(GamifyError);
    expect(() => index.insert(6, 2, "a")).toThrow(GamifyError);
    index.checkInvariants();
    expect(() => new OrderedIndex({ blockSize: 3 })).toThrow(GamifyError);
    expect(() => new OrderedIndex({ blockSize: 4.5 })).toThrow(GamifyError);
  });

  test("an empty index answers zero everywhere", () => {
    const index = new OrderedIndex();
    expect(index.size).toBe(0);
    expect(index.countAbove(0)).toBe(0);
    expect(index.countAtLeast(0)).toBe(0);
    expect(index.distinctAbove(0)).toBe(0);
    expect(index.positionOf(0, 1)).toBe(-1);
    expect(index.delete(0, 1)).toBe(false);
    expect(index.at(0)).toBeUndefined();
    index.checkInvariants();
  });
});

// ---- memoryLeaderboards: model-based ----------------------------------------------------------

const BOARDS = ["b1", "b2", "b3"] as const;
const USERS = ["u1", "u2", "u3", "u4", "u5", "u6", "u7"] as const;

type StoreOp =
  | { kind: "increment"; userId: string; updates: { board: string; delta: number }[] }
  | { kind: "set"; board: string; userId: string; score: number }
  | { kind: "remove"; board: string; userId: string }
  | { kind: "removeUser"; userId: string };

const board = fc.constantFrom(...BOARDS);
const user = fc.constantFrom(...USERS);
const storeOp: fc.Arbitrary<StoreOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("increment" as const),
      userId: user,
      updates: fc.array(fc.record({ board, delta: fc.integer({ min: -2, max: 2 }) }), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), board, userId: user, score: fc.integer({ min: -2, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), board, userId: user }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("removeUser" as const), userId: user }) },
);

async function checkBoard(store: LeaderboardStore, model: ModelStore, name: string): Promise<void> {
  const order = model.order(name);
  expect(await store.count(name)).toBe(order.length);
  for (const mode of MODES) {
    expect(await store.top(name, { offset: 0, limit: 100, mode })).toEqual(modelPage(order, 0, 100, mode));
    expect(await store.top(name, { offset: 2, limit: 3, mode })).toEqual(modelPage(order, 2, 5, mode));
    for (const userId of USERS) {
      const pos = order.findIndex((e) => e.userId === userId);
      const expected = pos < 0 ? null : { userId, score: order[pos]!.score, rank: modelRank(order, pos, mode) };
      expect(await store.rank(name, userId, mode)).toEqual(expected);
    }
  }
  for (const userId of USERS) {
    for (const radius of [0, 1, 2]) {
      const mode = MODES[radius]!;
      expect(await store.around(name, userId, { radius, mode })).toEqual(modelAround(order, userId, radius, mode));
    }
  }
  for (let score = -8; score <= 8; score++) {
    const above = order.filter((e) => e.score > score).length;
    const equal = order.filter((e) => e.score === score).length;
    expect(await store.countAround(name, score)).toEqual({ above, equal });
  }
}

describe("memoryLeaderboards matches a naive model", () => {
  test("random increments, sets and removes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(storeOp, { maxLength: 40 }), async (ops) => {
        const store = memoryLeaderboards();
        const model = new ModelStore();
        for (const op of ops) {
          if (op.kind === "increment") {
            expect(await store.increment(op.updates, op.userId)).toEqual(model.increment(op.updates, op.userId));
          } else if (op.kind === "set") {
            await store.set(op.board, op.userId, op.score);
            model.write(op.board, op.userId, op.score);
          } else if (op.kind === "remove") {
            expect(await store.remove(op.board, op.userId)).toBe(model.remove(op.board, op.userId));
          } else {
            await store.removeUser(op.userId);
            model.removeUser(op.userId);
          }
        }
        for (const name of BOARDS) await checkBoard(store, model, name);
        await store.close();
      }),
      { numRuns: 120 },
    );
  });

  test("a larger board with heavy ties, checked after every step", async () => {
    const store = memoryLeaderboards();
    const model = new ModelStore();
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let step = 0; step < 600; step++) {
      const userId = `p${next(60)}`;
      const roll = next(10);
      if (roll < 7) {
        const updates = [{ board: "big", delta: next(5) - 1 }];
        expect(await store.increment(updates, userId)).toEqual(model.increment(updates, userId));
      } else if (roll < 9) {
        const score = next(6);
        await store.set("big", userId, score);
        model.write("big", userId, score);
      } else {
        expect(await store.remove("big", userId)).toBe(model.remove("big", userId));
      }
      if (step % 25 === 0) {
        const order = model.order("big");
        for (const mode of MODES) expect(await store.top("big", { offset: 0, limit: 1000, mode })).toEqual(modelPage(order, 0, 1000, mode));
        const probe = order[next(Math.max(1, order.length))];
        if (probe) {
          for (const radius of [0, 3, 5]) {
            expect(await store.around("big", probe.userId, { radius, mode: "dense" })).toEqual(modelAround(order, probe.userId, radius, "dense"));
          }
        }
      }
    }
  });
});

// ---- memoryLeaderboards: edge cases -----------------------------------------------------------

async function ranks(store: LeaderboardStore, name: string, mode: RankMode): Promise<[string, number][]> {
  return (await store.top(name, { offset: 0, limit: 10, mode })).map((e) => [e.userId, e.rank]);
}

describe("memoryLeaderboards", () => {
  test("an unknown board is empty", async () => {
    const store = memoryLeaderboards();
    expect(await store.top("none", { offset: 0, limit: 10, mode: "standard" })).toEqual([]);
    expect(await store.rank("none", "u", "dense")).toBeNull();
    expect(await store.around("none", "u", { radius: 2, mode: "ordinal" })).toEqual([]);
    expect(await store.count("none")).toBe(0);
    expect(await store.countAround("none", 5)).toEqual({ above: 0, equal: 0 });
    expect(await store.remove("none", "u")).toBe(false);
    await store.removeUser("u");
    expect(store.name).toBe("memory");
  });

  test("a single user ranks first in every mode", async () => {
    const store = memoryLeaderboards();
    expect(await store.increment([{ board: "b", delta: 4 }], "solo")).toEqual([4]);
    for (const mode of MODES) {
      expect(await store.rank("b", "solo", mode)).toEqual({ userId: "solo", score: 4, rank: 1 });
      expect(await store.around("b", "solo", { radius: 3, mode })).toEqual([{ userId: "solo", score: 4, rank: 1 }]);
    }
    expect(await store.around("b", "other", { radius: 3, mode: "standard" })).toEqual([]);
    expect(await store.top("b", { offset: 1, limit: 5, mode: "standard" })).toEqual([]);
    expect(await store.top("b", { offset: 0, limit: 0, mode: "standard" })).toEqual([]);
    await store.set("b", "zero", -0);
    expect(Object.is((await store.rank("b", "zero", "standard"))!.score, 0)).toBe(true);
  });

  test("ties: standard 1,2,2,4; dense 1,2,2,3; ordinal 1,2,3,4 with the first to reach the score first", async () => {
    const store = memoryLeaderboards();
    await store.increment([{ board: "b", delta: 10 }], "late"); // reaches 20 last
    await store.increment([{ board: "b", delta: 20 }], "early");
    await store.increment([{ board: "b", delta: 30 }], "top");
    await store.increment([{ board: "b", delta: 10 }], "low");
    await store.increment([{ board: "b", delta: 10 }], "late");
    expect(await ranks(store, "b", "standard")).toEqual([
      ["top", 1],
      ["early", 2],
      ["late", 2],
      ["low", 4],
    ]);
    expect((await ranks(store, "b", "dense")).map(([, r]) => r)).toEqual([1, 2, 2, 3]);
    expect(await ranks(store, "b", "ordinal")).toEqual([
      ["top", 1],
      ["early", 2],
      ["late", 3],
      ["low", 4],
    ]);
    expect(await store.rank("b", "late", "standard")).toEqual({ userId: "late", score: 20, rank: 2 });
    expect(await store.rank("b", "low", "dense")).toEqual({ userId: "low", score: 10, rank: 3 });
    expect(await store.countAround("b", 20)).toEqual({ above: 1, equal: 2 });
    expect(await store.countAround("b", 25)).toEqual({ above: 1, equal: 0 });
  });

  test("only a real score change moves a user behind others with the same score", async () => {
    const store = memoryLeaderboards();
    await store.set("b", "first", 5);
    await store.set("b", "second", 5);
    await store.increment([{ board: "b", delta: 0 }], "first");
    await store.set("b", "first", 5);
    expect((await ranks(store, "b", "ordinal")).map(([u]) => u)).toEqual(["first", "second"]);
    await store.increment([{ board: "b", delta: 1 }], "first");
    await store.increment([{ board: "b", delta: -1 }], "first");
    expect((await ranks(store, "b", "ordinal")).map(([u]) => u)).toEqual(["second", "first"]);
  });

  test("around shifts at the edges and honours radius 0", async () => {
    const store = memoryLeaderboards();
    for (let i = 1; i <= 10; i++) await store.set("b", `u${i}`, 100 - i); // u1 best, u10 last
    const ids = async (userId: string, radius: number): Promise<string[]> =>
      (await store.around("b", userId, { radius, mode: "ordinal" })).map((e) => e.userId);
    expect(await ids("u1", 2)).toEqual(["u1", "u2", "u3", "u4", "u5"]);
    expect(await ids("u2", 2)).toEqual(["u1", "u2", "u3", "u4", "u5"]);
    expect(await ids("u5", 2)).toEqual(["u3", "u4", "u5", "u6", "u7"]);
    expect(await ids("u9", 2)).toEqual(["u6", "u7", "u8", "u9", "u10"]);
    expect(await ids("u10", 2)).toEqual(["u6", "u7", "u8", "u9", "u10"]);
    expect(await ids("u4", 0)).toEqual(["u4"]);
    expect(await ids("u4", 20)).toHaveLength(10);
    expect((await store.around("b", "u10", { radius: 1, mode: "standard" })).map((e) => e.rank)).toEqual([8, 9, 10]);
  });

  test("a multi-board increment stays right when a new user's insert grows a board's user table", async () => {
    // 11 users fill a new board's table to its limit: the next insert rebuilds it (new handles).
    for (const [first, second] of [
      ["a", "b"],
      ["b", "a"],
    ] as const) {
      const store = memoryLeaderboards();
      for (let u = 0; u < 11; u++) await store.increment([{ board: "a", delta: u + 1 }], `u${u}`);
      for (let u = 0; u < 11; u++) await store.increment([{ board: "b", delta: u + 1 }], `u${u}`);
      await store.increment([{ board: second, delta: 100 }], "old");
      const updates = [
        { board: first, delta: 20 },
        { board: second, delta: 30 },
        { board: first, delta: 5 },
        { board: second, delta: 1 },
      ];
      // "old" is new on `first` (its insert rebuilds that table) and already on `second`.
      expect(await store.increment(updates, "old")).toEqual([20, 130, 25, 131]);
      expect(await store.rank(first, "old", "ordinal")).toEqual({ userId: "old", score: 25, rank: 1 });
      expect(await store.rank(second, "old", "ordinal")).toEqual({ userId: "old", score: 131, rank: 1 });
      for (let u = 0; u < 11; u++) expect((await store.rank(first, `u${u}`, "ordinal"))?.rank).toBe(12 - u);
      await store.close();
    }
  });

  test("a multi-board increment returns totals in order and accumulates a repeated board", async () => {
    const store = memoryLeaderboards();
    expect(await store.increment([{ board: "a", delta: 2 }, { board: "b", delta: 3 }, { board: "a", delta: 4 }], "u")).toEqual([2, 3, 6]);
    expect(await store.rank("a", "u", "standard")).toEqual({ userId: "u", score: 6, rank: 1 });
    const many = Array.from({ length: 12 }, (_, i) => ({ board: i % 2 === 0 ? "a" : "c", delta: 1 }));
    expect((await store.increment(many, "u")).slice(-2)).toEqual([12, 6]);
  });

  test("OUT_OF_RANGE leaves every board unchanged", async () => {
    const store = memoryLeaderboards();
    await store.set("a", "u", 1);
    await store.set("b", "u", Number.MAX_SAFE_INTEGER - 1);
    await store.set("b", "v", 7);
    const before = await store.top("b", { offset: 0, limit: 10, mode: "ordinal" });
    const updates = [
      { board: "a", delta: 5 },
      { board: "new", delta: 1 },
      { board: "b", delta: 2 },
    ];
    expect(await codeOf(() => store.increment(updates, "u"))).toBe("OUT_OF_RANGE");
    expect(await store.rank("a", "u", "standard")).toEqual({ userId: "u", score: 1, rank: 1 });
    expect(await store.count("new")).toBe(0);
    expect(await store.top("b", { offset: 0, limit: 10, mode: "ordinal" })).toEqual(before);
    // Repeats count too: each step is safe, their sum is not.
    expect(
      await codeOf(() =>
        store.increment(
          [
            { board: "a", delta: Number.MAX_SAFE_INTEGER - 1 },
            { board: "a", delta: 1 },
          ],
          "u",
        ),
      ),
    ).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => store.increment([{ board: "a", delta: -Number.MAX_SAFE_INTEGER - 1 }], "v"))).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => store.set("a", "u", 2 ** 60))).toBe("OUT_OF_RANGE");
    expect(await codeOf(() => store.increment([{ board: "a", delta: 0.5 }], "u"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => store.set("a", "u", Number.NaN))).toBe("INVALID_ARGUMENT");
    expect(await store.rank("a", "u", "standard")).toEqual({ userId: "u", score: 1, rank: 1 });
    // The boundary itself is fine.
    expect(await store.increment([{ board: "b", delta: 1 }], "u")).toEqual([Number.MAX_SAFE_INTEGER]);
  });

  test("removeUser removes the user from every board", async () => {
    const store = memoryLeaderboards();
    await store.increment([{ board: "a", delta: 5 }, { board: "b", delta: 5 }, { board: "c", delta: 1 }], "gone");
    await store.increment([{ board: "a", delta: 3 }, { board: "b", delta: 9 }], "stays");
    await store.removeUser("gone");
    for (const name of ["a", "b", "c"]) expect(await store.rank(name, "gone", "standard")).toBeNull();
    expect(await store.count("a")).toBe(1);
    expect(await store.count("c")).toBe(0);
    expect(await store.rank("a", "stays", "standard")).toEqual({ userId: "stays", score: 3, rank: 1 });
    // The user can come back, with fresh entries.
    expect(await store.increment([{ board: "a", delta: 1 }], "gone")).toEqual([1]);
    expect(await store.rank("a", "gone", "ordinal")).toEqual({ userId: "gone", score: 1, rank: 2 });
  });

  test("rejects bad paging arguments and modes", async () => {
    const store = memoryLeaderboards();
    expect(await codeOf(() => store.top("b", { offset: -1, limit: 1, mode: "standard" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(() => store.around("b", "u", { radius: 1.5, mode: "standard" }))).toBe("INVALID_ARGUMENT");
    // @ts-expect-error: checked at run time too
    expect(await codeOf(() => store.rank("b", "u", "best"))).toBe("INVALID_ARGUMENT");
  });

  test("a board past its expiresAt is dropped when next touched", async () => {
    let now = 1_000_000;
    const store = memoryLeaderboards({ clock: () => now });
    await store.increment([{ board: "week", delta: 5, expiresAt: now + 1000 }, { board: "all", delta: 5 }], "u");
    await store.increment([{ board: "week", delta: 2, expiresAt: now + 1000 }], "v");
    expect(await store.count("week")).toBe(2);
    now += 1000;
    expect(await store.count("week")).toBe(0);
    expect(await store.rank("week", "u", "standard")).toBeNull();
    expect(await store.count("all")).toBe(1);
    // Writing again starts a fresh board.
    expect(await store.increment([{ board: "week", delta: 1, expiresAt: now + 1000 }], "u")).toEqual([1]);
    expect(await store.count("week")).toBe(1);
    // The periodic sweep drops expired boards nobody reads.
    await store.increment([{ board: "old", delta: 1, expiresAt: now + 10 }], "u");
    now += 120_000;
    await store.set("all", "w", 1);
    await store.removeUser("u");
    expect(await store.count("all")).toBe(1);
  });

  test("every method throws CLOSED after close; close is idempotent", async () => {
    const store = memoryLeaderboards();
    await store.set("b", "u", 1);
    await expect(store.health()).resolves.toBeUndefined();
    await store.close();
    await store.close();
    const calls: (() => Promise<unknown>)[] = [
      () => store.increment([{ board: "b", delta: 1 }], "u"),
      () => store.set("b", "u", 2),
      () => store.remove("b", "u"),
      () => store.removeUser("u"),
      () => store.top("b", { offset: 0, limit: 1, mode: "standard" }),
      () => store.rank("b", "u", "standard"),
      () => store.around("b", "u", { radius: 1, mode: "standard" }),
      () => store.count("b"),
      () => store.countAround("b", 1),
      () => store.health(),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe("CLOSED");
  });
});
