/**
 * Shared measuring helpers: a closed-loop driver with a fixed number of operations in flight,
 * latency percentiles, and alternating rounds so a subject and its floor see the same machine.
 */

/** Latency percentiles in milliseconds. */
export interface Latencies {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** What one driven run measured. */
export interface Measured {
  /** Completed operations per second. */
  readonly rate: number;
  /** Per-operation time from the call to its settling, in milliseconds. */
  readonly latency: Latencies;
}

/** The value at percentile `p` (0-100) of ascending `sorted` values (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** p50, p95 and p99 of unsorted samples. */
export function latencies(samples: readonly number[]): Latencies {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

/** The middle value (the upper one of an even count). */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Runs `total` calls of `op`, keeping `inFlight` of them outstanding (closed loop: a new call
 * starts when one settles). `op` gets a running index, so callers can spread keys.
 */
export async function drive(total: number, inFlight: number, op: (i: number) => Promise<unknown>, samples: number[] = []): Promise<Measured> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const start = performance.now();
      await op(i);
      samples.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { rate: total / seconds, latency: latencies(samples) };
}

/** A subject and its floor measured in alternating rounds. */
export interface Compared {
  readonly subject: Measured;
  readonly floor: Measured;
}

/**
 * Alternates subject and floor `rounds` times (A B A B …), so load from other processes on a
 * shared machine hits both alike. Rates are the median round; latencies pool every round.
 */
export async function compare(
  rounds: number,
  total: number,
  inFlight: number,
  subject: (i: number) => Promise<unknown>,
  floor: (i: number) => Promise<unknown>,
): Promise<Compared> {
  const runs = { subject: { rates: [] as number[], samples: [] as number[] }, floor: { rates: [] as number[], samples: [] as number[] } };
  // Offsets keep keys moving across rounds (fresh users are not all created in round one).
  for (let r = 0; r < rounds; r++) {
    runs.subject.rates.push((await drive(total, inFlight, (i) => subject(i + r * total), runs.subject.samples)).rate);
    runs.floor.rates.push((await drive(total, inFlight, (i) => floor(i + r * total), runs.floor.samples)).rate);
  }
  const summarise = (run: { rates: number[]; samples: number[] }): Measured => ({ rate: median(run.rates), latency: latencies(run.samples) });
  return { subject: summarise(runs.subject), floor: summarise(runs.floor) };
}
