import { ClientError, errorFromResponse } from "./errors.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Where the API lives, including any mount prefix: `https://gamify.example.com` or `http://localhost:3000/api`. */
  readonly baseUrl: string;
  /** An API key (sent as `X-API-Key`). */
  readonly apiKey?: string;
  /** A JWT, or a function returning a fresh one per request (sent as `Authorization: Bearer`). */
  readonly token?: string | (() => string | Promise<string>);
  /** The fetch to use; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Retries after the first attempt (429, 503, network errors; see the README). Default 2; 0 disables. */
  readonly retries?: number;
  /** Per-attempt timeout in milliseconds. Default 10 000. */
  readonly timeoutMs?: number;
  /** Longest single wait before a retry, in milliseconds; a `Retry-After` asking for more fails at once. Default 30 000. */
  readonly maxRetryDelayMs?: number;
  /** Extra headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Per-call options every method accepts. */
export interface CallOptions {
  /** Cancels the call (and its retries). */
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  readonly timeoutMs?: number;
  /** Overrides the client's `retries` for this call. */
  readonly retries?: number;
}

/** One HTTP exchange the client performs. */
export interface RequestSpec extends CallOptions {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path after the base URL, already with its parameters, e.g. `/v1/users/alice`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Safe to repeat after a lost answer: GET/PUT/DELETE, and awards carrying an Idempotency-Key. */
  readonly idempotent: boolean;
}

const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;

/** Encodes one path segment. */
export const seg = (value: string): string => encodeURIComponent(value);

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The HTTP layer of the client: auth headers, timeouts, retries with jittered backoff. */
export class Transport {
  readonly baseUrl: string;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly maxRetryDelayMs: number;
  /** The fetch in use (the option, or the global one). */
  readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    if (typeof options?.baseUrl !== "string" || !/^https?:\/\//.test(options.baseUrl)) {
      throw new TypeError(`createClient needs baseUrl, an http(s) URL such as "http://localhost:3000"; got ${JSON.stringify(options?.baseUrl)}.`);
    }
    if (options.apiKey !== undefined && options.token !== undefined) throw new TypeError("createClient takes apiKey or token, not both.");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.retries = options.retries ?? 2;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("No fetch available: pass `fetch` to createClient.");
    this.fetch = (input, init) => f(input, init);
    if (!Number.isInteger(this.retries) || this.retries < 0) throw new TypeError(`retries must be an integer >= 0; got ${String(options.retries)}.`);
  }

  /** The URL of a path with its query. */
  url(path: string, query?: RequestSpec["query"]): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
    const search = params.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ""}`;
  }

  /** Headers every request carries: credentials and the configured extras. */
  async headers(extra?: Readonly<Record<string, string>>): Promise<Headers> {
    const headers = new Headers(this.options.headers);
    if (this.options.apiKey !== undefined) headers.set("x-api-key", this.options.apiKey);
    if (this.options.token !== undefined) {
      const token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
      headers.set("authorization", `Bearer ${token}`);
    }
    for (const [key, value] of Object.entries(extra ?? {})) headers.set(key, value);
    return headers;
  }

  /** Delay before retry number `attempt` (0-based) without a Retry-After: exponential, half jittered. */
  backoff(attempt: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** attempt);
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /**
   * Sends the request, retrying 429 always, 503 and network errors only when `idempotent`, at
   * most `retries` times. Resolves with a 2xx response; throws {@link ClientError} otherwise, or
   * the caller's abort reason when `signal` aborts.
   */
  async send(spec: RequestSpec, accept = "application/json"): Promise<Response> {
    const headers = await this.headers(spec.headers);
    headers.set("accept", accept);
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(spec.body);
    }
    const url = this.url(spec.path, spec.query);
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;
    const retries = spec.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
      let response: Response;
      try {
        response = await this.fetch(url, { method: spec.method, headers, ...(body === undefined ? {} : { body }), signal });
      } catch (cause) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        const error = timeout.aborted
          ? new ClientError("TIMEOUT", 0, `No answer from ${spec.method} ${url} within ${timeoutMs} ms.`, { cause })
          : new ClientError("NETWORK_ERROR", 0, `${spec.method} ${url} failed before an answer: ${(cause as Error)?.message ?? String(cause)}.`, { cause });
        if (!spec.idempotent || attempt >= retries) throw error;
        await sleep(this.backoff(attempt), spec.signal);
        continue;
      }
      if (response.ok) return response;
      const error = await errorFromResponse(response);
      const retryable = response.status === 429 || (response.status === 503 && spec.idempotent);
      if (retryable && attempt < retries) {
        const wait = error.retryAfterSeconds === undefined ? this.backoff(attempt) : error.retryAfterSeconds * 1000 + Math.round(Math.random() * 250);
        if (wait <= this.maxRetryDelayMs) {
          await sleep(wait, spec.signal);
          continue;
        }
      }
      throw error;
    }
  }

  /** {@link send}, then the JSON body (undefined for 204). */
  async json<T>(spec: RequestSpec): Promise<T> {
    const response = await this.send(spec);
    if (response.status === 204) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch (cause) {
      // The attempt's timeout also bounds reading the body.
      if (spec.signal?.aborted) throw spec.signal.reason;
      const timedOut = (cause as Error)?.name === "TimeoutError" || (cause as Error)?.name === "AbortError";
      throw timedOut
        ? new ClientError("TIMEOUT", 0, `The answer to ${spec.method} ${spec.path} did not arrive in full within ${spec.timeoutMs ?? this.timeoutMs} ms.`, { cause })
        : new ClientError("INTERNAL", response.status, `The answer to ${spec.method} ${spec.path} is not valid JSON.`, { cause });
    }
  }
}
