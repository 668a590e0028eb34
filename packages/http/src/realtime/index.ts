export { createRealtime } from "./hub.js";
export type { RealtimeConnections, RealtimeHub, RealtimeOptions } from "./hub.js";
export { matches as matchesFilter } from "./filter.js";
export type { RealtimeFilter } from "./filter.js";
