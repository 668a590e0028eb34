import { packageBuild } from "../../tsup.base";

export default packageBuild({
  external: ["@gamifykit/core", "ioredis", "zod", "zod-openapi", "jose", "pino", "prom-client", "@opentelemetry/api", "ws"],
});
