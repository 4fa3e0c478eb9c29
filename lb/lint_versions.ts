/**
 * Lint, keepalived-version rules (pure, on the cluster model): configurations one of the
 * supported keepalived releases treats differently (docs/keepalived-versions.md).
 * @module
 */
import type { Finding } from "./_locate.ts";
import type { Cluster } from "./cluster.ts";

/** Top-level directories that are symlinks into /usr on a usr-merged system. */
export const MERGED = /^\/(bin|sbin|lib|lib32|lib64|libx32)\//;

/**
 * A vrrp_script whose command is reached through `/bin`, `/sbin` or `/lib*`: on a usr-merged
 * host (Debian 12, Ubuntu 20.04 and later) those are symlinks into /usr, and keepalived 2.3
 * disables the script as insecure ("Disabling track script X due to insecure"), so the
 * validator refuses the config there. 2.2.8 and older run it.
 */
export function ruleScriptPathVersions(c: Cluster): Finding[] {
  const out: Finding[] = [];
  c.cfg.vrrp_scripts.forEach((s, i) => {
    const cmd = s.script.trim().split(/\s+/)[0] ?? "";
    const m = MERGED.exec(cmd);
    if (!m) return;
    out.push({
      host: c.owner,
      path: ["haplay_lb", "vrrp_scripts", i, "script"],
      message: `'${cmd}' goes through the /${m[1]} symlink of a usr-merged system: keepalived ` +
        `2.3 and later disable this script as insecure (its config test fails); use ` +
        `'/usr${cmd}' (works on every version)`,
      severity: "warning",
    });
  });
  return out;
}
