/**
 * `/etc/default/keepalived` (DAEMON_ARGS). Without IPVS in the kernel keepalived exits at once
 * when the configuration has a `virtual_server`, unless started with `--vrrp`; the
 * virtual_server blocks stay in keepalived.conf either way. With `ipvs: auto` the task decides
 * on the host: its probe looks for `/proc/net/ip_vs` or a loadable `ip_vs` module, and the
 * (pure) plan picks the content. Built on the `file` primitive's probe and planner.
 * @module
 */
import type { Task } from "../engine/types.ts";
import { fileProbe, type FileSpec, planFile } from "../tasks/file.ts";
import { guarded, refuse } from "../tasks/_plan.ts";
import { KEEPALIVED_DEFAULTS } from "../lb/paths.ts";

/** Probe line: `ipvs=1` when the kernel has IPVS (or can load it), else `ipvs=0`. */
export const IPVS_PROBE =
  `if [ -e /proc/net/ip_vs ] || modprobe -nq ip_vs 2>/dev/null; then echo ipvs=1; else echo ipvs=0; fi`;

/** The defaults file for a kernel with or without IPVS. */
export function daemonArgsFile(ipvs: boolean): string {
  return [
    "# Managed by haplay: edits are overwritten by the next deploy.",
    "# Options to pass to keepalived (DAEMON_ARGS are appended to its command line).",
    ipvs
      ? 'DAEMON_ARGS=""'
      : "# No IPVS in this kernel: VRRP only (the virtual_server blocks stay in keepalived.conf).\n" +
        'DAEMON_ARGS="--vrrp"',
    "",
  ].join("\n");
}

/** Reads the ipvs fact (`1`/`0`) from probe output; undefined when absent. */
export function ipvsFact(facts: string): boolean | undefined {
  const m = /^ipvs=([01])$/m.exec(facts);
  return m ? m[1] === "1" : undefined;
}

/** The value of the last `DAEMON_ARGS=` assignment of a defaults file (quotes removed). */
export function daemonArgsValue(text: string): string | undefined {
  let v: string | undefined;
  for (const l of text.split("\n")) {
    const m = /^\s*DAEMON_ARGS=(?:"([^"]*)"|'([^']*)'|(\S*))\s*(?:#.*)?$/.exec(l);
    if (m) v = (m[1] ?? m[2] ?? m[3]).trim().split(/\s+/).filter(Boolean).join(" ");
  }
  return v;
}

/**
 * Whether the probed file (root-owned, mode 0644, regular) already sets DAEMON_ARGS to what
 * haplay would write, whatever its comments: then rewriting it notifies no restart.
 */
function sameDaemonArgs(facts: string, ipvs: boolean): boolean {
  const b64 = /^content_b64=(.*)$/m.exec(facts)?.[1];
  if (
    b64 === undefined || !/^type=file$/m.test(facts) || !/^owner=root$/m.test(facts) ||
    !/^mode=0?644$/m.test(facts)
  ) {
    return false;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
    );
  } catch {
    return false;
  }
  return daemonArgsValue(text) === daemonArgsValue(daemonArgsFile(ipvs));
}

/**
 * The DAEMON_ARGS file task. `ipvs`: true/false decide statically; "auto" decides from the
 * host's kernel at plan time. Notifies `notify` (a restart: DAEMON_ARGS is read at start).
 */
export function daemonArgsTask(ipvs: boolean | "auto", notify: string[]): Task {
  const spec = (v: boolean): FileSpec => ({
    path: KEEPALIVED_DEFAULTS,
    bytes: new TextEncoder().encode(daemonArgsFile(v)),
    owner: "root",
    group: "root",
    mode: "0644",
    sensitive: false,
  });
  return {
    name: `keepalived DAEMON_ARGS (ipvs: ${ipvs})`,
    module: "file",
    resource: `file:${KEEPALIVED_DEFAULTS}`,
    probe: `${IPVS_PROBE}\n${fileProbe(KEEPALIVED_DEFAULTS)}`,
    plan: guarded(`file ${KEEPALIVED_DEFAULTS}`, (facts) => {
      const have = ipvs === "auto" ? ipvsFact(facts) : ipvs;
      if (have === undefined) {
        return refuse("cannot tell whether the kernel has IPVS (no ipvs= fact)");
      }
      const p = planFile(spec(have), facts);
      if (p.kind === "change" && sameDaemonArgs(facts, have)) {
        // a hand-written file (an adopted setup) already giving keepalived the same options:
        // rewritten in haplay's words, but a restart (DAEMON_ARGS is read at start) would only
        // move the VIP away and back
        return {
          ...p,
          summary: `${p.summary} (same DAEMON_ARGS: no restart)`,
          notify: [],
        };
      }
      return p.kind === "ok"
        ? p
        : { ...p, summary: `${p.summary} (${have ? "IPVS" : "--vrrp: no IPVS"})` };
    }),
    notify,
  };
}
