import { connect } from "node:net";

/** Thrown by an area whose server is unreachable outside CI: the run goes on without it. */
export class Skip extends Error {
  override readonly name = "Skip";
}

/** The servers the adapter benchmarks need. */
export type ServerKind = "redis" | "postgres" | "mysql";

const DEFAULTS: Record<ServerKind, string> = {
  redis: "redis://127.0.0.1:6379",
  postgres: "postgres://postgres@127.0.0.1:5432/test",
  mysql: "mysql://root@127.0.0.1:3306/test",
};

const PORTS: Record<ServerKind, number> = { redis: 6379, postgres: 5432, mysql: 3306 };

/** True when something accepts a TCP connection at host:port within `ms`. */
function answers(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The URL of a server to benchmark against: `GAMIFYKIT_BENCH_<KIND>_URL`, else the test suites'
 * `GAMIFYKIT_TEST_<KIND>_URL`, else the local default. When nothing answers there, throws
 * {@link Skip} — or, under `CI=true`, a plain error, because CI must not skip silently.
 */
export async function serverUrl(kind: ServerKind): Promise<string> {
  const upper = kind.toUpperCase();
  const url = process.env[`GAMIFYKIT_BENCH_${upper}_URL`] || process.env[`GAMIFYKIT_TEST_${upper}_URL`] || DEFAULTS[kind];
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (await answers(host, Number(parsed.port || PORTS[kind]), 2_000)) return url;
  const safe = parsed.password ? url.replace(`:${parsed.password}@`, ":***@") : url;
  const why = `nothing answers at ${safe}; start the server or set GAMIFYKIT_BENCH_${upper}_URL`;
  if (process.env["CI"] === "true") throw new Error(`${kind} benchmark needs a server under CI=true: ${why}.`);
  throw new Skip(why);
}
