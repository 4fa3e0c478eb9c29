/**
 * The drain files of `deno task drain` as verify and status see them: where they live and which
 * real server a file is for. Read only (drain/undrain write them, named by {@link drainFile}).
 * @module
 */

import { DRAIN_PREFIX, drainFile } from "./paths.ts";

/** The glob of every drain file: exactly the names {@link drainFile} gives. */
export const DRAIN_GLOB = `${DRAIN_PREFIX}*.conf`;

/** sh printing `KEY=NAME` for each drain file (its base name). */
export function drainListSh(key: string): string {
  return `for _f in ${DRAIN_GLOB}; do [ -e "$_f" ] && echo "${key}=\${_f##*/}"; done; true`;
}

/**
 * Whether a real-server address has a drain file among `names` (base names as
 * {@link drainListSh} prints them). Only the name drain writes counts: a file someone else put
 * there under another name is not a drain keepalived reads (its include matches one name).
 */
export function isDrained(names: readonly string[], address: string): boolean {
  const own = drainFile(address).slice(drainFile(address).lastIndexOf("/") + 1);
  return names.includes(own);
}
