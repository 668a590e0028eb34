import { GamifyError } from "@gamifykit/core";
import { context, propagation, SpanKind, SpanStatusCode, trace, type TextMapPropagator, type TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { Counter, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createPlatform, hashApiKey } from "../src/middleware/index.js";

const route = { id: "getUser", method: "GET", path: "/v1/users/{userId}" };
const API_KEY = "gk_live_secret_key_value";

/** A pino logger writing parsed JSON lines into an array. */
function capture(level: "info" | "debug" = "info") {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = pino({ level }, { write: (line: string) => (raw.push(line), lines.push(JSON.parse(line) as Record<string, unknown>)) });
  return { logger, lines, raw };
}

const request = (headers: Record<string, string> = {}, url = "http://api.test/v1/users/alice") => new Request(url, { headers });
const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });

describe("request logs", () => {
  test("one info line per request: method, route template, status, duration, request id, principal; no secrets, no bodies", async () => {
    const { logger, lines, raw } = capture();
    const platform = createPlatform({ logger, metrics: false, auth: { apiKeys: [{ id: "backend", hash: hashApiKey(API_KEY), role: "admin" }] } });
    const req = request({ authorization: `Bearer ${API_KEY}`, cookie: "session=abc", "x-request-id": "req-1" });
    const scope = platform.begin(req, route);
    const principal = await platform.authenticate(req, "reader");
    expect(scope.principal).toEqual(principal);
    scope.end(json({ userId: "alice", points: { xp: 42 }, secretish: "body-value" }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, reqId: "req-1", method: "GET", route: "/v1/users/{userId}", status: 200, principal: "api-key:backend", msg: "request" });
    expect(typeof lines[0]!["durationMs"]).toBe("number");
    const text = raw.join("");
    for (const secret of [API_KEY, "session=abc", "body-value", "/v1/users/alice"]) expect(text).not.toContain(secret);
  });

  test("the scope's child logger carries the request id; 5xx lines are at error with the error", () => {
    const { logger, lines } = capture();
    const platform = createPlatform({ logger, metrics: false });
    const scope = platform.begin(request(), route);
    scope.log.info({ step: "engine" }, "inside the route");
    scope.end(json({}, 503), new GamifyError("STORAGE_UNAVAILABLE", "redis down"));
    expect(lines[0]).toMatchObject({ reqId: scope.requestId, step: "engine" });
    expect(lines[1]).toMatchObject({ level: 50, status: 503, principal: "anonymous", err: { message: "redis down" } });
  });

  test("at debug the request headers are logged, with credentials and cookies redacted", () => {
    const { logger, raw, lines } = capture("debug");
    const platform = createPlatform({ logger, metrics: false });
    platform.begin(request({ authorization: `Bearer ${API_KEY}`, "x-api-key": API_KEY, cookie: "session=abc", accept: "application/json" }, "http://api.test/v1/ws?access_token=tok-123"), route).end(json({}));
    const received = lines.find((line) => line["msg"] === "request received") as { req: { headers: Record<string, string>; path: string } };
    expect(received.req.headers).toMatchObject({ authorization: "[redacted]", "x-api-key": "[redacted]", cookie: "[redacted]", accept: "application/json" });
    expect(received.req.path).toBe("/v1/ws");
    const text = raw.join("");
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain("tok-123");
  });

  test("logger: false is silent", () => {
    const platform = createPlatform({ logger: false, metrics: false });
    expect(platform.begin(request(), route).log.isLevelEnabled("info")).toBe(false);
  });
});

