/**
 * Fixture of the data-path tests: the VM lab brought up once per test file (and ALWAYS torn
 * down after), guest snapshots over SSH, VRRP/IPVS observations, polling.
 * @module
 */
import { vmExec, vmSh } from "../../vmlab/exec.ts";
import { vmDown, vmOwner, vmUp } from "../../vmlab/lab.ts";
import type { VmLab, VmUpOptions } from "../../vmlab/types.ts";
import { isRoot, onPath } from "../../labkit/sys.ts";
import { SNAPSHOT_SH } from "../snapshot.ts";
import { requires } from "../_requires.ts";

/** Programs the VM lab needs on this machine (Debian packages in parentheses). */
export const NEEDED_PROGRAMS: Array<[string, string]> = [
  ["qemu-system-x86_64", "qemu-system-x86"],
  ["qemu-img", "qemu-utils"],
  ["debootstrap", "debootstrap"],
  ["xz", "xz-utils"],
  ["mkfs.ext4", "e2fsprogs"],
  ["ssh", "openssh-client"],
];

/** Names of needed programs missing here, with their packages. */
export async function missingPrograms(): Promise<string[]> {
  const out: string[] = [];
  for (const [p, pkg] of NEEDED_PROGRAMS) {
    if (!await onPath(p)) out.push(`${p} (${pkg})`);
  }
  return out;
}

/**
 * Registers a VM lab test. Without root it is ignored with a printed reason, except with env
 * `CI`: then it runs and fails (a CI that skips the data path proves nothing). Missing programs
 * always fail it, naming the Debian packages.
 */
export function vmTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test(requires({ "root (netns, taps, chroot)": isRoot() }, {
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const missing = await missingPrograms();
      if (missing.length) throw new Error(`missing on this machine: ${missing.join(", ")}`);
      await fn(t);
    },
  }));
}

/**
 * Brings lab `opts.name` up, runs `fn`, ALWAYS tears it down after. A stale lab of that name
 * left by a finished or killed run is torn down first; one owned by a live process is not.
 */
export async function withVmLab(
  opts: VmUpOptions & { name: string },
  fn: (lab: VmLab) => Promise<void>,
): Promise<void> {
  const owner = await vmOwner(opts.name, opts.stateDir);
  if (owner !== undefined && owner !== Deno.pid) {
    throw new Error(`vmlab ${opts.name} is in use by running process ${owner}`);
  }
  await vmDown(opts.name, opts.stateDir);
  const lab = await vmUp(opts);
  let failure: unknown;
  try {
    await fn(lab);
  } catch (e) {
    failure = e;
  }
  try {
    await vmDown(opts.name, opts.stateDir);
  } catch (e) {
    if (failure === undefined) throw e;
    console.error(`(vmlab ${opts.name} teardown also failed: ${(e as Error).message})`);
  }
  if (failure !== undefined) throw failure;
}

/**
 * The snapshot script of test/snapshot.ts plus the IPVS table (without loading ip_vs) and the
 * kernel's IPVS sync daemon threads (`ipvs-m:*`, `ipvs-b:*`: a rollback must stop those its
 * deploy's `connection_sync` started).
 */
export const VM_SNAPSHOT_SH = `${SNAPSHOT_SH}
echo '## ipvs'
if [ -r /proc/net/ip_vs ]; then grep -E '^(TCP|UDP|FWM) |-> [0-9A-F]{8}:' /proc/net/ip_vs; fi
echo '## ipvs sync daemons (kernel threads)'
cat /proc/[0-9]*/comm 2>/dev/null | grep -E '^ipvs-[mb]:' | sort
`;

/** Snapshots of every guest, by name (in parallel). */
export async function snapshots(lab: VmLab): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(lab.hosts.map(async (h) => {
    const r = await vmExec(lab, h.name, ["sh", "-c", VM_SNAPSHOT_SH], { timeoutMs: 300_000 });
    if (!r.stdout.includes("## ipvs")) throw new Error(`snapshot of ${h.name} failed: ${r.stderr}`);
    out[h.name] = r.stdout;
  }));
  return out;
}

/**
 * Lines that differ between two snapshots. `net.*` sysctl keys present in only one of them are
 * not differences: they appear when a kernel module is loaded (ip_vs, conntrack, nf_nat), and
 * loaded modules are kernel state, not host configuration.
 */
export function snapshotChanges(a: string, b: string): string[] {
  const keys = (s: string) =>
    new Set(s.split("\n").filter((l) => /^net\.\S+ = /.test(l)).map((l) => l.split(" = ")[0]));
  const ka = keys(a), kb = keys(b);
  const keep = (l: string, other: Set<string>) => {
    const m = /^(net\.\S+) = /.exec(l);
    return !m || other.has(m[1]);
  };
  const A = new Set(a.split("\n").filter((l) => keep(l, kb)));
  const B = new Set(b.split("\n").filter((l) => keep(l, ka)));
  return [
    ...[...A].filter((l) => !B.has(l)).map((l) => `- ${l}`),
    ...[...B].filter((l) => !A.has(l)).map((l) => `+ ${l}`),
  ];
}

/** Runs each host's command of `cmds` (in parallel); throws on a failure. */
export async function runEach(lab: VmLab, cmds: Record<string, string>): Promise<void> {
  await Promise.all(Object.entries(cmds).map(([h, c]) => vmSh(lab, h, c)));
}

/** The directors holding `vip` on eth0. */
export async function holders(lab: VmLab, directors: string[], vip: string): Promise<string[]> {
  const out: string[] = [];
  await Promise.all(directors.map(async (d) => {
    const r = await vmExec(lab, d, "ip -o -4 addr show dev eth0");
    if (r.stdout.includes(` ${vip}/`)) out.push(d);
  }));
  return out.sort();
}

/** Real-server lines (`A.B.C.D:PORT`) of the IPVS table of `host`. */
export async function ipvsReals(lab: VmLab, host: string): Promise<string[]> {
  const out = await vmSh(lab, host, "ipvsadm -Ln 2>/dev/null || true");
  return [...out.matchAll(/->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s/g)].map((m) => m[1]);
}

/** Polls `pred` (every 250 ms) until true; returns the seconds it took, or throws after `ms`. */
export async function until(
  what: string,
  ms: number,
  pred: () => Promise<boolean>,
): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await pred()) return Math.round((performance.now() - t0) / 100) / 10;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}
