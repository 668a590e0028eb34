import { GamifyError } from "@gamifykit/core";
import { collectDefaultMetrics, Counter, Histogram, Registry, type Metric } from "prom-client";
import type { MetricsOptions } from "./types.js";

/** Labels on every request metric. `route` is the template, so cardinality stays bounded. */
export type RequestLabels = "method" | "route" | "status";

/** Request metrics for one handler. */
export interface HttpMetrics {
  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void;
  /** The Prometheus exposition of the registry, for GET /metrics. */
  response(): Promise<Response>;
}

const REQUESTS = "gamifykit_http_requests_total";
const DURATION = "gamifykit_http_request_duration_seconds";
// Covers a cached read (~1 ms) to a slow storage round trip (several seconds).
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// collectDefaultMetrics throws when run twice on one registry; several handlers may share one.
const withDefaults = new WeakSet<Registry>();

/**
 * Builds request metrics in a registry of their own, or in the one passed (then shared with the
 * host's metrics; a second handler on the same registry reuses the same counters).
 */
export function createMetrics(options: MetricsOptions | false | undefined): HttpMetrics {
  if (options === false) {
    return {
      observe: () => undefined,
      response: async () => {
        throw new GamifyError("NOT_FOUND", "Metrics are turned off (metrics: false); pass metrics: {} to expose them.");
      },
    };
  }
  const registry = options?.registry ?? new Registry();
  const requests = reuse(registry, REQUESTS, Counter, () => new Counter({
    name: REQUESTS,
    help: "HTTP requests answered, by method, route template and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  }));
  const duration = reuse(registry, DURATION, Histogram, () => new Histogram({
    name: DURATION,
    help: "Time from request start to the response headers, by method, route template and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: BUCKETS,
    registers: [registry],
  }));
  if (options?.defaultMetrics && !withDefaults.has(registry)) {
    withDefaults.add(registry);
    collectDefaultMetrics({ register: registry });
  }
  return {
    observe(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    async response() {
      return new Response(await registry.metrics(), { status: 200, headers: { "Content-Type": registry.contentType } });
    },
  };
}

function reuse<M extends Metric<RequestLabels>>(
  registry: Registry,
  name: string,
  kind: abstract new (...args: never[]) => M,
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof kind) return existing;
  throw new GamifyError("INVALID_ARGUMENT", `The metrics registry already has a "${name}" metric of another type; pass a registry without it.`);
}
