import { defineConfig, type Options } from "tsup";

/**
 * The build every package shares: dual ESM + CJS with `.d.ts`/`.d.cts`, for Node 20+.
 * Packages pass only what differs: extra entries, the platform, their peer dependencies.
 */
export function packageBuild(options: Pick<Options, "entry" | "platform" | "external"> = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    treeshake: true,
    target: "es2022",
    platform: "node",
    ...options,
  });
}
