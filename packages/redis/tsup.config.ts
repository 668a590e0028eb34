import { packageBuild } from "../../tsup.base";

export default packageBuild({ external: ["@gamifykit/core", "ioredis"] });
