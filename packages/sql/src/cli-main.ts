import { parseArgs } from "node:util";
import { migrate } from "./migrate.js";

const USAGE = `Usage: gamifykit-sql migrate --url <postgres://…|mysql://…> [--table-prefix <prefix>]

Commands:
  migrate    Create or upgrade GamifyKit's tables to the latest schema (safe to run repeatedly).

Options:
  --url           Connection URL; defaults to $DATABASE_URL.
  --table-prefix  Prefix of every table name (default "gamifykit_").
  --help          Show this help.`;

/**
 * The `gamifykit-sql` command: `argv` without node and the script; resolves to the exit code
 * (0 done, 1 failed, 2 usage error). Output goes through `out` and `err`, so tests can run it in-process.
 */
export async function main(argv: readonly string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { url: { type: "string" }, "table-prefix": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    out(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "migrate") {
    err(`${positionals.length === 0 ? "No command given." : `Unknown command "${positionals.join(" ")}".`}\n\n${USAGE}`);
    return 2;
  }
  const url = values.url ?? process.env["DATABASE_URL"];
  if (url === undefined || url === "") {
    err(`No database URL: pass --url or set DATABASE_URL.\n\n${USAGE}`);
    return 2;
  }
  try {
    const tablePrefix = values["table-prefix"];
    const result = await migrate(tablePrefix === undefined ? { url } : { url, tablePrefix });
    const where = `${result.dialect} tables with prefix "${result.tablePrefix}"`;
    if (result.applied.length === 0) out(`Schema is up to date (${where}); nothing applied.`);
    else for (const name of result.applied) out(`Applied ${name} (${where}).`);
    return 0;
  } catch (error) {
    err(`gamifykit-sql migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
