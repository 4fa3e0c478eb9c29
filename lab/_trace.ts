/**
 * Debug tracing (`HAPLAY_LAB_DEBUG`) and the fault-injection test hook (`HAPLAY_LAB_FAULT`).
 * @module
 */

import { LabError } from "./util.ts";

const debugOn = !!Deno.env.get("HAPLAY_LAB_DEBUG");
/** Print a timestamped trace line to stderr when tracing is on. */
export function debug(msg: string) {
  if (debugOn) console.error(`[lab ${new Date().toISOString().slice(11, 23)}] ${msg}`);
}

/** Test hook: throw when env `HAPLAY_LAB_FAULT` names `point`. */
export function fault(point: string) {
  // test hook: HAPLAY_LAB_FAULT=<point> makes labUp fail there (points: base, hosts, ready)
  if (Deno.env.get("HAPLAY_LAB_FAULT") === point) {
    throw new LabError(`injected fault at '${point}' (HAPLAY_LAB_FAULT)`);
  }
}
