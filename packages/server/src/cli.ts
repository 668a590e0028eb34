#!/usr/bin/env node
/**
 * `gamifykit-server`: starts the server from environment variables (see docs/configuration.md).
 * `gamifykit-server hash-key <raw key>` prints the `sha256:` hash to put in GAMIFYKIT_API_KEYS.
 * A bad configuration prints one line per problem, naming the variable, and exits 1 — no stack trace.
 */
import { createHash } from "node:crypto";
import { isGamifyError } from "@gamifykit/core";
import { ConfigError, loadConfig } from "./config/load.js";
import { startServer } from "./server.js";

const USAGE = `Usage:
  gamifykit-server                 start the server (configured by GAMIFYKIT_* variables)
  gamifykit-server hash-key <key>  print the sha256: hash of an API key for GAMIFYKIT_API_KEYS
  gamifykit-server --help          this text

Configuration: https://github.com/gamifykit/gamifykit/blob/main/docs/configuration.md`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === "hash-key") {
    const raw = rest[0];
    if (!raw) {
      process.stderr.write("gamifykit-server hash-key needs the raw key as its argument.\n");
      return 1;
    }
    process.stdout.write(`sha256:${createHash("sha256").update(raw, "utf8").digest("hex")}\n`);
    return 0;
  }
  if (command !== undefined) {
    process.stderr.write(`Unknown command "${command}".\n${USAGE}\n`);
    return 1;
  }
  try {
    await startServer(loadConfig(process.env), { handleSignals: true });
    return -1; // keep running until a signal
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gamifykit-server: cannot start, the configuration is invalid:\n${error.problems.map((p) => `  - ${p}\n`).join("")}`);
    } else if (isGamifyError(error)) {
      process.stderr.write(`gamifykit-server: cannot start: ${error.code}: ${error.message}\n`);
    } else {
      const e = error as NodeJS.ErrnoException;
      process.stderr.write(`gamifykit-server: cannot start: ${e.code ? `${e.code}: ` : ""}${e.message ?? String(error)}\n`);
    }
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
});
