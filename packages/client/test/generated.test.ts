import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { openApiTypes } from "../scripts/openapi-types.js";

test("src/generated/openapi.ts is what the http package's OpenAPI document generates (run `pnpm --filter @gamifykit/client generate`)", async () => {
  const committed = readFileSync(new URL("../src/generated/openapi.ts", import.meta.url), "utf8");
  expect(committed).toBe(await openApiTypes());
});
