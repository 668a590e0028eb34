import { packageBuild } from "../../tsup.base";

// Neutral platform: the client runs in browsers and edge runtimes as well as Node.
export default packageBuild({ platform: "neutral" });