describe("metrics", () => {
  test("a request counter and a duration histogram by method, route template and status, as Prometheus text", async () => {
    const platform = createPlatform({ logger: false });
    platform.begin(request(), route).end(json({}));
    platform.begin(request(), route).end(json({}));
    platform.begin(request(), route).end(json({}, 404));
    const response = await platform.metrics();
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await response.text();
    expect(text).toContain('gamifykit_http_requests_total{method="GET",route="/v1/users/{userId}",status="200"} 2');
    expect(text).toContain('gamifykit_http_requests_total{method="GET",route="/v1/users/{userId}",status="404"} 1');
    expect(text).toContain('gamifykit_http_request_duration_seconds_count{method="GET",route="/v1/users/{userId}",status="200"} 2');
    expect(text).toMatch(/gamifykit_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1\/users\/\{userId\}",status="200"\} \d/);
    // Each platform has its own registry unless one is passed.
    expect(await (await createPlatform({ logger: false }).metrics()).text()).not.toContain("status=");
  });

  test("a passed-in registry is shared with the host's metrics and by several platforms; default metrics on request", async () => {
    const registry = new Registry();
    new Counter({ name: "host_jobs_total", help: "host metric", registers: [registry] }).inc();
    const a = createPlatform({ logger: false, metrics: { registry, defaultMetrics: true } });
    const b = createPlatform({ logger: false, metrics: { registry, defaultMetrics: true } });
    a.begin(request(), route).end(json({}));
    b.begin(request(), route).end(json({}));
    const text = await registry.metrics();
    expect(text).toContain("host_jobs_total 1");
    expect(text).toContain('gamifykit_http_requests_total{method="GET",route="/v1/users/{userId}",status="200"} 2');
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(await (await a.metrics()).text()).toContain("host_jobs_total");
  });

  test("metrics: false answers NOT_FOUND; a clashing metric in the registry is a configuration error", async () => {
    await expect(createPlatform({ logger: false, metrics: false }).metrics()).rejects.toMatchObject({ code: "NOT_FOUND" });
    const registry = new Registry();
    new Counter({ name: "gamifykit_http_request_duration_seconds", help: "wrong type", registers: [registry] });
    expect(() => createPlatform({ logger: false, metrics: { registry } })).toThrow(/another type/);
  });
});

describe("OpenTelemetry spans", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  // A minimal W3C traceparent propagator, standing in for the host's (e.g. @opentelemetry/core's).
  const traceparent: TextMapPropagator = {
    inject: () => undefined,
    fields: () => ["traceparent"],
    extract(context, carrier, getter) {
      const header = getter.get(carrier, "traceparent");
      const match = typeof header === "string" ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/.exec(header) : null;
      if (!match) return context;
      return trace.setSpanContext(context, { traceId: match[1]!, spanId: match[2]!, traceFlags: Number(match[3]) as TraceFlags, isRemote: true });
    },
  };

  /** A request that counts how often its URL is read: the span's attributes need it, nothing else does at info level. */
  function watched() {
    const req = request();
    const url = req.url;
    let reads = 0;
    Object.defineProperty(req, "url", { get: () => (reads++, url) });
    return { req, reads: () => reads };
  }

  test("without a registered tracer provider no span work is done", () => {
    const platform = createPlatform({ logger: false, metrics: false });
    const { req, reads } = watched();
    const scope = platform.begin(req, route);
    expect(scope.run(() => 42)).toBe(42);
    scope.end(json({}));
    expect(reads()).toBe(0);
  });

  describe("with a provider", () => {
    beforeAll(() => {
      trace.setGlobalTracerProvider(provider);
      propagation.setGlobalPropagator(traceparent);
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    });
    afterAll(async () => {
      trace.disable();
      propagation.disable();
      context.disable();
      await provider.shutdown();
    });

    test("a server span named METHOD /template with HTTP semantic-convention attributes", () => {
      exporter.reset();
      const { req, reads } = watched();
      createPlatform({ logger: false, metrics: false }).begin(req, route).end(json({}));
      expect(reads()).toBeGreaterThan(0);
      exporter.reset();
      const platform = createPlatform({ logger: false, metrics: false });
      platform.begin(request({ "user-agent": "vitest/4" }, "http://api.test:8080/v1/users/alice?access_token=tok-123"), route).end(json({}));
      const [span] = exporter.getFinishedSpans();
      expect(span?.name).toBe("GET /v1/users/{userId}");
      expect(span?.kind).toBe(SpanKind.SERVER);
      expect(span?.instrumentationScope.name).toBe("@gamifykit/http");
      expect(span?.attributes).toEqual({
        "http.request.method": "GET",
        "http.route": "/v1/users/{userId}",
        "url.path": "/v1/users/alice",
        "url.scheme": "http",
        "server.address": "api.test",
        "server.port": 8080,
        "user_agent.original": "vitest/4",
        "http.response.status_code": 200,
      });
      expect(JSON.stringify(span?.attributes)).not.toContain("tok-123");
      expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    });

    test("5xx marks the span as an error with error.type and the exception; 4xx does not", () => {
      exporter.reset();
      const platform = createPlatform({ logger: false, metrics: false });
      platform.begin(request(), route).end(json({}, 500), new GamifyError("INTERNAL", "boom"));
      platform.begin(request(), route).end(json({}, 404), new GamifyError("NOT_FOUND", "no user"));
      platform.begin(new Request("http://api.test/x", { method: "PROPFIND" }), { id: "unmatched", method: "PROPFIND", path: "unmatched" }).end(json({}, 503));
      const [failed, missing, other] = exporter.getFinishedSpans();
      expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed?.attributes["error.type"]).toBe("INTERNAL");
      expect(failed?.events.map((event) => event.name)).toEqual(["exception"]);
      expect(missing?.status.code).toBe(SpanStatusCode.UNSET);
      expect(missing?.attributes["http.response.status_code"]).toBe(404);
      expect(other?.name).toBe("_OTHER unmatched");
      expect(other?.attributes).toMatchObject({ "http.request.method": "_OTHER", "http.request.method_original": "PROPFIND", "error.type": "503" });
    });

    test("work run through scope.run() nests under the request span, across awaits", async () => {
      exporter.reset();
      const scope = createPlatform({ logger: false, metrics: false }).begin(request(), route);
      await scope.run(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        trace.getTracer("storage").startSpan("redis EVALSHA").end();
      });
      trace.getTracer("storage").startSpan("outside").end();
      scope.end(json({}));
      const spans = exporter.getFinishedSpans();
      const server = spans.find((span) => span.name === "GET /v1/users/{userId}")!;
      const inner = spans.find((span) => span.name === "redis EVALSHA")!;
      const outside = spans.find((span) => span.name === "outside")!;
      expect(inner.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(inner.spanContext().traceId).toBe(server.spanContext().traceId);
      expect(outside.parentSpanContext).toBeUndefined();
    });

    test("a traceparent header makes the span a child of the caller's trace", () => {
      exporter.reset();
      const platform = createPlatform({ logger: false, metrics: false });
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      platform.begin(request({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }), route).end(json({}));
      const [span] = exporter.getFinishedSpans();
      expect(span?.spanContext().traceId).toBe(traceId);
      expect(span?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    });
  });
});
