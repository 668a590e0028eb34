import { packageBuild } from "../../tsup.base";

export default packageBuild({ entry: ["src/index.ts", "src/cli.ts"], external: ["@gamifykit/core", "kysely", "pg", "mysql2"] });
