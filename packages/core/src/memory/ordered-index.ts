/**
 * An order-statistic index for leaderboards: entries `(score, seq, userId)` ordered by score
 * descending, then `seq` ascending (the entry that reached its score first comes first).
 *
 * Layout: a "sorted list of sorted blocks". Entries live in blocks of at most `blockSize`; the
 * blocks' entries sit in flat typed-array arenas, keys as (score, seq) pairs and handles apart
 * (no per-block objects, so a lookup touches few pages), while small per-block arrays (last key,
 * size, ...) in list order serve the block search. Fenwick trees over block sizes turn positions
 * into blocks and back. For dense ranks each
 * block also counts its "score starts" (entries whose score differs from the previous entry's), with
 * a second Fenwick tree over those counts: the distinct scores above `s` are the starts before the
 * first entry at or below `s`.
 *
 * Users and handles: the index maps user ids to entries itself, with an open-addressing hash table
 * (linear probing) whose slot number is the entry's handle. The slot holds, in 16 bytes, the id's
 * hash tag, the score and the entry's place in the blocks when last seen, and each block keeps its
 * entries' handles. Finding a user therefore reads the id, one table line and the stored id (to
 * confirm), where a `Map<string, number>` plus a per-handle record reads the id, the map's bucket,
 * one or more of its entries and then the record: on a board of a million users each of those
 * reads is a cache miss, and they are the cost of a call. A handle then finds the entry with a
 * scan of one block, with no search by key.
 * Rank, position and score changes by handle skip the O(log n) search (on a big board the search's
 * cache misses cost more than everything else), and a score change that keeps the entry in its
 * block (the usual small increment) moves it inside that block.
 *
 * Costs: every operation is O(log n) plus work on one block (a shift, or for dense ranks a scan),
 * which is bounded by the block size. Splits and merges rebuild the Fenwick trees in O(n / blockSize);
 * merges leave room, so they do not alternate with splits and stay rare.
 */

import { GamifyError } from "../errors.js";
import { randomSeed } from "../ids.js";

/** One entry of an {@link OrderedIndex}. */
export interface IndexEntry {
  readonly score: number;
  readonly seq: number;
  readonly userId: string;
}

/** One row of {@link OrderedIndex.page}: a user, its score and its rank in the requested mode. */
export interface RankedRow {
  readonly userId: string;
  readonly score: number;
  readonly rank: number;
}

/** Options for {@link OrderedIndex}. */
export interface OrderedIndexOptions {
  /**
   * Entries per block before it splits (at least 4). Larger blocks mean fewer blocks to search
   * but longer shifts and scans; the default suits boards of up to a few million entries.
   */
  readonly blockSize?: number;
}

/**
 * 64 to 256 measured alike at 10^6 entries (cache misses dominate); 128 keeps shifts and dense-rank
 * scans short and the block count, which Fenwick rebuilds walk, low.
 */
const DEFAULT_BLOCK_SIZE = 128;

/** Per-block arrays start this long and double. */
const INITIAL_BLOCKS = 8;

/** Shifts of at most this many entries inside a block are loops rather than copyWithin calls. */
const SHORT_SHIFT = 12;

/** The user table starts with this many slots (a power of two) and doubles. */
const INITIAL_TABLE = 16;

/**
 * Table tags: 0 marks a never-used slot, 2 a freed one; a user's tag is its hash with the low bit
 * set (so never 0 or 2), and its probe starts at slot `(hash >>> 1) & mask` (bits the tag keeps).
 */
const EMPTY = 0;
const FREED = 2;

/**
 * Live plus freed slots stay below this share of the table: linear probing then reads about 1.5
 * slots (half a cache line each) to find a user and 2 to 4 to find that one is absent.
 */
const MAX_LOAD = 0.7;

/** A packed array of `n` empty ids (no holes, so reads need no hole check). */
function emptyNames(n: number): string[] {
  const names: string[] = [];
  for (let h = 0; h < n; h++) names.push("");
  return names;
}

/**
 * A 32-bit hash of a user id (FNV-1a, then murmur3's finalizer so that the low bits, which pick
 * the table slot, depend on every character). The offset basis is mixed with a random seed per
 * index: user ids may come from outside (an HTTP path), and with a fixed hash anyone could
 * precompute ids that share a probe run and make every lookup on the board linear.
 */
