/** Spans opened while a route runs (e.g. by a database client's instrumentation) nest under the request's span. */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { memoryStorage, type Storage } from "@gamifykit/core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { call, testEngine, testHandler } from "./handler-support.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(async () => {
  trace.disable();
  context.disable();
  await provider.shutdown();
});

/** A memory storage whose reads open a span, as an instrumented driver would. */
function tracedStorage(): Storage {
  const inner = memoryStorage();
  return {
    ...inner,
    name: inner.name,
    getUser: async (userId) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return trace.getTracer("storage").startActiveSpan("storage getUser", async (span) => {
        try {
          return await inner.getUser(userId);
        } finally {
          span.end();
        }
      });
    },
  };
}

test("a storage span opened inside a route is a child of the request's server span", async () => {
  const gk = testEngine({ storage: tracedStorage() });
  const handler = testHandler(gk, { metrics: false });
  await gk.addPoints("alice", 5);
  exporter.reset();
  const r = await call(handler, "GET", "/v1/users/alice");
  expect(r.status).toBe(200);
  const spans = exporter.getFinishedSpans();
  const server = spans.find((span) => span.name === "GET /v1/users/{userId}");
  const storage = spans.find((span) => span.name === "storage getUser");
  expect(server).toBeDefined();
  expect(storage?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  expect(storage?.spanContext().traceId).toBe(server?.spanContext().traceId);
  await handler.close();
  await gk.close();
});
