/**
 * Host snapshots: what an operator compares to say "every byte back" after a rollback. Used by
 * the demo and the tests.
 * Taken inside the host (not over SSH), so taking one does not touch what it measures.
 * @module
 */
import { type Lab, labExec } from "./lab.ts";

/** The snapshot script: files under /etc and /usr/local (path, owner, group, mode, type, size,
 * mtime, link target — directories without mtime; sha256 of every file under 512 KiB — the big ones are the machine's own
 * binaries under /usr/local, compared by size and mtime), net sysctls, iptables, policy
 * routing, addresses, users, groups. */
export const SNAPSHOT_SH = `
export LC_ALL=C
echo '## files'
{ find /etc /usr/local -xdev -type d -printf '%p %u %g %m d\\n'
  find /etc /usr/local -xdev ! -type d -printf '%p %u %g %m %y %s %T@ %l\\n'; } 2>/dev/null | sort
find /etc /usr/local -xdev -type f -size -512k -print0 2>/dev/null | sort -z | xargs -0 sha256sum
echo '## sysctl'
sysctl -a 2>/dev/null | grep '^net\\.' | grep -v -e nf_conntrack_count -e '\\.stable_secret' | sort
echo '## iptables'
for t in filter nat mangle raw; do iptables-save -t $t 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; done
echo '## ip rule'; ip rule
echo '## ip route'; ip route show table all | sort
echo '## ip addr'; ip -o addr | sed 's/ valid_lft.*//' | sort
echo '## users'; getent passwd | sort; getent group | sort
`;

/** Take a snapshot of one lab host. */
export async function snapshot(lab: Lab, host: string): Promise<string> {
  const r = await labExec(lab, host, ["sh", "-c", SNAPSHOT_SH]);
  if (r.code !== 0 && !r.stdout) throw new Error(`snapshot of ${host} failed: ${r.stderr}`);
  return r.stdout;
}

/** Snapshots of several hosts, by name. */
export async function snapshots(lab: Lab, hosts: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of hosts) out[h] = await snapshot(lab, h);
  return out;
}

/** The lines that differ between two snapshots (for assertion messages). */
export function snapshotDiff(a: string, b: string): string {
  const A = new Set(a.split("\n"));
  const B = new Set(b.split("\n"));
  const gone = [...A].filter((l) => !B.has(l)).map((l) => `- ${l}`);
  const added = [...B].filter((l) => !A.has(l)).map((l) => `+ ${l}`);
  return [...gone, ...added].slice(0, 40).join("\n");
}

/** Count of exec sessions sshd logged on a host so far (`LogLevel VERBOSE`). */
export async function sshdSessions(lab: Lab, host: string): Promise<number> {
  const r = await labExec(lab, host, [
    "sh",
    "-c",
    "grep -c 'Starting session: command' /var/log/sshd.log || true",
  ]);
  return Number(r.stdout.trim() || "0");
}
