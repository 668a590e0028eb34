import type { HeaderReader, RequestHead } from "../exchange.js";
import { context, isSpanContextValid, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type TextMapGetter, type Tracer, type TracerProvider } from "@opentelemetry/api";

/** The span of one request; `end` closes it with the final status. */
export interface RequestSpan {
  /** The context with this span active, so work run in it (storage calls) nests under the request. */
  readonly context: Context;
  end(status: number, error?: unknown): void;
}

const TRACER_NAME = "@gamifykit/http";
const NO_END = (): void => undefined;
let cached: { readonly provider: TracerProvider; readonly tracer: Tracer } | undefined;

/**
 * The tracer, looked up once per global provider rather than per request: the API's proxy
 * follows a provider the host registers later, and `trace.disable()` swaps the provider object.
 */
function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(TRACER_NAME) };
  return cached.tracer;
}
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

const headerGetter: TextMapGetter<HeaderReader> = {
  keys: (headers) => {
    const names: string[] = [];
    headers.forEach((_value, name) => names.push(name));
    return names;
  },
  get: (headers, key) => headers.get(key) ?? undefined,
};

/**
 * Starts a server span named `METHOD /route/template`, continuing a trace from the W3C
 * `traceparent` header when the host registered a propagator. Without a registered tracer
 * provider the API hands back a non-recording span and no attribute is computed.
 */
export function startRequestSpan(request: RequestHead, routeTemplate: string): RequestSpan {
  const method = KNOWN_METHODS.has(request.method) ? request.method : "_OTHER";
  const parent = propagation.extract(context.active(), request.headers, headerGetter);
  const span = tracer().startSpan(`${method} ${routeTemplate}`, { kind: SpanKind.SERVER }, parent);
  if (!span.isRecording()) {
    // No tracer provider and no trace to continue: a context holding this span would change
    // nothing for the work run in it, so none is built (nor a closure) on every request.
    if (!isSpanContextValid(span.spanContext())) return { context: parent, end: NO_END };
    return { context: trace.setSpan(parent, span), end: () => span.end() };
  }
  const active = trace.setSpan(parent, span);

  const url = new URL(request.url);
  const attributes: Attributes = {
    "http.request.method": method,
    "http.route": routeTemplate,
    "url.path": url.pathname,
    "url.scheme": url.protocol.replace(/:$/, ""),
    "server.address": url.hostname,
  };
  // The query can carry an access_token (WebSocket upgrades), so it is never recorded.
  if (method === "_OTHER") attributes["http.request.method_original"] = request.method;
  if (url.port) attributes["server.port"] = Number(url.port);
  const userAgent = request.headers.get("user-agent");
  if (userAgent) attributes["user_agent.original"] = userAgent;
  span.setAttributes(attributes);

  return {
    context: active,
    end(status, error) {
      span.setAttribute("http.response.status_code", status);
      // Server spans mark only 5xx as errors: a 4xx is the caller's mistake, not a failure here.
      if (status >= 500) {
        span.setAttribute("error.type", error instanceof Error ? errorType(error) : String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
        if (error instanceof Error) span.recordException(error);
      }
      span.end();
    },
  };
}

function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error.name;
}
