import { packageBuild } from "../../tsup.base";

// The CLI ships as dist/cli.js (ESM, with the shebang tsup keeps); the library as ESM + CJS.
export default packageBuild({
  entry: ["src/index.ts", "src/cli.ts"],
  external: ["@gamifykit/core", "@gamifykit/http", "@gamifykit/redis", "@gamifykit/sql", "@gamifykit/file", "ioredis", "pg", "mysql2", "kysely"],
});
