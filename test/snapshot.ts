/**
 * Host snapshots for rollback tests: `lab/snapshot.ts`'s (files under /etc and /usr/local with
 * owner, mode and hash; net sysctls; iptables; ip rules, routes and addresses; users and groups)
 * (`snapshot`), and `fullSnapshot`: that plus the installed packages and, on systemd hosts, the
 * enabled unit files and the failed units.
 * @module
 */
import { type Lab, labExec } from "../lab/lab.ts";
import { SNAPSHOT_SH } from "../lab/snapshot.ts";

export * from "../lab/snapshot.ts";

/** What the tests add to the lab's snapshot: packages (name, version, dpkg state), units. */
export const SNAPSHOT_EXTRA_SH = `
echo '## packages'
dpkg-query -W -f '\${Package} \${Version} \${db:Status-Abbrev}\\n' 2>/dev/null | sort
if [ -d /run/systemd/system ]; then
  echo '## enabled units'
  systemctl list-unit-files --state=enabled,linked,masked --no-legend --no-pager 2>/dev/null |
    awk '{print $1, $2}' | sort
  echo '## failed units'
  systemctl list-units --state=failed --no-legend --no-pager --plain 2>/dev/null |
    awk '{print $1}' | sort
fi
`;

/**
 * A full snapshot of one lab host: the lab's plus packages and units (the seed, rolling, fault
 * and reboot suites; other tests keep the lab's `snapshot`).
 */
export async function fullSnapshot(lab: Lab, host: string): Promise<string> {
  const r = await labExec(lab, host, ["sh", "-c", SNAPSHOT_SH + SNAPSHOT_EXTRA_SH]);
  if (r.code !== 0 && !r.stdout) throw new Error(`snapshot of ${host} failed: ${r.stderr}`);
  return r.stdout;
}

/** Full snapshots of several hosts, by name. */
export async function fullSnapshots(lab: Lab, hosts: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of hosts) out[h] = await fullSnapshot(lab, h);
  return out;
}
