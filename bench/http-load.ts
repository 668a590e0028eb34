/**
 * The HTTP load generator, run as its own process (bench/http.ts forks it) so it never shares the
 * server's event loop. Two jobs:
 *
 * - `max`: autocannon, closed loop (each connection sends its next request when the previous one
 *   answered), for the highest sustained throughput.
 * - `fixed`: an open-loop, wrk2-style schedule: request k is due at start + k/rate whatever
 *   happened before it. A timer releases the requests due since its last tick; a released request
 *   goes out on a free connection or waits in a queue for one, and its latency runs from its
 *   release to the end of its response. A slow response therefore counts against every request
 *   queued behind it (no coordinated omission). The timer's own lateness (release minus due time)
 *   is reported apart as the send lag, the generator's health, rather than charged to the server.
 *   autocannon's `overallRate` is not used for this: it lets each connection send its per-second
 *   quota back to back at the start of every second, so the server sees bursts at full speed
 *   rather than a fixed rate.
 */
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { latencies, type Latencies } from "./stats.js";

/** A request shape: `{user}` in the path is replaced by `user-<n>`, n cycling below `users`. */
export interface Target {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly users: number;
}

export type LoadJob =
  | { readonly kind: "max"; readonly target: Target; readonly connections: number; readonly seconds: number }
  | { readonly kind: "fixed"; readonly target: Target; readonly rate: number; readonly connections: number; readonly seconds: number };

export interface MaxResult {
  readonly kind: "max";
  /** 2xx responses per second. */
  readonly rate: number;
  readonly non2xx: number;
  readonly errors: number;
}

export interface FixedResult {
  readonly kind: "fixed";
  readonly rate: number;
  /** Requests scheduled after the warm-up, and how many answered 2xx. */
  readonly scheduled: number;
  readonly ok: number;
  readonly non2xx: number;
  /**
   * Requests still unanswered 10 s after the schedule ended (the server fell behind): they count
   * in the latencies with their wait so far, so the percentiles are then lower bounds.
   */
  readonly unanswered: number;
  /** From the request's release (its scheduled tick) to the end of the response, waiting for a free connection included, in ms. */
  readonly latency: Latencies;
  /** How late the generator's timer released requests (due time to release), p99 in ms: its own health. */
  readonly sendLagP99: number | null;
}

type Autocannon = (options: Record<string, unknown>) => Promise<{ "2xx": number; non2xx: number; errors: number; timeouts: number; duration: number }>;

const pathOf = (target: Target, i: number) => target.path.replace("{user}", `user-${i % target.users}`);

async function runMax(job: Extract<LoadJob, { kind: "max" }>): Promise<MaxResult> {
  // autocannon ships no types; this is the slice of its API used here.
  const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;
  let i = 0;
  const result = await autocannon({
    url: job.target.url,
    connections: job.connections,
    duration: job.seconds,
    method: job.target.method,
    headers: { ...job.target.headers, ...(job.target.body === undefined ? {} : { "content-type": "application/json" }) },
    ...(job.target.body === undefined ? {} : { body: job.target.body }),
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, path: pathOf(job.target, i++) }) }],
  });
  return { kind: "max", rate: result["2xx"] / result.duration, non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

/** One keep-alive connection with at most one request outstanding and a small response parser. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private onDone: ((status: number) => void) | undefined;
  readonly socket: Socket;

  constructor(host: string, port: number, onError: (error: Error) => void) {
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    this.socket.on("error", onError);
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
  }

  send(request: Buffer, done: (status: number) => void): void {
    this.onDone = done;
    this.socket.write(request);
  }

  /** Consumes one complete response (Content-Length or chunked) when the buffer holds it. */
  private parse(): void {
    const headEnd = this.buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = this.buffer.subarray(0, headEnd).toString("latin1");
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let end: number;
    if (length) {
      end = headEnd + 4 + Number(length[1]);
      if (this.buffer.length < end) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      let at = headEnd + 4;
      for (;;) {
        const lineEnd = this.buffer.indexOf("\r\n", at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.subarray(at, lineEnd).toString("latin1"), 16);
        at = lineEnd + 2 + size + 2;
        if (this.buffer.length < at) return;
        if (size === 0) break;
      }
      end = at;
    } else {
      end = headEnd + 4; // no body (e.g. 204)
    }
    this.buffer = this.buffer.subarray(end);
    const done = this.onDone;
    this.onDone = undefined;
    done?.(status);
  }
}

async function runFixed(job: Extract<LoadJob, { kind: "fixed" }>): Promise<FixedResult> {
  const { target, rate, seconds } = job;
  const url = new URL(target.url);
  const host = url.hostname;
  const port = Number(url.port);
  const request = (i: number): Buffer => {
    const body = target.body ?? "";
    const extra = Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const type = target.body === undefined ? "" : "content-type: application/json\r\n";
    return Buffer.from(`${target.method} ${pathOf(target, i)} HTTP/1.1\r\nhost: ${url.host}\r\n${type}${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  let failure: Error | undefined;
  const connections = Array.from({ length: job.connections }, () => new Connection(host, port, (e) => (failure ??= e)));
  await Promise.all(connections.map((c) => c.ready()));

  const warmup = Math.round(rate * Math.min(1, seconds / 4));
  const count = warmup + Math.round(rate * seconds);
  const interval = 1000 / rate;
  const samples: number[] = [];
  const lags: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let answered = 0;
  let unanswered = 0;
  /** When each request left the schedule (its tick), by index: latency runs from here. */
  const released = new Map<number, number>();
  const idle = [...connections];
  const backlog: number[] = [];
  const start = performance.now() + 5;

  const issue = (k: number, c: Connection): void => {
    c.send(request(k), (status) => {
      const from = released.get(k) as number;
      released.delete(k);
      answered++;
      if (k >= warmup) {
        samples.push(performance.now() - from);
        if (status >= 200 && status < 300) ok++;
        else non2xx++;
      }
      const queued = backlog.shift();
      if (queued === undefined) idle.push(c);
      else issue(queued, c);
    });
  };

  await new Promise<void>((resolve, reject) => {
    let next = 0;
    const deadline = start + count * interval + 10_000;
    // Timers, not a busy loop: the generator must not take the CPU the server needs. Requests
    // due since the last tick leave together; how late the tick was is the send lag, reported
    // apart, and is not counted against the server.
    const tick = (): void => {
      if (failure) return reject(failure);
      const now = performance.now();
      while (next < count && start + next * interval <= now) {
        if (next >= warmup) lags.push(now - (start + next * interval));
        released.set(next, now);
        const c = idle.pop();
        if (c) issue(next, c);
        else backlog.push(next); // waiting for a connection is the server's doing: it counts
        next++;
      }
      if (answered === count) return resolve();
      if (now > deadline) {
        for (const [k, from] of released) {
          if (k < warmup) continue;
          samples.push(now - from);
          unanswered++;
        }
        return resolve();
      }
      setTimeout(tick, next < count ? Math.max(0, start + next * interval - performance.now()) : 5);
    };
    tick();
  });
  for (const c of connections) c.socket.destroy();
  return { kind: "fixed", rate, scheduled: count - warmup, ok, non2xx, unanswered, latency: latencies(samples), sendLagP99: lags.length === 0 ? null : latencies(lags).p99 };
}

// As a child process: run each job sent over IPC and answer with its result.
if (process.send) {
  process.on("message", (job: LoadJob) => {
    (job.kind === "max" ? runMax(job) : runFixed(job)).then(
      (result) => process.send?.({ ok: true, result }),
      (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
}
