// Type-only: erased at build time, so testcontainers stays an optional peer dependency.
import type * as Testcontainers from "testcontainers";

/** The database servers adapters are tested against. */
export type ServerKind = "redis" | "postgres" | "mysql";

/** A reachable server for integration tests. */
export interface TestServer {
  readonly kind: ServerKind;
  /** Connection URL, e.g. `redis://127.0.0.1:6379`. */
  readonly url: string;
  /** Where it came from: an environment variable or a container started for the run. */
  readonly source: "env" | "testcontainers";
  /** Stops the container, if one was started. */
  stop(): Promise<void>;
}

const ENV: Record<ServerKind, string> = {
  redis: "GAMIFYKIT_TEST_REDIS_URL",
  postgres: "GAMIFYKIT_TEST_POSTGRES_URL",
  mysql: "GAMIFYKIT_TEST_MYSQL_URL",
};

const IMAGES: Record<ServerKind, { image: string; port: number; env: Record<string, string>; url: (host: string, port: number) => string }> = {
  redis: { image: "redis:7", port: 6379, env: {}, url: (h, p) => `redis://${h}:${p}` },
  postgres: {
    image: "postgres:16",
    port: 5432,
    env: { POSTGRES_HOST_AUTH_METHOD: "trust", POSTGRES_DB: "test" },
    url: (h, p) => `postgres://postgres@${h}:${p}/test`,
  },
  mysql: {
    image: "mariadb:10.11",
    port: 3306,
    env: { MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: "1", MARIADB_DATABASE: "test" },
    url: (h, p) => `mysql://root@${h}:${p}/test`,
  },
};

/**
 * Finds a server for an adapter's integration tests: the `GAMIFYKIT_TEST_*_URL` variable if set;
 * otherwise a container started by testcontainers when a Docker engine answers; otherwise
 * `undefined`, after printing why, so the caller can skip. Under `CI=true` a missing server is an
 * error, never a skip.
 *
 * @example
 * const server = await findTestServer("redis");
 * describe.runIf(server)("redis", () => storageSuite({ describe, test }, () => redisStorage({ url: server!.url })));
 */
export async function findTestServer(kind: ServerKind): Promise<TestServer | undefined> {
  const fromEnv = process.env[ENV[kind]];
  if (fromEnv) return { kind, url: fromEnv, source: "env", stop: async () => undefined };

  const started = await startContainer(kind);
  if (started) return started;

  const why = `${ENV[kind]} is not set and no Docker engine answered for testcontainers`;
  if (process.env["CI"] === "true") throw new Error(`${kind} integration tests need a server under CI=true: ${why}.`);
  console.warn(`Skipping ${kind} integration tests: ${why}.`);
  return undefined;
}

async function startContainer(kind: ServerKind): Promise<TestServer | undefined> {
  let tc: typeof Testcontainers;
  try {
    tc = await import("testcontainers");
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined; // not installed, or no Docker engine
  }
  const spec = IMAGES[kind];
  const container = await new tc.GenericContainer(spec.image)
    .withEnvironment(spec.env)
    .withExposedPorts(spec.port)
    .withWaitStrategy(kind === "redis" ? tc.Wait.forLogMessage("Ready to accept connections") : tc.Wait.forListeningPorts())
    .start();
  return {
    kind,
    url: spec.url(container.getHost(), container.getMappedPort(spec.port)),
    source: "testcontainers",
    stop: async () => {
      await container.stop();
    },
  };
}
