import { memoryLeaderboards } from "@gamifykit/core";
import { OrderedSet } from "js-sdsl";
import type { Row } from "./report.js";

/** A deterministic generator, so both structures see the same operations. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Median of per-op times (µs) over batches of `batch` calls. */
async function medianMicros(batches: number, batch: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  let i = 0;
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let k = 0; k < batch; k++) await op(i++);
    samples.push(((performance.now() - start) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

interface Entry {
  score: number;
  seq: number;
  userId: string;
}

/**
 * The comparison: js-sdsl's red-black OrderedSet with indexing, the same ordering (score desc,
 * earlier first) and the same async call shape as a LeaderboardStore.
 */
function sdslBoard() {
  const set = new OrderedSet<Entry>([], (a, b) => b.score - a.score || a.seq - b.seq, true);
  const byUser = new Map<string, Entry>();
  let seq = 0;
  return {
    async increment(userId: string, delta: number) {
      const old = byUser.get(userId);
      if (old) set.eraseElementByKey(old);
      const entry = { score: (old?.score ?? 0) + delta, seq: seq++, userId };
      byUser.set(userId, entry);
      set.insert(entry);
    },
    async rank(userId: string) {
      const entry = byUser.get(userId);
      return entry ? set.find(entry).index + 1 : null;
    },
    async around(userId: string, radius: number) {
      const entry = byUser.get(userId);
      if (!entry) return [];
      // Walk iterators from the user (getElementByPos is a linear walk in js-sdsl).
      const size = set.size();
      const it = set.find(entry);
      const at = it.index;
      const from = Math.max(0, Math.min(at - radius, size - (2 * radius + 1)));
      for (let p = at; p > from; p--) it.pre();
      const rows: Entry[] = [];
      for (let p = from; p < Math.min(size, from + 2 * radius + 1); p++, it.next()) rows.push(it.pointer);
      return rows;
    },
  };
}

/** Update, rank and around(±5) on one in-memory board of `users` users, beside js-sdsl. */
export async function leaderboardBench(quick: boolean): Promise<Row[]> {
  const users = quick ? 10_000 : 1_000_000;
  const batches = quick ? 50 : 500;
  const batch = 100;
  const ids = Array.from({ length: users }, (_, i) => `user-${i}`);

  const store = memoryLeaderboards();
  const baseline = sdslBoard();
  const fill = lcg(1);
  for (const id of ids) {
    const score = Math.floor(fill() * 1_000_000);
    await store.increment([{ board: "b", delta: score }], id);
    await baseline.increment(id, score);
  }

  // The fill's garbage would otherwise be collected during the first rows measured (update).
  (globalThis as { gc?: () => void }).gc?.();
  const pick = lcg(2);
  const user = () => ids[Math.floor(pick() * users)] as string;
  const rows: Row[] = [];
  const area = `Leaderboards (memory, ${users.toLocaleString("en-US")} users)`;
  const measure = async (measure: string, ours: (id: string) => Promise<unknown>, theirs: (id: string) => Promise<unknown>) => {
    const value = await medianMicros(batches, batch, () => ours(user()));
    const base = await medianMicros(batches, batch, () => theirs(user()));
    rows.push({ area, measure, value, unit: "µs", baseline: { name: "js-sdsl OrderedSet", value: base }, better: "lower" });
  };
  await measure("update (median)", (id) => store.increment([{ board: "b", delta: 7 }], id), (id) => baseline.increment(id, 7));
  await measure("rank, ordinal (median)", (id) => store.rank("b", id, "ordinal"), (id) => baseline.rank(id));
  await measure("around ±5 (median)", (id) => store.around("b", id, { radius: 5, mode: "ordinal" }), (id) => baseline.around(id, 5));

  // What any structure keyed by user id pays in this harness before doing any work of its own: the
  // harness alone (pick a random id, await an async call), and that plus one lookup of the id in a
  // Map of every user (the hash, the table, the entry: cache misses on a heap this size). Same
  // picks, same call shape; the map is built in the same order as the boards.
  const floorMap = new Map<string, number>();
  ids.forEach((id, i) => floorMap.set(id, i));
  const lookup = async (id: string) => floorMap.get(id);
  const nothing = async (id: string) => id;
  const harness = await medianMicros(batches, batch, () => nothing(user()));
  const floor = await medianMicros(batches, batch, () => lookup(user()));
  rows.push({ area, measure: "harness alone: random id + await of an async no-op (median)", value: harness, unit: "µs", better: "lower" });
  rows.push({ area, measure: "Map.get of a random user id (the floor any per-user lookup pays; median)", value: floor, unit: "µs", better: "lower" });
  await store.close();
  return rows;
}
