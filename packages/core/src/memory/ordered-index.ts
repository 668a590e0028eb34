/**
 * An order-statistic index for leaderboards: entries `(score, seq, userId)` ordered by score
 * descending, then `seq` ascending (the entry that reached its score first comes first).
 *
 * Layout: a "sorted list of sorted blocks". Each block holds up to `blockSize` consecutive entries
 * in parallel typed arrays; the blocks' last keys sit in flat arrays for a cache-friendly binary
 * search, and a Fenwick tree over block sizes turns positions into blocks and back in O(log n).
 * A second list of the same shape holds the distinct scores with their multiplicities, which
 * answers dense ranks. Every operation is O(log n) plus a shift of at most one block.
 */

import { GamifyError } from "../errors.js";

/** One entry of an {@link OrderedIndex}. */
export interface IndexEntry {
  readonly score: number;
  readonly seq: number;
  readonly userId: string;
}

/** Options for {@link OrderedIndex}. */
export interface OrderedIndexOptions {
  /**
   * Entries per block before it splits (at least 4). Larger blocks mean shallower searches but
   * longer shifts; the default suits boards of up to a few million entries.
   */
  readonly blockSize?: number;
}

/** 512 measured best at 10^6 entries: shifts stay in L1, and there are few blocks to search. */
const DEFAULT_BLOCK_SIZE = 512;

/** A run of consecutive entries, column-wise so searches scan contiguous memory. */
interface Block {
  readonly scores: Float64Array;
  /** `seq` in the entry list (part of the key); the multiplicity in the distinct-score list. */
  readonly aux: Float64Array;
  /**
   * Slots of the entries' user ids (the entry list only; empty in the distinct-score list). Ids
   * live in a side table so shifts move plain integers: moving strings costs a GC write barrier
   * per element, which made shifts several times slower.
   */
  readonly ids: Int32Array;
  size: number;
}

/**
 * Sorted blocks plus a Fenwick tree over their sizes. It stores and moves entries; the callers
 * decide where they go. Searches report their result in `k` (block) and `i` (offset) rather than
 * returning a tuple, so the hot paths allocate nothing.
 */
class BlockList {
  private readonly cap: number;
  private readonly minFill: number;
  private readonly withIds: boolean;
  blocks: Block[];
  /** Last (lowest-ranked) key of each block, in flat arrays so block searches stay in cache. */
  lastScore: Float64Array;
  /** Only maintained as a key for the entry list; meaningless in the distinct-score list. */
  lastAux: Float64Array;
  /** 1-based Fenwick tree over block sizes. */
  private tree: Int32Array;
  /** Highest power of two <= blocks.length, for the Fenwick descent. */
  private topBit = 1;
  size = 0;
  /** Search results. */
  k = 0;
  i = 0;

  constructor(cap: number, withIds: boolean) {
    this.cap = cap;
    this.minFill = cap >> 2;
    this.withIds = withIds;
    this.blocks = [this.newBlock()];
    this.lastScore = new Float64Array(16);
    this.lastAux = new Float64Array(16);
    this.tree = new Int32Array(17);
    this.rebuild();
  }

  private newBlock(): Block {
    return {
      scores: new Float64Array(this.cap),
      aux: new Float64Array(this.cap),
      ids: new Int32Array(this.withIds ? this.cap : 0),
      size: 0,
    };
  }

  clear(): void {
    this.blocks = [this.newBlock()];
    this.size = 0;
    this.rebuild();
  }

  /** Number of entries in blocks `[0, k)`. */
  prefix(k: number): number {
    const tree = this.tree;
    let sum = 0;
    for (let x = k; x > 0; x -= x & -x) sum += tree[x]!;
    return sum;
  }

  /** Sets `k`/`i` to the block and offset holding position `pos` (0 <= pos < size). */
  locate(pos: number): void {
    const tree = this.tree;
    const nb = this.blocks.length;
    let k = 0;
    let rem = pos;
    for (let step = this.topBit; step > 0; step >>= 1) {
      const next = k + step;
      if (next <= nb && tree[next]! <= rem) {
        k = next;
        rem -= tree[next]!;
      }
    }
    this.k = k;
    this.i = rem;
  }

