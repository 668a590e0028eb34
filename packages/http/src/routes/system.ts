/** Probes, metrics and the API's own description. */
import { GamifyError, isGamifyError } from "@gamifykit/core";
import { z } from "zod";
import { docsPage } from "../docs-page.js";
import { defineRoute, json } from "../route.js";
import { HealthStatus, ReadyStatus } from "../schemas.js";

export const healthz = defineRoute({
  id: "healthz",
  method: "GET",
  path: "/healthz",
  summary: "Liveness: the process answers",
  tag: "system",
  access: "public",
  rateLimited: false,
  responses: { 200: { description: "Alive.", schema: HealthStatus } },
  serve: () => json({ status: "ok" }),
});

export const readyz = defineRoute({
  id: "readyz",
  method: "GET",
  path: "/readyz",
  summary: "Readiness: the storage and leaderboards answer",
  tag: "system",
  access: "public",
  rateLimited: false,
  responses: { 200: { description: "Ready to serve.", schema: ReadyStatus } },
  async serve({ gk, scope }) {
    try {
      await gk.health();
    } catch (error) {
      scope.log.warn({ err: error }, "readiness check failed");
      if (isGamifyError(error, "CLOSED") || isGamifyError(error, "STORAGE_UNAVAILABLE")) throw error;
      // Whatever else a health check throws still means "not ready": 503, not 500.
      throw new GamifyError("STORAGE_UNAVAILABLE", "The readiness check failed; see the server log.", { cause: error });
    }
    return json({ status: "ready" });
  },
});

/** Options the metrics route reads. */
export function metricsRoute(open: boolean) {
  return defineRoute({
    id: "metrics",
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics",
    description: "Needs an admin credential unless auth is off or the handler was created with `metricsAuth: false`.",
    tag: "system",
    access: open ? "public" : "admin",
    rateLimited: false,
    responses: { 200: { description: "Prometheus text exposition format.", contentType: "text/plain; version=0.0.4", schema: z.string() } },
    serve: ({ services }) => services.metrics(),
  });
}

export const openapiJson = defineRoute({
  id: "openapi",
  method: "GET",
  path: "/openapi.json",
  summary: "This API's OpenAPI 3.1 document",
  tag: "system",
  access: "public",
  responses: { 200: { description: "The OpenAPI document.", schema: z.looseObject({ openapi: z.string() }) } },
  serve: ({ services }) => new Response(services.openapiJson(), { headers: { "content-type": "application/json", "cache-control": "no-cache" } }),
});

export const docs = defineRoute({
  id: "docs",
  method: "GET",
  path: "/docs",
  summary: "Interactive API reference (renders /openapi.json)",
  tag: "system",
  access: "public",
  responses: { 200: { description: "An HTML page.", contentType: "text/html", schema: z.string() } },
  serve: () =>
    new Response(docsPage("./openapi.json"), {
      // The platform's securityHeaders adds the docs page's CSP (HTML_CSP, configurable there).
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
    }),
});
