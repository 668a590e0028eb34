// No Docker engine runs here, so the image cannot be built in tests. These checks catch what breaks
// a build or a container most often: a COPY of a path that does not exist (or is dockerignored),
// a CMD that is not the package's bin, a missing healthcheck.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, "utf8");
const dockerfile = read("Dockerfile");
const ignored = read(".dockerignore")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

/** Instructions with continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

describe("Dockerfile", () => {
  test("every COPY from the build context names an existing path the .dockerignore lets through", () => {
    const copies = instructions.filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const args = copy.split(/\s+/).slice(1).filter((a) => !a.startsWith("--"));
      for (const source of args.slice(0, -1)) {
        const path = source.replace(/^\.\/?/, "");
        if (path === "") continue; // "." — the whole (filtered) context
        expect(existsSync(`${root}${path}`), `${copy}: ${source} exists`).toBe(true);
        expect(ignored.some((pattern) => pattern.replace(/^\*\*\//, "") === path), `${source} is not dockerignored`).toBe(false);
      }
    }
  });

  test("the context keeps what the frozen install and the build need", () => {
    for (const needed of ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", "turbo.json", "tsup.base.ts", "tsconfig.base.json", "packages"]) {
      expect(existsSync(`${root}${needed}`)).toBe(true);
      expect(ignored).not.toContain(needed);
    }
    expect(ignored).toContain("**/node_modules");
  });

  test("builds with the pnpm the repo pins and deploys the server", () => {
    const pinned = (JSON.parse(read("package.json")) as { packageManager: string }).packageManager.replace("pnpm@", "");
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pinned}`);
    expect(dockerfile).toMatch(/pnpm --filter @gamifykit\/server deploy --prod --legacy \/out/);
  });

  test("runs the package's bin as a non-root user in production with a /healthz healthcheck", () => {
    const pkg = JSON.parse(read("packages/server/package.json")) as { bin: Record<string, string> };
    const bin = (pkg.bin["gamifykit-server"] as string).replace(/^\.\//, "");
    expect(dockerfile).toContain(`CMD ["node", "${bin}"]`);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("FROM "));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/NODE_ENV=production/);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(readFileSync(fileURLToPath(new URL("../src/cli.ts", import.meta.url)), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});

describe("compose.yaml and the image workflow", () => {
  const compose = read("compose.yaml");
  test("server, redis and postgres, each with a healthcheck; the server waits for healthy stores", () => {
    for (const service of ["server", "redis", "postgres"]) expect(compose).toMatch(new RegExp(`^ {2}${service}:$`, "m"));
    expect(compose.match(/^ {4}healthcheck:$/gm)).toHaveLength(3);
    expect(compose).toMatch(/condition: service_healthy/);
    for (const variable of ["GAMIFYKIT_STORE: postgres", "GAMIFYKIT_BUS: redis", "GAMIFYKIT_DATABASE_URL:", "GAMIFYKIT_REDIS_URL:", "GAMIFYKIT_API_KEYS:"]) {
      expect(compose).toContain(variable);
    }
  });

  test("docker.yml pushes to GHCR on releases with packages: write", () => {
    const workflow = read(".github/workflows/docker.yml");
    expect(workflow).toMatch(/tags: \["v\*"\]/);
    expect(workflow).toMatch(/types: \[published\]/);
    expect(workflow).toMatch(/packages: write/);
    expect(workflow).toMatch(/docker\/build-push-action@v6/);
    expect(workflow).toMatch(/registry: ghcr\.io/);
  });
});