  /**
   * Sets `k`/`i` to the first entry whose score is `<= score` (`strict`: `< score`), i.e. just
   * after every entry ranked above it; returns that entry's position (`size` when there is none).
   */
  boundByScore(score: number, strict: boolean): number {
    const last = this.lastScore;
    const nb = this.blocks.length;
    let lo = 0;
    let hi = nb;
    // First block whose lowest score passes the test; blocks before it lie wholly above.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = last[mid]!;
      if (strict ? s >= score : s > score) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nb) {
      this.k = nb - 1;
      this.i = this.blocks[nb - 1]!.size;
      return this.size;
    }
    const scores = this.blocks[lo]!.scores;
    let a = 0;
    let b = this.blocks[lo]!.size;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const s = scores[mid]!;
      if (strict ? s >= score : s > score) a = mid + 1;
      else b = mid;
    }
    this.k = lo;
    this.i = a;
    return this.prefix(lo) + a;
  }

  /** Sets `k`/`i` to the first entry not ordered before `(score, seq)`; the end of the last block when none. */
  boundByKey(score: number, seq: number): void {
    const lastS = this.lastScore;
    const lastQ = this.lastAux;
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = lastS[mid]!;
      if (s > score || (s === score && lastQ[mid]! < seq)) lo = mid + 1;
      else hi = mid;
    }
    const block = this.blocks[lo]!;
    const scores = block.scores;
    const seqs = block.aux;
    let a = 0;
    let b = block.size;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const s = scores[mid]!;
      if (s > score || (s === score && seqs[mid]! < seq)) a = mid + 1;
      else b = mid;
    }
    this.k = lo;
    this.i = a;
  }

  /** Inserts at block `k`, offset `i`, splitting the block when it fills up. */
  insertAt(k: number, i: number, score: number, aux: number, id: number): void {
    const block = this.blocks[k]!;
    const n = block.size;
    if (i < n) {
      block.scores.copyWithin(i + 1, i, n);
      block.aux.copyWithin(i + 1, i, n);
      if (this.withIds) block.ids.copyWithin(i + 1, i, n);
    } else {
      this.lastScore[k] = score;
      this.lastAux[k] = aux;
    }
    block.scores[i] = score;
    block.aux[i] = aux;
    if (this.withIds) block.ids[i] = id;
    block.size = n + 1;
    this.size++;
    if (block.size === this.cap) this.split(k);
    else for (let x = k + 1, nb = this.blocks.length; x <= nb; x += x & -x) this.tree[x]!++;
  }

  /** Removes the entry at block `k`, offset `i`, merging or dropping the block when it runs low. */
  deleteAt(k: number, i: number): void {
    const block = this.blocks[k]!;
    const n = block.size - 1;
    if (i < n) {
      block.scores.copyWithin(i, i + 1, n + 1);
      block.aux.copyWithin(i, i + 1, n + 1);
      if (this.withIds) block.ids.copyWithin(i, i + 1, n + 1);
    } else if (n > 0) {
      this.lastScore[k] = block.scores[n - 1]!;
      this.lastAux[k] = block.aux[n - 1]!;
    }
    block.size = n;
    this.size--;
    const nb = this.blocks.length;
    if (n < this.minFill && nb > 1) {
      if (n === 0) {
        this.removeBlock(k);
        return;
      }
      // Merge with the smaller neighbour when both fit in one block; otherwise the neighbour is
      // nearly full, and no two adjacent blocks stay this small, which bounds the block count.
      const left = k > 0 ? this.blocks[k - 1]!.size : Infinity;
      const right = k + 1 < nb ? this.blocks[k + 1]!.size : Infinity;
      const into = left <= right ? k - 1 : k;
      if (Math.min(left, right) + n < this.cap) {
        this.merge(into);
        return;
      }
    }
    for (let x = k + 1; x <= nb; x += x & -x) this.tree[x]!--;
  }

  private split(k: number): void {
    const block = this.blocks[k]!;
    const half = block.size >> 1;
    const moved = block.size - half;
    const next = this.newBlock();
    next.scores.set(block.scores.subarray(half, block.size));
    next.aux.set(block.aux.subarray(half, block.size));
    if (this.withIds) next.ids.set(block.ids.subarray(half, block.size));
    next.size = moved;
    block.size = half;
    this.blocks.splice(k + 1, 0, next);
    this.growLasts();
    const nb = this.blocks.length;
    this.lastScore.copyWithin(k + 2, k + 1, nb - 1);
    this.lastAux.copyWithin(k + 2, k + 1, nb - 1);
    this.lastScore[k + 1] = this.lastScore[k]!;
    this.lastAux[k + 1] = this.lastAux[k]!;
    this.lastScore[k] = block.scores[half - 1]!;
    this.lastAux[k] = block.aux[half - 1]!;
    this.rebuild();
  }

  /** Appends block `k + 1` to block `k` and removes it. */
  private merge(k: number): void {
    const left = this.blocks[k]!;
    const right = this.blocks[k + 1]!;
    const n = left.size;
    left.scores.set(right.scores.subarray(0, right.size), n);
    left.aux.set(right.aux.subarray(0, right.size), n);
    if (this.withIds) left.ids.set(right.ids.subarray(0, right.size), n);
    left.size = n + right.size;
    right.size = 0;
    this.removeBlock(k + 1);
  }

  /** Removes block `k` (empty, or just merged into its predecessor). */
  private removeBlock(k: number): void {
    const nb = this.blocks.length;
    this.blocks.splice(k, 1);
    this.lastScore.copyWithin(k, k + 1, nb);
    this.lastAux.copyWithin(k, k + 1, nb);
    if (k > 0) {
      // After a merge into block k - 1 its last key changed; otherwise this rewrites the same value.
      const prev = this.blocks[k - 1]!;
      this.lastScore[k - 1] = prev.scores[prev.size - 1]!;
      this.lastAux[k - 1] = prev.aux[prev.size - 1]!;
    }
    this.rebuild();
  }

  private growLasts(): void {
    const nb = this.blocks.length;
    if (nb <= this.lastScore.length) return;
    const size = this.lastScore.length * 2;
    const s = new Float64Array(size);
    s.set(this.lastScore);
    this.lastScore = s;
    const a = new Float64Array(size);
    a.set(this.lastAux);
    this.lastAux = a;
  }

  /** Rebuilds the Fenwick tree in O(blocks); only after a split or merge, so amortised O(1). */
  private rebuild(): void {
    const nb = this.blocks.length;
    if (this.tree.length < nb + 1) this.tree = new Int32Array(this.lastScore.length + 1);
    const tree = this.tree;
    tree.fill(0, 0, nb + 1);
    for (let x = 1; x <= nb; x++) {
      tree[x] = tree[x]! + this.blocks[x - 1]!.size;
      const up = x + (x & -x);
      if (up <= nb) tree[up] = tree[up]! + tree[x]!;
    }
    let top = 1;
    while (top * 2 <= nb) top *= 2;
    this.topBit = top;
  }

  /** Throws when a structural invariant is broken; for tests. */
  check(label: string): void {
    const fail = (why: string): never => {
      throw new GamifyError("INTERNAL", `${label}: ${why}`);
    };
    let total = 0;
    for (let k = 0; k < this.blocks.length; k++) {
      const block = this.blocks[k]!;
      if (block.size === 0 && this.blocks.length > 1) fail(`empty block ${k}`);
      if (block.size >= this.cap) fail(`overfull block ${k}`);
      if (this.prefix(k) !== total) fail(`fenwick prefix ${k}`);
      total += block.size;
      if (block.size > 0) {
        if (this.lastScore[k] !== block.scores[block.size - 1]) fail(`last score of block ${k}`);
        if (this.withIds && this.lastAux[k] !== block.aux[block.size - 1]) fail(`last seq of block ${k}`);
      }
    }
    if (total !== this.size) fail("size");
  }
}

