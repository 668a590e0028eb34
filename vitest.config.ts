import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests run on the TypeScript sources, so `pnpm vitest` needs no build first.
export default defineConfig({
  resolve: {
    alias: {
      "@gamifykit/core": src("core"),
      "@gamifykit/adapter-tests": src("adapter-tests"),
      "@gamifykit/redis": src("redis"),
      "@gamifykit/sql": src("sql"),
      "@gamifykit/file": src("file"),
      "@gamifykit/http": src("http"),
      "@gamifykit/client": src("client"),
      "@gamifykit/server": src("server"),
    },
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // CI also writes a JSON report so .ci/run can print a plain "N passed, N failed" line.
    reporters: process.env["CI"] ? ["default", ["json", { outputFile: ".tmp/vitest-report.json" }]] : ["default"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    coverage: {
      provider: "v8",
      include: ["packages/core/src/**/*.ts"],
      reporter: ["text", "text-summary"],
      thresholds: { lines: 90 },
    },
  },
});
