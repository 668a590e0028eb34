// Checks the BUILT package (packages/core/dist), not the sources: `pnpm build` runs before the
// tests in `pnpm test`. Run `pnpm build` first when running this file on its own.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";
import type * as Core from "../src/index.js";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

/** The absolute path of a built file; throws (failing the test) when the build is missing. */
function distFile(name: string): string {
  const file = `${dist}${name}`;
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`pnpm build\` (or \`npx turbo run build --filter=@gamifykit/core\`) before this test.`);
  }
  return file;
}

function readDist(name: string): string {
  return readFileSync(distFile(name), "utf8");
}

/** Every way a bundle could load another module, with what it loaded. */
function findImports(code: string): string[] {
  const patterns = [
    // import x from "y"; import { x } from "y"; import * as x from "y"; export { x } from "y"; export * from "y"
    /\b(?:import|export)\s*(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*(?:as\s+[\w$]+)?|\{[^}]*\})?\s*from\s*["'`][^"'`]*["'`]/g,
    // import "y" (side effect)
    /(?:^|[;\n])\s*import\s*["'`][^"'`]*["'`]/g,
    // import("y"), import(variable)
    /\bimport\s*\(/g,
    // require("y"), require(variable), require.resolve(...)
    /\brequire\s*(?:\.\s*\w+\s*)?\(/g,
    // node: built-ins referenced in any form
    /["'`]node:[\w/]+["'`]/g,
  ];
  return patterns.flatMap((re) => code.match(re) ?? []);
}

describe("the core bundle is self-contained", () => {
  test.each(["index.js", "index.cjs"])("dist/%s imports and requires nothing", (name) => {
    const code = readDist(name);
    expect(code.length).toBeGreaterThan(1000);
    expect(findImports(code)).toEqual([]);
  });

  test("the import detector catches every form (so the check above can fail)", () => {
    const samples = [
      'import { x } from "y";',
      "import x from 'y';",
      'import * as x from "node:fs";',
      'import x, { y } from "z";',
      'export { x } from "./y.js";',
      'export * from "y";',
      'export * as ns from "y";',
      'import "side-effect";',
      'const m = await import("y");',
      "const m = import(name);",
      'const fs = require("fs");',
      "const m = require(name);",
      'require.resolve("y");',
      'const p = "node:crypto";',
    ];
    for (const sample of samples) expect(findImports(sample), sample).not.toEqual([]);
    expect(findImports("export { a, b as c };\nconst important = 1; // imports nothing\nexports.x = 1;")).toEqual([]);
  });

  test("the ESM bundle exports with a local export list only", () => {
    const code = readDist("index.js");
    expect(code).toMatch(/export\s*\{[^}]*\bcreateGamify\b[^}]*\};?/);
  });

  test.each(["index.d.ts", "index.d.cts"])("dist/%s exists and declares createGamify", (name) => {
    expect(readDist(name)).toMatch(/\bcreateGamify\b/);
  });
});

describe("the built bundles work", () => {
  test("the ESM build exposes createGamify and awards points", async () => {
    const core = (await import(pathToFileURL(distFile("index.js")).href)) as typeof Core;
    expect(typeof core.createGamify).toBe("function");
    const gk = core.createGamify();
    try {
      const result = await gk.addPoints("a", 1);
      expect(result.total).toBe(1);
      expect(result.userId).toBe("a");
    } finally {
      await gk.close();
    }
  });

  test("the CJS build exposes createGamify and awards points", async () => {
    const require = createRequire(import.meta.url);
    const core = require(distFile("index.cjs")) as typeof Core;
    expect(typeof core.createGamify).toBe("function");
    const gk = core.createGamify();
    try {
      const result = await gk.addPoints("a", 1);
      expect(result.total).toBe(1);
      expect(result.userId).toBe("a");
    } finally {
      await gk.close();
    }
  });

  test("both builds throw their own GamifyError with a code", async () => {
    const esm = (await import(pathToFileURL(distFile("index.js")).href)) as typeof Core;
    const cjs = createRequire(import.meta.url)(distFile("index.cjs")) as typeof Core;
    for (const core of [esm, cjs]) {
      const gk = core.createGamify();
      try {
        const error: unknown = await gk.addPoints("a b", 1).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(core.isGamifyError(error, "INVALID_ARGUMENT")).toBe(true);
      } finally {
        await gk.close();
      }
    }
  });
});

describe("GamifyError across builds", () => {
  test("an error thrown by the CJS build is an instance of the ESM build's GamifyError", async () => {
    const esm = (await import(pathToFileURL(`${dist}index.js`).href)) as typeof Core;
    const cjs = createRequire(import.meta.url)(`${dist}index.cjs`) as typeof Core;
    const error = new cjs.GamifyError("NOT_FOUND", "x");
    expect(error).toBeInstanceOf(esm.GamifyError);
    expect(esm.isGamifyError(error, "NOT_FOUND")).toBe(true);
    expect(new Error("plain")).not.toBeInstanceOf(esm.GamifyError);
  });
});
