/**
 * The benchmark's hosts: a namespace lab recreated before every measured converge, so both
 * tools start from the same state, and a baseline every fresh lab gets (apt lists aged two hours,
 * as on a host whose package cache is not fresh: both tools refresh it once; the 20 files of
 * scenario 3 at generation 0).
 *
 * The reset is verified: the state of a host is its overlay upper directory (everything it
 * differs in from the shared lower layers: this machine's `/` and the lab base layer) plus its
 * live network state; {@link hostState} hashes both, leaving out what differs per lab instance by
 * design (host keys, machine-id, logs, mtimes).
 * @module
 */
import { createHash } from "node:crypto";
import { type Lab, labDown, labExec, labUp } from "../lab/lab.ts";
import type { BenchHost } from "./inventories.ts";
import { BENCH_DIR, BENCH_FILES, benchContent, benchFile } from "./templates_playbook.ts";

/** Recreate lab `name` (down if up, then up with the apt repo). */
export async function freshLab(name: string, subnet: string, hosts: number): Promise<Lab> {
  await labDown(name);
  // lab init: the figures in docs/bench.md were measured on it (systemd hosts cost ~8 MiB each)
  return await labUp({ name, hosts, subnet, aptRepo: true, init: "lab" });
}

/** sh making the baseline of one host (run inside it as root). */
export function baselineScript(h: BenchHost): string {
  const files = Array.from({ length: BENCH_FILES }, (_, i) => {
    const n = i + 1;
    return `cat > ${benchFile(n)} <<'HAPLAY_BENCH_EOF'\n${
      benchContent(h.name, h.ip, n, "0")
    }HAPLAY_BENCH_EOF`;
  });
  return [
    "set -e",
    "umask 022",
    "touch -d '2 hours ago' /var/lib/apt/lists",
    `mkdir -p ${BENCH_DIR}`,
    ...files,
    "",
  ].join("\n");
}

/** Run `fn` over `items`, `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** Give every host its baseline. */
export async function makeBaseline(lab: Lab, hosts: BenchHost[]): Promise<void> {
  await pool(hosts, 8, async (h) => {
    const r = await labExec(lab, h.labHost, ["/bin/sh", "-s"], { stdin: baselineScript(h) });
    if (r.code !== 0) throw new Error(`baseline of ${h.name} failed: ${r.stderr.trim()}`);
  });
}

/** Paths (relative to the upper dir) never part of a host's state: per-instance or logs. */
const ALWAYS_SKIP = [/^etc\/machine-id$/, /^etc\/ssh\/ssh_host_/, /^var\/log\//];

/** One path of a host's upper directory: type, mode, owner and content digest. */
export type UpperState = Map<string, string>;

/** Walk a host's overlay upper directory (from this machine, read-only). */
export async function upperState(
  lab: Lab,
  labHost: string,
  skip: RegExp[] = [],
  normalize: (path: string, text: string) => string = (_p, t) => t,
): Promise<UpperState> {
  const root = `${lab.dir}/fs/${labHost}/upper`;
  const out: UpperState = new Map();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if ([...ALWAYS_SKIP, ...skip].some((r) => r.test(p) || r.test(`${p}/`))) continue;
      const st = await Deno.lstat(`${root}/${p}`);
      const meta = `${((st.mode ?? 0) & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymlink) out.set(p, `l ${meta} ${await Deno.readLink(`${root}/${p}`)}`);
      else if (st.isDirectory) {
        out.set(p, `d ${meta}`);
        await walk(p);
      } else if (st.isFile) {
        const bytes = await Deno.readFile(`${root}/${p}`);
        const text = normalize(p, new TextDecoder().decode(bytes));
        out.set(p, `f ${meta} ${createHash("sha256").update(text).digest("hex").slice(0, 16)}`);
      } else out.set(p, `o ${meta}`); // whiteouts (char 0/0) and the like
    }
  };
  await walk("");
  return out;
}

/** The live network/process state of a host (nsenter, not SSH: no sshd log lines). */
export async function liveState(lab: Lab, labHost: string): Promise<string> {
  const r = await labExec(lab, labHost, [
    "/bin/sh",
    "-c",
    "iptables-save 2>/dev/null | grep -v -e '^#' -e '^:'; sysctl -n net.ipv4.ip_forward; " +
    "ip -4 -o addr show | awk '{print $2, $4}'; echo keepalived=$(pgrep -c -x keepalived)",
  ]);
  return r.stdout;
}

/** Digest of a host's whole state (upper dir + live state). */
export async function hostState(lab: Lab, labHost: string): Promise<string> {
  const up = await upperState(lab, labHost);
  const text = [...up].sort().map(([p, s]) => `${p} ${s}`).join("\n") +
    "\n" + await liveState(lab, labHost);
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Digests of every host, by inventory name. */
export async function labState(lab: Lab, hosts: BenchHost[]): Promise<Record<string, string>> {
  const d = await pool(hosts, 8, (h) => hostState(lab, h.labHost));
  return Object.fromEntries(hosts.map((h, i) => [h.name, d[i]]));
}

/** Number of `Starting session` (exec channels) and `Accepted` (logins) lines of a host's sshd log. */
export async function sshdCounts(
  lab: Lab,
  labHost: string,
): Promise<{ execs: number; logins: number }> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${lab.dir}/fs/${labHost}/upper/var/log/sshd.log`);
  } catch {
    // no log yet: nothing happened
  }
  let execs = 0, logins = 0;
  for (const l of text.split("\n")) {
    if (l.includes("Starting session")) execs++;
    else if (l.includes("Accepted publickey")) logins++;
  }
  return { execs, logins };
}

/** sshd counters of every host. */
export async function labSshd(lab: Lab, hosts: BenchHost[]) {
  const c = await pool(hosts, 16, (h) => sshdCounts(lab, h.labHost));
  return Object.fromEntries(hosts.map((h, i) => [h.name, c[i]]));
}