function hashId(id: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let c = 0; c < id.length; c++) h = Math.imul(h ^ id.charCodeAt(c), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function grownInts(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function grownFloats(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * An order-statistic index of leaderboard entries, ordered by score descending and then by `seq`
 * ascending. `(score, seq)` must be unique: callers stamp `seq` from a counter. Scores must not
 * be NaN.
 *
 * @example
 * ```ts
 * const index = new OrderedIndex();
 * index.insert(10, 1, "ana");
 * index.insert(20, 2, "ben");
 * index.insert(10, 3, "cy");
 * index.positionOf(10, 3); // 2: ben, ana, cy
 * index.countAbove(10); // 1
 * index.distinctAbove(5); // 2
 * ```
 */
export class OrderedIndex {
  private readonly cap: number;
  /** Seeds the user table's hash (see {@link hashId}). */
  private readonly seed = randomSeed();

  // Arena, indexed by physical slot p: entry j's score at keys[p * stride + 2j] and its seq next to
  // it (a score change reads one line for both, not one per field), its handle at
  // handles[p * cap + j] (kept apart and dense, so finding an entry whose offset hint has drifted
  // by a few dozen places scans one or two lines). User ids live per handle (`names`), not in the
  // arena: shifts then move only numbers (no string writes and their GC barriers), which a score
  // change pays on every call, while a page pays one extra read per row.
  private keys: Float64Array;
  private handles: Int32Array;
  /** Doubles of `keys` per slot: 2 * cap. */
  private readonly stride: number;
  /** List index of each physical slot's block (valid for slots in use). */
  private blockOfSlot: Int32Array;
  private slots = 0;

  /**
   * The user table, 16 bytes per slot (= handle) h in one buffer seen as doubles (`meta`) and as
   * int32s (`metaInt`): its score at meta[2h]; at metaInt[4h + 2] its place in the arena when last
   * seen, `p * cap + offset` for physical slot p (shifts of its neighbours make the offset drift,
   * so lookups start there and look outwards: one cache line of the block instead of a scan); at
   * metaInt[4h + 3] its tag (EMPTY, FREED, or the id's hash with the low bit set).
   */
  private meta: Float64Array;
  private metaInt: Int32Array;
  /** User id per slot ("" for an empty or freed slot, so removed ids can be collected). */
  private names: string[];
  /** Slots - 1 (the slot count is a power of two). */
  private mask = INITIAL_TABLE - 1;
  /** Slots not EMPTY (live or freed); the table is rebuilt before this passes 70% of it. */
  private used = 0;
  private freeSlotList: number[] = [];

  // Per block, in list order (index k < nb).
  private nb = 1;
  private phys: Int32Array;
  private sizes: Int32Array;
  /** Entries of the block whose score differs from the previous entry's (the first entry overall counts). */
  private starts: Int32Array;
  private lastScore: Float64Array;
  private lastSeq: Float64Array;

  /** 1-based Fenwick trees over `sizes` and `starts`. */
  private sizeTree: Int32Array;
  private startTree: Int32Array;
  /** Highest power of two <= nb, for the Fenwick descent. */
  private topBit = 1;

  private count = 0;

  /** Search results (block, offset), kept in fields so lookups allocate nothing. */
  private k = 0;
  private i = 0;

  /** Creates an empty index. */
  constructor(options: OrderedIndexOptions = {}) {
    const cap = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(cap) || cap < 4) {
      throw new GamifyError("INVALID_ARGUMENT", `blockSize must be an integer >= 4; got ${String(cap)}.`);
    }
    this.cap = cap;
    // One slot to start: an index per board, and most boards are small.
    this.stride = 2 * cap;
    this.keys = new Float64Array(this.stride);
    this.handles = new Int32Array(cap);
    this.blockOfSlot = new Int32Array(1);
    this.meta = new Float64Array(2 * INITIAL_TABLE);
    this.metaInt = new Int32Array(this.meta.buffer);
    this.names = emptyNames(INITIAL_TABLE);
    this.phys = new Int32Array(INITIAL_BLOCKS);
    this.sizes = new Int32Array(INITIAL_BLOCKS);
    this.starts = new Int32Array(INITIAL_BLOCKS);
    this.lastScore = new Float64Array(INITIAL_BLOCKS);
    this.lastSeq = new Float64Array(INITIAL_BLOCKS);
    this.sizeTree = new Int32Array(INITIAL_BLOCKS + 1);
    this.startTree = new Int32Array(INITIAL_BLOCKS + 1);
    this.phys[0] = this.allocSlot();
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Number of distinct scores. */
  get distinctSize(): number {
    return this.prefix(this.startTree, this.nb);
  }

  /**
   * Adds an entry for a user who has none and returns its handle, valid until the entry is removed
   * or the next `insert` (which may rebuild the table and renumber handles; look the user up again
   * with {@link handleOf}). Throws `INTERNAL` when `(score, seq)` or the user is already present.
   */
  insert(score: number, seq: number, userId: string): number {
    this.boundByKey(score, seq);
    const k = this.k;
    const i = this.i;
    if (this.matches(k, i, score, seq)) throw new GamifyError("INTERNAL", `duplicate index key (${score}, ${seq}).`);
    // Rebuilding renumbers handles but moves no entry, so k/i stay valid.
    if (this.used + 1 > (this.mask + 1) * MAX_LOAD) this.rebuildTable();
    const h = this.claimSlot(userId);
    this.insertAt(k, i, score, seq, h);
    return h;
  }

  /** The handle of `userId`'s entry, or -1 when the user has none. */
  handleOf(userId: string): number {
    const hash = hashId(userId, this.seed);
    const tag = hash | 1;
    const metaInt = this.metaInt;
    const mask = this.mask;
    for (let h = (hash >>> 1) & mask; ; h = (h + 1) & mask) {
      const t = metaInt[4 * h + 3]!;
      if (t === tag) {
        if (this.names[h] === userId) return h;
      } else if (t === EMPTY) return -1;
    }
  }

  /** The user id of the entry with handle `h`. */
  userOf(h: number): string {
    return this.names[h]!;
  }

  /** Removes the entry `(score, seq)`; false when absent. */
  delete(score: number, seq: number): boolean {
    this.boundByKey(score, seq);
    const k = this.k;
    const i = this.i;
    if (!this.matches(k, i, score, seq)) return false;
    this.freeHandle(this.deleteAt(k, i));
    return true;
  }

  /** Removes the entry with handle `h`; the handle becomes invalid. */
  remove(h: number): void {
    this.findHandle(h);
    this.freeHandle(this.deleteAt(this.k, this.i));
  }

  /**
   * Gives the entry with handle `h` a new key; it keeps its handle and user id. The caller stamps a
   * fresh `seq`, so the new key is unique.
   */
  move(h: number, score: number, seq: number): void {
    this.findHandle(h);
    const k = this.k;
    const i = this.i;
    if (this.keyFallsIn(k, score, seq)) {
      // The usual small increment: the entry stays in its block (whose memory is already cached)
      // and only the entries between its old and new place shift.
      this.moveInBlock(k, i, score, seq);
      return;
    }
    this.deleteAt(k, i);
    this.boundByKey(score, seq);
    this.insertAt(this.k, this.i, score, seq, h);
  }

  /** Score of the entry with handle `h`. */
  scoreOf(h: number): number {
    return this.meta[2 * h]!;
  }

  /** 0-based position of `(score, seq)`, or -1 when absent. */
  positionOf(score: number, seq: number): number {
    this.boundByKey(score, seq);
    if (!this.matches(this.k, this.i, score, seq)) return -1;
    return this.prefix(this.sizeTree, this.k) + this.i;
  }

  /** 0-based position of the entry with handle `h`. */
  positionOfHandle(h: number): number {
    this.findHandle(h);
    return this.prefix(this.sizeTree, this.k) + this.i;
  }

  /**
   * 1-based rank of the entry with handle `h`: `ordinal` is its position, `standard` one more than
   * the entries with a higher score, `dense` one more than the distinct higher scores.
   */
  rankOf(h: number, mode: "standard" | "dense" | "ordinal"): number {
    this.findHandle(h);
    const k = this.k;
    const i = this.i;
    if (mode === "ordinal") return this.prefix(this.sizeTree, k) + i + 1;
    if (mode === "dense") {
      // Starts up to and including the entry = distinct scores at or above its own.
      const n = this.sizes[k]!;
      const before = this.prefix(this.startTree, k);
      if (i + 1 <= n - i - 1) return before + this.startsIn(k, 0, i + 1);
      return before + this.starts[k]! - this.startsIn(k, i + 1, n);
    }
    // Standard: the first entry with this score, found by walking back inside the block.
    const keys = this.keys;
    const base = this.phys[k]! * this.stride;
    const score = keys[base + 2 * i]!;
    let j = i;
    while (j > 0 && keys[base + 2 * (j - 1)] === score) j--;
    if (j === 0 && k > 0 && this.lastScore[k - 1] === score) return this.boundByScore(score, false) + 1;
    return this.prefix(this.sizeTree, k) + j + 1;
  }

  /** The entry at a 0-based position, or undefined when out of range. */
  at(pos: number): IndexEntry | undefined {
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.count) return undefined;
    this.locate(pos);
    const p = this.phys[this.k]!;
    const at = p * this.stride + 2 * this.i;
    return { score: this.keys[at]!, seq: this.keys[at + 1]!, userId: this.names[this.handles[p * this.cap + this.i]!]! };
  }

  /** Number of entries with a score strictly greater than `score` (its standard rank minus one). */
  countAbove(score: number): number {
    return this.boundByScore(score, false);
  }

  /** Number of entries with a score greater than or equal to `score`. */
  countAtLeast(score: number): number {
    return this.boundByScore(score, true);
  }

  /** Number of distinct scores strictly greater than `score` (its dense rank minus one). */
  distinctAbove(score: number): number {
    this.boundByScore(score, false);
    const k = this.k;
    const i = this.i;
    const n = this.sizes[k]!;
    const before = this.prefix(this.startTree, k);
    // Scan the shorter side of the block.
    if (i <= n - i) return before + this.startsIn(k, 0, i);
    return before + this.starts[k]! - this.startsIn(k, i, n);
  }

  /**
   * Calls `visit` for the entries at positions `[start, end)` in order, clamped to the index.
   * Walks blocks directly, so a page costs one O(log n) lookup plus its length.
   */
  forEachInRange(start: number, end: number, visit: (userId: string, score: number, seq: number, pos: number) => void): void {
    const from = Math.max(0, start);
    const to = Math.min(this.count, end);
    if (from >= to) return;
    this.locate(from);
    const { keys, handles, names, stride, cap } = this;
    let k = this.k;
    let i = this.i;
    let pos = from;
    while (pos < to) {
      const p = this.phys[k]!;
      const base = p * stride;
      const rowBase = p * cap;
      const stop = Math.min(this.sizes[k]!, i + (to - pos));
      for (; i < stop; i++, pos++) {
        const at = base + 2 * i;
        visit(names[handles[rowBase + i]!]!, keys[at]!, keys[at + 1]!, pos);
      }
      k++;
      i = 0;
    }
  }

  /**
   * The entries at positions `[start, end)` (clamped to the index) with their ranks in `mode`, in
   * order: one O(log n) lookup, then a walk over consecutive blocks (no callback per row). Within
   * a page every score between two neighbours is present, so after the first row ranks follow by
   * counting.
   */
  page(start: number, end: number, mode: "standard" | "dense" | "ordinal"): RankedRow[] {
    const from = Math.max(0, start);
    const to = Math.min(this.count, end);
    const out: RankedRow[] = [];
    if (from >= to) return out;
    this.locate(from);
    let k = this.k;
    let i = this.i;
    const { keys, handles, names, stride, cap } = this;
    let pos = from;
    let rank = 0;
    let prev = NaN;
    if (mode !== "ordinal") {
      // The first row's rank needs a search (which overwrites the k/i fields; the walk uses the copies above).
      const first = keys[this.phys[k]! * stride + 2 * i]!;
      rank = 1 + (mode === "standard" ? this.countAbove(first) : this.distinctAbove(first));
      prev = first;
    }
    while (pos < to) {
      const p = this.phys[k]!;
      const base = p * stride;
      const rowBase = p * cap;
      const stop = Math.min(this.sizes[k]!, i + (to - pos));
      for (; i < stop; i++, pos++) {
        const score = keys[base + 2 * i]!;
        if (mode === "ordinal") rank = pos + 1;
        else if (score !== prev) rank = mode === "standard" ? pos + 1 : rank + 1;
        prev = score;
        out.push({ userId: names[handles[rowBase + i]!]!, score, rank });
      }
      k++;
      i = 0;
    }
    return out;
  }

  /** Throws `INTERNAL` when an internal invariant is broken. For tests; O(n). */
  checkInvariants(): void {
    const fail = (why: string): never => {
      throw new GamifyError("INTERNAL", `ordered index: ${why}`);
    };
    const { keys, cap, stride } = this;
    let total = 0;
    let distinct = 0;
    let prevScore = NaN;
    let prevSeq = NaN;
    const seen = new Set<number>();
    const handlesSeen = new Set<number>();
    for (let k = 0; k < this.nb; k++) {
      const n = this.sizes[k]!;
      const p = this.phys[k]!;
      if (seen.has(p)) fail(`slot ${p} used twice`);
      seen.add(p);
      if (n === 0 && this.nb > 1) fail(`empty block ${k}`);
      if (n >= cap) fail(`overfull block ${k}`);
      if (this.prefix(this.sizeTree, k) !== total) fail(`size prefix at block ${k}`);
      if (this.prefix(this.startTree, k) !== distinct) fail(`start prefix at block ${k}`);
      if (this.blockOfSlot[p] !== k) fail(`slot ${p} maps to block ${this.blockOfSlot[p]}, not ${k}`);
      let starts = 0;
      for (let j = 0; j < n; j++) {
        const s = keys[p * stride + 2 * j]!;
        const q = keys[p * stride + 2 * j + 1]!;
        const h = this.handles[p * cap + j]!;
        if (handlesSeen.has(h)) fail(`handle ${h} used twice`);
        handlesSeen.add(h);
        if (this.meta[2 * h] !== s || Math.floor(this.metaInt[4 * h + 2]! / cap) !== p) fail(`handle ${h} out of date`);
        if (total + j > 0 && !(prevScore > s || (prevScore === s && prevSeq < q))) fail(`order at position ${total + j}`);
        if (s !== prevScore) starts++;
        prevScore = s;
        prevSeq = q;
      }
      if (starts !== this.starts[k]) fail(`start count of block ${k}`);
      if (n > 0 && (this.lastScore[k] !== prevScore || this.lastSeq[k] !== prevSeq)) fail(`last key of block ${k}`);
      total += n;
      distinct += starts;
    }
    if (total !== this.count) fail("size");
    let live = 0;
    let used = 0;
    for (let h = 0; h <= this.mask; h++) {
      const t = this.metaInt[4 * h + 3]!;
      if (t !== EMPTY) used++;
      if (t === EMPTY || t === FREED) {
        if (this.names[h] !== "") fail(`free slot ${h} keeps an id`);
        continue;
      }
      live++;
      if (!handlesSeen.has(h)) fail(`slot ${h} is not in any block`);
      if (t !== (hashId(this.names[h]!, this.seed) | 1)) fail(`slot ${h} has a stale tag`);
      if (this.handleOf(this.names[h]!) !== h) fail(`user of slot ${h} is not found there`);
    }
    if (live !== this.count) fail("handles leaked");
    if (used !== this.used || used > (this.mask + 1) * MAX_LOAD) fail("table load");
  }

  // ---- search -------------------------------------------------------------------------------

  private matches(k: number, i: number, score: number, seq: number): boolean {
    if (i >= this.sizes[k]!) return false;
    const at = this.phys[k]! * this.stride + 2 * i;
    return this.keys[at] === score && this.keys[at + 1] === seq;
  }

  /**
   * Sets `k`/`i` to the entry with handle `h`: its block from the handle, its offset by looking
   * outwards from where it was last seen.
   */
  private findHandle(h: number): void {
    const metaInt = this.metaInt;
    const cap = this.cap;
    const seen = metaInt[4 * h + 2]!;
    const p = (seen / cap) | 0;
    const k = this.blockOfSlot[p]!;
    const handles = this.handles;
    const start = p * cap;
    const n = this.sizes[k]!;
    const hint = seen - start;
    let i = -1;
    // The read's address does not wait for sizes[k] (only the predicted branch does), so the two
    // loads overlap. A stale hint may point past the block's end, still inside its slot.
    if (hint < n && handles[start + hint] === h) i = hint;
    else {
      const near = Math.min(hint, n - 1);
      for (let d = 0; d < n; d++) {
        if (near - d >= 0 && handles[start + near - d] === h) {
          i = near - d;
          break;
        }
        if (near + d < n && handles[start + near + d] === h) {
          i = near + d;
          break;
        }
      }
      if (i < 0) throw new GamifyError("INTERNAL", `ordered index: unknown handle ${h}.`);
      metaInt[4 * h + 2] = start + i;
    }
    this.k = k;
    this.i = i;
  }

  /** Whether a search for `(score, seq)` would land in block `k` (see boundByKey). */
  private keyFallsIn(k: number, score: number, seq: number): boolean {
    if (k > 0) {
      const s = this.lastScore[k - 1]!;
      if (!(s > score || (s === score && this.lastSeq[k - 1]! < seq))) return false;
    }
    if (k < this.nb - 1) {
      const s = this.lastScore[k]!;
      if (s > score || (s === score && this.lastSeq[k]! < seq)) return false;
    }
    return true;
  }

  /** Sets `k`/`i` to the first entry of block `k` not ordered before `(score, seq)`. */
  private boundInBlock(k: number, score: number, seq: number): void {
    const keys = this.keys;
    const base = this.phys[k]! * this.stride;
    let a = 0;
    let b = this.sizes[k]!;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const s = keys[base + 2 * mid]!;
      if (s > score || (s === score && keys[base + 2 * mid + 1]! < seq)) a = mid + 1;
      else b = mid;
    }
    this.k = k;
    this.i = a;
  }

  /** Sum of `tree` over blocks `[0, k)`. */
  private prefix(tree: Int32Array, k: number): number {
    let sum = 0;
    for (let x = k; x > 0; x -= x & -x) sum += tree[x]!;
    return sum;
  }

  /** Sets `k`/`i` to the block and offset holding position `pos` (0 <= pos < count). */
  private locate(pos: number): void {
    const tree = this.sizeTree;
    const nb = this.nb;
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
   * after every entry ranked above it, and returns its position (`count` when there is none).
   */
  private boundByScore(score: number, strict: boolean): number {
    const last = this.lastScore;
    const nb = this.nb;
    let lo = 0;
    let hi = nb;
    // Blocks before the first one whose lowest score passes lie wholly above.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = last[mid]!;
      if (strict ? s >= score : s > score) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nb) {
      this.k = nb - 1;
      this.i = this.sizes[nb - 1]!;
      return this.count;
    }
    const keys = this.keys;
    const base = this.phys[lo]! * this.stride;
    let a = 0;
    let b = this.sizes[lo]!;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const s = keys[base + 2 * mid]!;
      if (strict ? s >= score : s > score) a = mid + 1;
      else b = mid;
    }
    this.k = lo;
    this.i = a;
    return this.prefix(this.sizeTree, lo) + a;
  }

  /** Sets `k`/`i` to the first entry not ordered before `(score, seq)`; the end of the last block when none. */
  private boundByKey(score: number, seq: number): void {
    const lastS = this.lastScore;
    const lastQ = this.lastSeq;
    let lo = 0;
    let hi = this.nb - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = lastS[mid]!;
      if (s > score || (s === score && lastQ[mid]! < seq)) lo = mid + 1;
      else hi = mid;
    }
    this.boundInBlock(lo, score, seq);
  }

  /** Score starts among offsets `[from, to)` of block `k`. */
  private startsIn(k: number, from: number, to: number): number {
    const keys = this.keys;
    const base = this.phys[k]! * this.stride;
    let prev = from > 0 ? keys[base + 2 * (from - 1)]! : k > 0 ? this.lastScore[k - 1]! : NaN;
    let starts = 0;
    for (let j = from; j < to; j++) {
      const s = keys[base + 2 * j]!;
      if (s !== prev) starts++;
      prev = s;
    }
    return starts;
  }

  // ---- updates ------------------------------------------------------------------------------

  /** Score of the entry before offset `i` of block `k`, or NaN at the very start (NaN equals nothing). */
  private scoreBefore(k: number, i: number): number {
    if (i > 0) return this.keys[this.phys[k]! * this.stride + 2 * (i - 1)]!;
    return k > 0 ? this.lastScore[k - 1]! : NaN;
  }

  /** Moves the entry at offset `i` of block `k` to its place in the same block for a new key. */
  private moveInBlock(k: number, i: number, score: number, seq: number): void {
    const { keys, handles } = this;
    const p = this.phys[k]!;
    const base = p * this.stride;
    const rowBase = p * this.cap;
    const n = this.sizes[k]!;
    // Walk from the old place rather than search the block: a small change moves few places, and
    // the walk reads memory next to what findHandle just touched.
    let j = i;
    const old = keys[base + 2 * i]!;
    if (score > old || (score === old && seq < keys[base + 2 * i + 1]!)) {
      for (; j > 0; j--) {
        const s = keys[base + 2 * (j - 1)]!;
        if (s > score || (s === score && keys[base + 2 * (j - 1) + 1]! < seq)) break;
      }
    } else {
      for (; j < n - 1; j++) {
        const s = keys[base + 2 * (j + 1)]!;
        if (s < score || (s === score && keys[base + 2 * (j + 1) + 1]! > seq)) break;
      }
    }
    const lo = Math.min(i, j);
    const hi = Math.max(i, j);
    // Only start flags in [lo, hi + 1] and the next block's first one can change.
    const end = Math.min(n, hi + 2);
    const before = this.startsIn(k, lo, end);
    const lastAt = base + 2 * (n - 1);
    const hasNext = hi === n - 1 && k + 1 < this.nb;
    const nextFirst = hasNext ? keys[this.phys[k + 1]! * this.stride]! : 0;
    const nextBefore = hasNext && nextFirst !== keys[lastAt] ? 1 : 0;

    const h = handles[rowBase + i]!;
    // Shift the entries in between by one place. A small change moves a few places, where a loop
    // beats copyWithin's call (about 40 ns for the two).
    if (j < i) {
      if (i - j <= SHORT_SHIFT) {
        for (let x = base + 2 * i + 1, stop = base + 2 * j + 2; x >= stop; x--) keys[x] = keys[x - 2]!;
        for (let x = rowBase + i; x > rowBase + j; x--) handles[x] = handles[x - 1]!;
      } else {
        keys.copyWithin(base + 2 * (j + 1), base + 2 * j, base + 2 * i);
        handles.copyWithin(rowBase + j + 1, rowBase + j, rowBase + i);
      }
    } else if (j > i) {
      if (j - i <= SHORT_SHIFT) {
        for (let x = base + 2 * i, stop = base + 2 * j; x < stop; x++) keys[x] = keys[x + 2]!;
        for (let x = rowBase + i; x < rowBase + j; x++) handles[x] = handles[x + 1]!;
      } else {
        keys.copyWithin(base + 2 * i, base + 2 * (i + 1), base + 2 * (j + 1));
        handles.copyWithin(rowBase + i, rowBase + i + 1, rowBase + j + 1);
      }
    }
    const at = base + 2 * j;
    keys[at] = score;
    keys[at + 1] = seq;
    handles[rowBase + j] = h;
    this.meta[2 * h] = score;
    this.metaInt[4 * h + 2] = rowBase + j;
    if (hi === n - 1) {
      this.lastScore[k] = keys[lastAt]!;
      this.lastSeq[k] = keys[lastAt + 1]!;
    }

    const delta = this.startsIn(k, lo, end) - before;
    if (delta !== 0) {
      this.starts[k] = this.starts[k]! + delta;
      this.add(this.startTree, k, delta);
    }
    if (hasNext) {
      const nextDelta = (nextFirst !== keys[lastAt] ? 1 : 0) - nextBefore;
      if (nextDelta !== 0) {
        this.starts[k + 1] = this.starts[k + 1]! + nextDelta;
        this.add(this.startTree, k + 1, nextDelta);
      }
    }
  }

  private insertAt(k: number, i: number, score: number, seq: number, h: number): void {
    const { keys, handles } = this;
    const p = this.phys[k]!;
    const base = p * this.stride;
    const rowBase = p * this.cap;
    const n = this.sizes[k]!;

    // Only the new entry's start flag and its successor's can change.
    const prev = this.scoreBefore(k, i);
    const startHere = score !== prev ? 1 : 0;
    // The successor, if any, is in this block: boundByKey only returns the end of the last block.
    let nextDelta = 0;
    if (i < n) {
      const next = keys[base + 2 * i]!;
      nextDelta = (next !== score ? 1 : 0) - (next !== prev ? 1 : 0);
      keys.copyWithin(base + 2 * (i + 1), base + 2 * i, base + 2 * n);
      handles.copyWithin(rowBase + i + 1, rowBase + i, rowBase + n);
    } else {
      this.lastScore[k] = score;
      this.lastSeq[k] = seq;
    }
    const at = base + 2 * i;
    keys[at] = score;
    keys[at + 1] = seq;
    handles[rowBase + i] = h;
    this.meta[2 * h] = score;
    this.metaInt[4 * h + 2] = rowBase + i;
    this.sizes[k] = n + 1;
    this.starts[k] = this.starts[k]! + startHere + nextDelta;
    this.count++;

    if (n + 1 === this.cap) {
      this.split(k);
      return;
    }
    this.add(this.sizeTree, k, 1);
    if (startHere + nextDelta !== 0) this.add(this.startTree, k, startHere + nextDelta);
  }

  /** Removes the entry at offset `i` of block `k` and returns its handle (not yet freed). */
  private deleteAt(k: number, i: number): number {
    const { keys, handles, cap } = this;
    const p = this.phys[k]!;
    const base = p * this.stride;
    const rowBase = p * cap;
    const n = this.sizes[k]!;
    const score = keys[base + 2 * i]!;
    const h = handles[rowBase + i]!;

    const prev = this.scoreBefore(k, i);
    const startHere = score !== prev ? 1 : 0;
    let nextK = -1;
    let nextDelta = 0;
    if (i + 1 < n) {
      nextK = k;
      const next = keys[base + 2 * (i + 1)]!;
      nextDelta = (next !== prev ? 1 : 0) - (next !== score ? 1 : 0);
    } else if (k + 1 < this.nb) {
      nextK = k + 1;
      const next = keys[this.phys[k + 1]! * this.stride]!;
      nextDelta = (next !== prev ? 1 : 0) - (next !== score ? 1 : 0);
    }

    const m = n - 1;
    if (i < m) {
      keys.copyWithin(base + 2 * i, base + 2 * (i + 1), base + 2 * n);
      handles.copyWithin(rowBase + i, rowBase + i + 1, rowBase + n);
    } else if (m > 0) {
      this.lastScore[k] = keys[base + 2 * (m - 1)]!;
      this.lastSeq[k] = keys[base + 2 * (m - 1) + 1]!;
    }
    this.sizes[k] = m;
    this.starts[k] = this.starts[k]! - startHere;
    if (nextK >= 0) this.starts[nextK] = this.starts[nextK]! + nextDelta;
    this.count--;

    if (m < cap >> 2 && this.nb > 1) {
      if (m === 0) {
        this.removeBlock(k);
        return h;
      }
      // Merge only into a block that keeps half its room, so the next inserts do not split it again.
      const left = k > 0 ? this.sizes[k - 1]! : Infinity;
      const right = k + 1 < this.nb ? this.sizes[k + 1]! : Infinity;
      if (Math.min(left, right) + m <= cap >> 1) {
        this.merge(left <= right ? k - 1 : k);
        return h;
      }
    }
    this.add(this.sizeTree, k, -1);
    if (startHere !== 0) this.add(this.startTree, k, -startHere);
    if (nextDelta !== 0) this.add(this.startTree, nextK, nextDelta);
    return h;
  }

  private add(tree: Int32Array, k: number, delta: number): void {
    for (let x = k + 1, nb = this.nb; x <= nb; x += x & -x) tree[x] = tree[x]! + delta;
  }

  /** Moves the upper half of full block `k` into a new block after it. */
  private split(k: number): void {
    const slot = this.allocSlot();
    // allocSlot may have replaced the arena: read the arrays after it.
    const { keys, handles, metaInt, stride, cap } = this;
    const p = this.phys[k]!;
    const n = this.sizes[k]!;
    const h = n >> 1;
    const from = p * stride;
    const to = slot * stride;
    keys.copyWithin(to, from + 2 * h, from + 2 * n);
    handles.copyWithin(slot * cap, p * cap + h, p * cap + n);
    for (let j = h; j < n; j++) {
      const moved = handles[p * cap + j]!;
      metaInt[4 * moved + 2] = slot * cap + j - h;
    }
    const leftStarts = this.startsIn(k, 0, h);

    this.openBlock(k + 1);
    this.phys[k + 1] = slot;
    this.sizes[k + 1] = n - h;
    this.starts[k + 1] = this.starts[k]! - leftStarts;
    this.lastScore[k + 1] = this.lastScore[k]!;
    this.lastSeq[k + 1] = this.lastSeq[k]!;
    this.sizes[k] = h;
    this.starts[k] = leftStarts;
    this.lastScore[k] = keys[from + 2 * (h - 1)]!;
    this.lastSeq[k] = keys[from + 2 * (h - 1) + 1]!;
    this.rebuild();
  }

  /** Appends block `k + 1` to block `k` and removes it. */
  private merge(k: number): void {
    const { keys, handles, metaInt, stride, cap } = this;
    const to = this.phys[k]!;
    const from = this.phys[k + 1]!;
    const n = this.sizes[k]!;
    const m = this.sizes[k + 1]!;
    keys.copyWithin(to * stride + 2 * n, from * stride, from * stride + 2 * m);
    handles.copyWithin(to * cap + n, from * cap, from * cap + m);
    for (let j = 0; j < m; j++) {
      const moved = handles[from * cap + j]!;
      metaInt[4 * moved + 2] = to * cap + n + j;
    }
    this.sizes[k] = n + m;
    this.starts[k] = this.starts[k]! + this.starts[k + 1]!;
    this.lastScore[k] = this.lastScore[k + 1]!;
    this.lastSeq[k] = this.lastSeq[k + 1]!;
    this.removeBlock(k + 1);
  }

  /** Drops block `k` from the list (it is empty, or was merged into its predecessor). */
  private removeBlock(k: number): void {
    this.freeSlotList.push(this.phys[k]!);
    const nb = this.nb;
    for (const a of [this.phys, this.sizes, this.starts]) a.copyWithin(k, k + 1, nb);
    this.lastScore.copyWithin(k, k + 1, nb);
    this.lastSeq.copyWithin(k, k + 1, nb);
    this.nb = nb - 1;
    this.rebuild();
  }

  /** Makes room for a block at list index `k`. */
  private openBlock(k: number): void {
    const nb = this.nb;
    if (nb === this.phys.length) {
      this.phys = grownInts(this.phys);
      this.sizes = grownInts(this.sizes);
      this.starts = grownInts(this.starts);
      this.lastScore = grownFloats(this.lastScore);
      this.lastSeq = grownFloats(this.lastSeq);
      this.sizeTree = new Int32Array(this.phys.length + 1);
      this.startTree = new Int32Array(this.phys.length + 1);
    }
    for (const a of [this.phys, this.sizes, this.starts]) a.copyWithin(k + 1, k, nb);
    this.lastScore.copyWithin(k + 1, k, nb);
    this.lastSeq.copyWithin(k + 1, k, nb);
    this.nb = nb + 1;
  }

  /** A free arena slot, growing the arena (doubling) when none is left. */
  private allocSlot(): number {
    const reused = this.freeSlotList.pop();
    if (reused !== undefined) return reused;
    const capacity = this.keys.length / this.stride;
    if (this.slots === capacity) {
      // Arena places are stored as int32 in the user table.
      if (2 * capacity * this.cap > 2 ** 31) throw new GamifyError("OUT_OF_RANGE", "A memory leaderboard board holds fewer than 2^31 entries; use a database-backed store for boards this large.");
      this.keys = grownFloats(this.keys);
      this.handles = grownInts(this.handles);
      this.blockOfSlot = grownInts(this.blockOfSlot);
    }
    return this.slots++;
  }

  /** Rebuilds both Fenwick trees in O(blocks); only after a split, merge or removal. */
  private rebuild(): void {
    const nb = this.nb;
    const st = this.sizeTree;
    const dt = this.startTree;
    st.fill(0, 0, nb + 1);
    dt.fill(0, 0, nb + 1);
    for (let x = 1; x <= nb; x++) {
      st[x] = st[x]! + this.sizes[x - 1]!;
      dt[x] = dt[x]! + this.starts[x - 1]!;
      const up = x + (x & -x);
      if (up <= nb) {
        st[up] = st[up]! + st[x]!;
        dt[up] = dt[up]! + dt[x]!;
      }
    }
    let top = 1;
    while (top * 2 <= nb) top *= 2;
    this.topBit = top;
    for (let k = 0; k < nb; k++) this.blockOfSlot[this.phys[k]!] = k;
  }

  /** Frees a handle's slot (a tombstone, so probes pass it), dropping its id so the string can be collected. */
  private freeHandle(h: number): void {
    this.metaInt[4 * h + 3] = FREED;
    this.names[h] = "";
  }

  /**
   * Claims a table slot for a user who has none (the caller made room); throws `INTERNAL` when the
   * user is present. Reuses the first freed slot on the probe path.
   */
  private claimSlot(userId: string): number {
    const hash = hashId(userId, this.seed);
    const tag = hash | 1;
    const metaInt = this.metaInt;
    const mask = this.mask;
    let free = -1;
    let h = (hash >>> 1) & mask;
    for (; ; h = (h + 1) & mask) {
      const t = metaInt[4 * h + 3]!;
      if (t === EMPTY) break;
      if (t === tag && this.names[h] === userId) throw new GamifyError("INTERNAL", `ordered index: user ${userId} is already present.`);
      if (t === FREED && free < 0) free = h;
    }
    if (free >= 0) h = free;
    else this.used++;
    metaInt[4 * h + 3] = tag;
    this.names[h] = userId;
    return h;
  }

  /**
   * Re-inserts every entry into a fresh table, twice as large when more than half of it would be
   * live, else the same size without the freed slots; O(n). Entries stay where they are in the
   * blocks; their handles there are renumbered.
   */
  private rebuildTable(): void {
    const size = this.mask + 1;
    const next = this.count + 1 > size >>> 1 ? size * 2 : size;
    const mask = next - 1;
    const meta = new Float64Array(2 * next);
    const metaInt = new Int32Array(meta.buffer);
    const names = emptyNames(next);
    const { keys, handles, stride, cap, metaInt: oldMetaInt, names: oldNames } = this;
    for (let k = 0; k < this.nb; k++) {
      const p = this.phys[k]!;
      for (let j = 0, n = this.sizes[k]!; j < n; j++) {
        const at = p * stride + 2 * j;
        const old = handles[p * cap + j]!;
        const tag = oldMetaInt[4 * old + 3]!;
        let h = (tag >>> 1) & mask;
        while (metaInt[4 * h + 3] !== EMPTY) h = (h + 1) & mask;
        meta[2 * h] = keys[at]!;
        metaInt[4 * h + 2] = p * cap + j;
        metaInt[4 * h + 3] = tag;
        names[h] = oldNames[old]!;
        handles[p * cap + j] = h;
      }
    }
    this.meta = meta;
    this.metaInt = metaInt;
    this.names = names;
    this.mask = mask;
    this.used = this.count;
  }
}
