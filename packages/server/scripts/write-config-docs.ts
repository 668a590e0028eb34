// Writes docs/configuration.md from the configuration schema (`pnpm --filter @gamifykit/server docs:config`).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configurationMarkdown } from "../src/config/docs.js";

const target = fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url));
writeFileSync(target, configurationMarkdown());
process.stdout.write(`wrote ${target}\n`);
