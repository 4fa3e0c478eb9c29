/**
 * The drain files of `deno task drain` as verify and status see them: where they live and which
 * real server a file is for. Read only (drain/undrain write them).
 * @module
 */

/** Where drain files live (`deno task drain`): a directory, or files with this prefix. */
export const DRAIN_GLOBS = ["/etc/keepalived/haplay-drain/*", "/etc/keepalived/haplay-drain-*"];

/** sh printing `KEY=NAME` for each drain file (its base name). */
export function drainListSh(key: string): string {
  return `for _f in ${
    DRAIN_GLOBS.join(" ")
  }; do [ -e "$_f" ] && echo "${key}=\${_f##*/}"; done; true`;
}

/**
 * Whether a drain file (base name) is a real server's: named by its address (`:` and `.` kept,
 * other characters `_`) or its inventory host, alone or as a `_`/`-`-separated part
 * (`haplay-drain-198.18.0.13.conf`, `web1`, `web_198.18.0.13`).
 */
export function isDrained(names: readonly string[], address: string, host?: string): boolean {
  const part = address.replace(/[^0-9A-Za-z.:]/g, "_");
  const ids = [part, address, ...(host ? [host] : [])];
  return names.some((n) => {
    const bare = n.replace(/^haplay-drain-/, "").replace(/\.conf$/, "");
    return ids.some((id) =>
      bare === id || bare.split(/[_\s]+/).includes(id) || bare.endsWith(`-${id}`) ||
      bare.startsWith(`${id}-`)
    );
  });
}
