// Writes src/generated/openapi.ts (`pnpm --filter @gamifykit/client generate`).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openApiTypes } from "./openapi-types.js";

const target = fileURLToPath(new URL("../src/generated/openapi.ts", import.meta.url));
writeFileSync(target, await openApiTypes());
process.stdout.write(`wrote ${target}\n`);
