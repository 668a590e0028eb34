// The real binary in a child process: graceful shutdown on SIGTERM, and start-up errors.
import { createHash } from "node:crypto";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

/** Runs the CLI through tsx (the sources, like every test here) and waits for its "listening" line. */
function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", cli], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", GAMIFYKIT_PORT: "0", GAMIFYKIT_LOG_FORMAT: "json", GAMIFYKIT_LOG_LEVEL: "info", ...env },
  });
  children.push(child);
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === "gamifykit-server listening" && record.url) {
          child.stdout.off("data", onData);
          child.stdout.on("data", (more: Buffer) => (out += more.toString()));
          resolve({ child, url: record.url, exited, output: () => out });
          return;
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
}

function run(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { cwd: root, env: { PATH: process.env["PATH"] ?? "", ...env } });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

/** A POST whose body is sent in two halves, so it is in flight for as long as we like. */
function slowPost(url: string, path: string, body: string) {
  const target = new URL(path, url);
  let resolveResponse: (value: { status: number; body: string; headers: Record<string, unknown> }) => void;
  let rejectResponse: (error: Error) => void;
  const response = new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    resolveResponse = resolve;
    rejectResponse = reject;
  });
  const req = request(target, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
    let text = "";
    res.on("data", (c: Buffer) => (text += c.toString()));
    res.on("end", () => resolveResponse({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
  });
  req.on("error", (error) => rejectResponse(error));
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { response, finish: () => req.end(body.slice(half)) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("gamifykit-server process", () => {
  test("SIGTERM: stops accepting, lets the in-flight request finish, ends the event stream, exits 0", async () => {
    const server = await start({});
    // A live SSE stream, which the shutdown must end rather than wait for.
    const stream = await fetch(`${server.url}/v1/events`);
    expect(stream.status).toBe(200);
    const streamText = stream.text();

    const post = slowPost(server.url, "/v1/users/alice/points", JSON.stringify({ amount: 42, metric: "xp", reason: "in flight during shutdown" }));
    await sleep(150);
    server.child.kill("SIGTERM");
    await sleep(300);

    // New connections are refused while the request is still being received.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    expect(server.child.exitCode).toBeNull();

    post.finish();
    const answer = await post.response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ userId: "alice", metric: "xp", delta: 42, total: 42 });
    expect(answer.headers["connection"]).toBe("close");

    await streamText; // ended by the shutdown
    expect(await server.exited).toBe(0);
    const messages = server
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(["signal received", "shutting down: draining in-flight requests", "shut down"]));
  });

  test("a request that outlasts GAMIFYKIT_SHUTDOWN_TIMEOUT is cut, and the process still exits 0", async () => {
    const server = await start({ GAMIFYKIT_SHUTDOWN_TIMEOUT: "300ms" });
    const post = slowPost(server.url, "/v1/users/bob/points", JSON.stringify({ amount: 1 }));
    const outcome = post.response.then(
      () => "answered",
      () => "cut",
    );
    await sleep(150);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(await outcome).toBe("cut");
    expect(server.output()).toContain("shutdown timeout: cutting the remaining connections");
  });

  test("a bad configuration exits 1 with one line per problem and no stack trace", async () => {
    const { code, stderr, stdout } = await run({ GAMIFYKIT_PORT: "abc", GAMIFYKIT_PROFILE: "production", GAMIFYKIT_ALLOW_MEMORY_STORE: "true" });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "gamifykit-server: cannot start, the configuration is invalid:\n" +
        '  - GAMIFYKIT_PORT must be an integer 0–65535 (0 picks a free port); got "abc".\n' +
        "  - the production profile needs authentication: set GAMIFYKIT_API_KEYS (or GAMIFYKIT_API_KEYS_FILE) and/or a JWT key (GAMIFYKIT_JWT_SECRET, GAMIFYKIT_JWT_PUBLIC_KEY or GAMIFYKIT_JWT_JWKS_URL).\n",
    );
  });

  test("a port already in use exits 1 without a stack trace", async () => {
    const first = await start({});
    const port = new URL(first.url).port;
    const { code, stderr } = await run({ GAMIFYKIT_PORT: port, GAMIFYKIT_LOG_LEVEL: "silent" });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^gamifykit-server: cannot start: EADDRINUSE: /);
    expect(stderr).not.toMatch(/\n\s+at /);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  });

  test("hash-key prints the sha256: form GAMIFYKIT_API_KEYS takes", async () => {
    const { code, stdout } = await run({}, ["hash-key", "secret-key"]);
    expect(code).toBe(0);
    expect(stdout).toBe(`sha256:${createHash("sha256").update("secret-key").digest("hex")}\n`);
  });
});
