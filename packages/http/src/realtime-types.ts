/** The realtime hub's types, re-exported for the router (the hub lives in ./realtime/). */
export type { RealtimeFilter, RealtimeHub } from "./realtime/index.js";