/**
 * An order-statistic index of leaderboard entries, ordered by score descending and then by `seq`
 * ascending. `(score, seq)` must be unique: callers stamp `seq` from a counter.
 *
 * @example
 * ```ts
 * const index = new OrderedIndex();
 * index.insert(10, 1, "ana");
 * index.insert(10, 2, "ben");
 * index.positionOf(10, 2); // 1
 * index.countAbove(10); // 0
 * ```
 */
export class OrderedIndex {
  private readonly list: BlockList;
  /** Distinct scores, descending, with their multiplicity in `aux`. */
  private readonly distinct: BlockList;
  /** User id of each slot referenced from the blocks. */
  private names: string[] = [];
  /** Slots freed by deletes, reused before the table grows. */
  private freeSlots: number[] = [];

  /** Creates an empty index. */
  constructor(options: OrderedIndexOptions = {}) {
    const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(blockSize) || blockSize < 4) {
      throw new GamifyError("INVALID_ARGUMENT", `blockSize must be an integer >= 4; got ${String(blockSize)}.`);
    }
    this.list = new BlockList(blockSize, true);
    this.distinct = new BlockList(blockSize, false);
  }

  /** Number of entries. */
  get size(): number {
    return this.list.size;
  }

  /** Number of distinct scores. */
  get distinctSize(): number {
    return this.distinct.size;
  }

  /** Adds an entry. Throws `INTERNAL` when `(score, seq)` is already present. */
  insert(score: number, seq: number, userId: string): void {
    const list = this.list;
    list.boundByKey(score, seq);
    const block = list.blocks[list.k]!;
    if (list.i < block.size && block.scores[list.i] === score && block.aux[list.i] === seq) {
      throw new GamifyError("INTERNAL", `duplicate index key (${score}, ${seq}).`);
    }
    const slot = this.freeSlots.pop() ?? this.names.length;
    this.names[slot] = userId;
    list.insertAt(list.k, list.i, score, seq, slot);

    const distinct = this.distinct;
    distinct.boundByScore(score, false);
    const d = distinct.blocks[distinct.k]!;
    if (distinct.i < d.size && d.scores[distinct.i] === score) d.aux[distinct.i]!++;
    else distinct.insertAt(distinct.k, distinct.i, score, 1, 0);
  }

  /** Removes the entry `(score, seq)`; false when absent. */
  delete(score: number, seq: number): boolean {
    const list = this.list;
    list.boundByKey(score, seq);
    const block = list.blocks[list.k]!;
    if (list.i >= block.size || block.scores[list.i] !== score || block.aux[list.i] !== seq) return false;
    const slot = block.ids[list.i]!;
    // Drop the reference so the id can be collected.
    this.names[slot] = "";
    this.freeSlots.push(slot);
    list.deleteAt(list.k, list.i);

    const distinct = this.distinct;
    distinct.boundByScore(score, false);
    const d = distinct.blocks[distinct.k]!;
    if (d.aux[distinct.i]! > 1) d.aux[distinct.i]!--;
    else distinct.deleteAt(distinct.k, distinct.i);
    return true;
  }

  /** 0-based position of `(score, seq)`, or -1 when absent. */
  positionOf(score: number, seq: number): number {
    const list = this.list;
    list.boundByKey(score, seq);
    const block = list.blocks[list.k]!;
    if (list.i >= block.size || block.scores[list.i] !== score || block.aux[list.i] !== seq) return -1;
    return list.prefix(list.k) + list.i;
  }

  /** The entry at a 0-based position, or undefined when out of range. */
  at(pos: number): IndexEntry | undefined {
    const list = this.list;
    if (!Number.isInteger(pos) || pos < 0 || pos >= list.size) return undefined;
    list.locate(pos);
    const block = list.blocks[list.k]!;
    return { score: block.scores[list.i]!, seq: block.aux[list.i]!, userId: this.names[block.ids[list.i]!]! };
  }

  /** Number of entries with a score strictly greater than `score` (its standard rank minus one). */
  countAbove(score: number): number {
    return this.list.boundByScore(score, false);
  }

  /** Number of entries with a score greater than or equal to `score`. */
  countAtLeast(score: number): number {
    return this.list.boundByScore(score, true);
  }

  /** Number of distinct scores strictly greater than `score` (its dense rank minus one). */
  distinctAbove(score: number): number {
    return this.distinct.boundByScore(score, false);
  }

  /**
   * Calls `visit` for the entries at positions `[start, end)` in order, clamped to the index.
   * Walks blocks directly, so a page costs one O(log n) lookup plus its length.
   */
  forEachInRange(start: number, end: number, visit: (userId: string, score: number, seq: number, pos: number) => void): void {
    const list = this.list;
    const names = this.names;
    const from = Math.max(0, start);
    const to = Math.min(list.size, end);
    if (from >= to) return;
    list.locate(from);
    let k = list.k;
    let i = list.i;
    let pos = from;
    while (pos < to) {
      const block = list.blocks[k]!;
      const stop = Math.min(block.size, i + (to - pos));
      for (; i < stop; i++, pos++) visit(names[block.ids[i]!]!, block.scores[i]!, block.aux[i]!, pos);
      k++;
      i = 0;
    }
  }

  /** Removes every entry. */
  clear(): void {
    this.list.clear();
    this.distinct.clear();
    this.names = [];
    this.freeSlots = [];
  }

  /** Throws `INTERNAL` when an internal invariant is broken. For tests; O(n). */
  checkInvariants(): void {
    this.list.check("entries");
    this.distinct.check("distinct scores");
    let multiplicity = 0;
    for (const block of this.distinct.blocks) for (let i = 0; i < block.size; i++) multiplicity += block.aux[i]!;
    if (multiplicity !== this.list.size) throw new GamifyError("INTERNAL", "distinct multiplicities do not add up");
  }
}
