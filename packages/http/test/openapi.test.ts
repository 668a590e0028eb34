import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, test } from "vitest";
import { createOpenApiDocument } from "../src/index.js";
import { allRoutes } from "../src/routes/index.js";
import { call, testEngine, testHandler } from "./handler-support.js";

type Operation = {
  operationId: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { $ref?: string; content?: Record<string, unknown> }>;
};
type Doc = {
  openapi: string;
  security?: unknown[];
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown>; securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }> };
};

async function validate(doc: unknown) {
  const validator = new Validator();
  const result = await validator.validate(doc as Record<string, unknown>);
  return { result, validator };
}

describe("the OpenAPI document", () => {
  test("is a valid OpenAPI 3.1 document per the official JSON schema, with every $ref resolvable", async () => {
    const doc = createOpenApiDocument({ prefix: "/api" });
    const { result, validator } = await validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // resolveRefs throws on a $ref that points nowhere.
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  test("the validator is real: it rejects a broken document", async () => {
    const doc = structuredClone(createOpenApiDocument()) as unknown as Doc;
    (doc.paths["/healthz"]!["get"] as unknown as Record<string, unknown>)["responses"] = "none";
    expect((await validate(doc)).result.valid).toBe(false);
  });

  test("lists every route of the router with its method, operation id, parameters and body", () => {
    const doc = createOpenApiDocument() as unknown as Doc;
    const routes = allRoutes({ metricsOpen: false });
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.spec.method} ${r.spec.path} ${r.spec.id}`).sort());
    const addPoints = doc.paths["/v1/users/{userId}/points"]!["post"]!;
    expect(addPoints.parameters?.map((p) => `${p.in}:${p.name}:${p.required === true}`).sort()).toEqual(["header:Idempotency-Key:false", "path:userId:true"]);
    expect(addPoints.requestBody?.required).toBe(true);
    expect(addPoints.requestBody?.content["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/AwardRequest" });
    expect(Object.keys(addPoints.responses).sort()).toEqual(["200", "400", "401", "403", "413", "415", "422", "429", "500", "503"]);
    const top = doc.paths["/v1/leaderboards/{metric}"]!["get"]!;
    expect(top.parameters?.map((p) => p.name).sort()).toEqual(["at", "limit", "metric", "mode", "offset", "period", "scope"]);
    expect(doc.paths["/v1/users/{userId}/badges/{badge}"]!["put"]!.requestBody?.required).toBe(false);
  });

  test("declares bearer and X-API-Key security, required globally when auth is on and waived on public routes", () => {
    const doc = createOpenApiDocument({ auth: true }) as unknown as Doc;
    expect(doc.components.securitySchemes["bearerAuth"]).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes["apiKeyAuth"]).toMatchObject({ type: "apiKey", in: "header", name: "X-API-Key" });
    expect(doc.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    for (const path of ["/healthz", "/readyz", "/openapi.json", "/docs"]) expect(doc.paths[path]!["get"]!.security).toEqual([]);
    expect(doc.paths["/metrics"]!["get"]!.security).toBeUndefined();
    expect((createOpenApiDocument({ metricsOpen: true }) as unknown as Doc).paths["/metrics"]!["get"]!.security).toEqual([]);
    expect((createOpenApiDocument({ auth: false }) as unknown as Doc).security).toBeUndefined();
  });

  test("documents the response headers: X-Request-Id everywhere, RateLimit-* on throttled routes, Retry-After on 429 and 503, WWW-Authenticate on 401", () => {
    const doc = createOpenApiDocument() as unknown as Doc & { components: { responses: Record<string, { headers: Record<string, unknown> }> } };
    const headersOf = (path: string, method: string, status: string) =>
      Object.keys((doc.paths[path]![method]!.responses[status] as { headers?: Record<string, unknown> }).headers ?? {}).sort();
    expect(headersOf("/v1/users/{userId}", "get", "200")).toEqual(["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "X-Request-Id"]);
    expect(headersOf("/healthz", "get", "200")).toEqual(["X-Request-Id"]);
    expect(Object.keys(doc.components.responses["TooManyRequests"]!.headers)).toContain("Retry-After");
    expect(Object.keys(doc.components.responses["Unavailable"]!.headers)).toContain("Retry-After");
    expect(Object.keys(doc.components.responses["Unauthorized"]!.headers)).toContain("WWW-Authenticate");
  });

  test("every error response is an RFC 9457 problem with the engine's codes", () => {
    const doc = createOpenApiDocument() as unknown as Doc;
    const problem = doc.components.schemas["Problem"] as { required: string[]; properties: { code: { enum: string[] } } };
    expect(problem.required.sort()).toEqual(["code", "detail", "status", "title", "type"]);
    expect(problem.properties.code.enum).toContain("RATE_LIMITED");
    for (const response of Object.values(doc.components.responses)) {
      expect(response).toMatchObject({ content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } });
    }
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400) expect(response.$ref).toMatch(/^#\/components\/responses\//);
        }
      }
    }
  });

  test("the handler serves the document it was built with: server URL from the prefix, security only with auth", async () => {
    const gk = testEngine();
    const open = testHandler(gk, { prefix: "/api" });
    const served = (await call(open, "GET", "/api/openapi.json")).json as Doc;
    expect(served.servers).toEqual([{ url: "/api" }]);
    expect(served.security).toBeUndefined();
    expect((await validate(served)).result.valid).toBe(true);
    const secured = testHandler(gk, { auth: { apiKeys: [{ id: "k", hash: "sha256:" + "0".repeat(64), role: "admin" }] } });
    expect(((await call(secured, "GET", "/openapi.json")).json as Doc).security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    await open.close();
    await secured.close();
    await gk.close();
  });
});
