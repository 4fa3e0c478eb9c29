/**
 * Lab hosts: per-host upper directories and keys, starting a host's PID 1 detached in its
 * namespaces, waiting for its sshd, and telling a recorded PID from a reused one.
 * @module
 */

import { BOOT_NETPLAN, bootNetplan, DETACH_SH } from "./scripts.ts";
import { names, readPid } from "./_state.ts";
import type { LabRecord } from "./types.ts";
import {
  LabError,
  NETNS_DIR,
  pidCmdline,
  pool,
  probePids,
  readIf,
  run,
  sleep,
  SYSTEM_PATH,
  tcpBanner,
  waitFor,
} from "./util.ts";

/**
 * Is `pid` the PID 1 of a lab host living in netns `netns`? (PID 1 of its own PID namespace,
 * and its network namespace is the one bind-mounted at /run/netns/<netns>.)
 */
export async function isHostInit(pid: number, netns: string): Promise<boolean> {
  const info = (await probePids([{ pid, netns }])).get(pid);
  return !!info && info.alive && info.pid1 && info.inNetns;
}

/** The `unshare` process that forked a host's PID 1 (recorded by boot.sh), if it still is. */
export async function isHostParent(pid: number, netns: string, bootSh: string): Promise<boolean> {
  const cmd = await pidCmdline(pid);
  if (!cmd[0]?.endsWith("unshare") || !cmd.includes(bootSh)) return false;
  const info = (await probePids([{ pid, netns }])).get(pid);
  return !!info && info.alive && info.inNetns;
}

/** Start `cmd` fully detached (own session, output to `console`), returning once it forked. */
export async function spawnDetached(console: string, cgroup: string, cmd: string[]) {
  // the console file marks "started": down waits for the pid file of anything that has one
  await Deno.writeTextFile(console, "", { append: true });
  const out = await new Deno.Command("setsid", {
    args: ["-f", "/bin/sh", "-c", DETACH_SH, "sh", console, cgroup, ...cmd],
    env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!out.success) throw new LabError(`cannot start ${cmd[0]} (setsid exit ${out.code})`);
}

/** The last `lines` lines of a file, joined with ` | ` (for one-line error messages). */
export async function tail(path: string, lines = 3): Promise<string> {
  const t = (await readIf(path)) ?? "";
  return t.trim().split("\n").slice(-lines).join(" | ");
}

/** Per-host upper directory: hostname, machine-id (host keys: {@link hostKeys}). */
export async function prepareHost(rec: LabRecord, i: number): Promise<void> {
  const h = `h${i}`;
  const d = `${rec.dir}/fs/${h}`;
  const up = `${d}/upper`;
  for (const p of [d, up, `${up}/etc`, `${up}/etc/ssh`, `${d}/work`, `${d}/root`]) {
    await Deno.mkdir(p, { mode: 0o755 });
  }
  await Deno.writeTextFile(`${up}/etc/hostname`, `${h}\n`);
  const id = crypto.getRandomValues(new Uint8Array(16));
  await Deno.writeTextFile(
    `${up}/etc/machine-id`,
    [...id].map((b) => b.toString(16).padStart(2, "0")).join("") + "\n",
  );
  if (rec.init === "systemd") {
    // the boot address the way an installer gives it: a netplan file on the host's disk
    await Deno.mkdir(`${up}/etc/netplan`, { mode: 0o755 });
    await Deno.writeTextFile(
      `${up}/etc/netplan/${BOOT_NETPLAN}`,
      bootNetplan(rec.hosts[i - 1].ip, prefixBits(rec)),
      { mode: 0o600 },
    );
  }
}

const KEY_TYPES = ["ed25519", "ecdsa"] as const;
/** Hosts per `sh` that runs their ssh-keygens (one process spawn from Deno per chunk). */
const CHUNK = 50;

function chunks(idx: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < idx.length; k += CHUNK) out.push(idx.slice(k, k + CHUNK));
  return out;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Host keys (ed25519 and ecdsa) of hosts `idx` in their upper directories, made by one `sh`
 * per {@link CHUNK} hosts (1,000 hosts: 20 spawns instead of 2,000). Returns the known_hosts
 * lines (`hN,IP type key`), in host order.
 */
export async function hostKeys(rec: LabRecord, idx: readonly number[]): Promise<string[]> {
  const keyFile = (i: number, t: string) => `${rec.dir}/fs/h${i}/upper/etc/ssh/ssh_host_${t}_key`;
  await pool(chunks(idx), 2, async (part) => {
    const script = part.flatMap((i) =>
      KEY_TYPES.map((t) =>
        `ssh-keygen -q -t ${t} -N '' -C ${shq(`root@h${i}`)} -f ${shq(keyFile(i, t))} || exit 1`
      )
    ).join("\n");
    await run("/bin/sh", ["-c", script]);
  });
  const lines: string[] = [];
  for (const i of idx) {
    for (const t of KEY_TYPES) {
      const [type, key] = (await Deno.readTextFile(`${keyFile(i, t)}.pub`)).trim().split(/\s+/);
      lines.push(`h${i},${rec.hosts[i - 1].ip} ${type} ${key}`);
    }
  }
  return lines;
}

/** The prefix length of a lab's subnet (`/24` of labs recorded before larger prefixes). */
function prefixBits(rec: LabRecord): number {
  return Number(rec.subnet.split("/")[1] ?? 24);
}

/** The command line of host `hN`'s PID 1: its netns, fresh mount/UTS/IPC/PID namespaces. */
function hostCommand(rec: LabRecord, i: number): string[] {
  const h = `h${i}`;
  return [
    "nsenter",
    `--net=${NETNS_DIR}/${names.netns(rec.name, i)}`,
    "--",
    "unshare",
    "--mount",
    "--uts",
    "--ipc",
    "--pid",
    "--fork",
    "--propagation",
    "private",
    ...(rec.init === "systemd" ? ["--cgroup"] : []),
    "--",
    "/bin/bash",
    `${rec.dir}/boot.sh`,
    `${rec.dir}/fs`,
    h,
    `${rec.hosts[i - 1].ip}/${prefixBits(rec)}`,
    `${rec.dir}/${h}.pid`,
    rec.name,
    rec.init,
  ];
}

/** Start host `hN`'s PID 1 detached, in its netns and fresh mount/UTS/IPC/PID namespaces. */
export async function startHost(rec: LabRecord, i: number) {
  await startHosts(rec, [i]);
}

/**
 * Start hosts `idx` detached (as {@link startHost}), one `sh` running the `setsid -f` of
 * {@link CHUNK} hosts at a time; returns once every host forked.
 */
export async function startHosts(rec: LabRecord, idx: readonly number[]) {
  for (const i of idx) {
    // the console file marks "started": down waits for the pid file of anything that has one
    await Deno.writeTextFile(`${rec.dir}/h${i}.console`, "", { append: true });
    const cg = rec.cgroupDir ? `${rec.cgroupDir}/${rec.name}-h${i}` : "";
    if (cg) await run("mkdir", ["-p", cg]);
  }
  await pool(chunks(idx), 2, async (part) => {
    const script = part.map((i) => {
      const cg = rec.cgroupDir ? `${rec.cgroupDir}/${rec.name}-h${i}` : "";
      const args = [`${rec.dir}/h${i}.console`, cg, ...hostCommand(rec, i)];
      return `setsid -f /bin/sh -c "$LAB_DETACH" sh ${args.map(shq).join(" ")} ` +
        `</dev/null >/dev/null 2>&1 || { echo "cannot start h${i} (setsid exit $?)" >&2; exit 1; }`;
    }).join("\n");
    await run("/bin/sh", ["-c", script], { env: { LAB_DETACH: DETACH_SH } });
  });
}

/**
 * Wait until the sshd of every host of `idx` (default: all) accepts a connection and sends its
 * banner (one probe of all pending hosts per round). Records each host's PID 1 in `rec`;
 * returns when each host's sshd answered (`performance.now()`), by index.
 */
export async function waitHosts(
  rec: LabRecord,
  deadline: number,
  idx: Iterable<number> = rec.hosts.map((_, k) => k + 1),
): Promise<Map<number, number>> {
  const pending = new Set(idx);
  const ready = new Map<number, number>();
  const started = Date.now();
  while (pending.size) {
    const pids = new Map<number, number>();
    for (const i of pending) {
      const pid = await readPid(`${rec.dir}/h${i}.pid`);
      if (pid !== undefined) pids.set(i, pid);
    }
    const info = await probePids(
      [...pids].map(([i, pid]) => ({ pid, netns: names.netns(rec.name, i) })),
    );
    const candidates: number[] = [];
    for (const i of pending) {
      const h = rec.hosts[i - 1];
      const pid = pids.get(i);
      if (pid === undefined) {
        // a host forked by now writes its pid file within seconds; 1,000 booting at once on 2
        // CPUs take longer
        if (Date.now() - started > 10_000 + 40 * rec.hosts.length) {
          throw new LabError(
            `${h.name} did not start: ${await tail(`${rec.dir}/${h.name}.console`)}`,
          );
        }
        continue;
      }
      h.pid = pid;
      const p = info.get(pid);
      if (!p?.alive) {
        throw new LabError(
          `${h.name} died while booting: ${await tail(`${rec.dir}/${h.name}.console`)}`,
        );
      }
      // after pivot_root + exec (comm no longer "bash"), /proc/PID/root is the host's root
      if (p.pid1 && p.inNetns && p.comm !== "bash" && p.sshdReady) candidates.push(i);
    }
    await Promise.all(candidates.map(async (i) => {
      if ((await tcpBanner(rec.hosts[i - 1].ip, 22, 2000)).startsWith("SSH-")) {
        ready.set(i, performance.now());
        pending.delete(i);
      }
    }));
    if (!pending.size) break;
    if (Date.now() > deadline) {
      const h = rec.hosts[[...pending][0] - 1];
      throw new LabError(`sshd on ${h.name} (${h.ip}) not ready in time (${pending.size} hosts)`);
    }
    await sleep(40);
  }
  return ready;
}

/** Inotify instances a systemd host takes (systemd, journald, networkd, logind, dbus ...). */
export const INOTIFY_PER_SYSTEMD_HOST = 8;

/**
 * The `fs.inotify.max_user_instances` to set before starting `hosts` systemd hosts when `used`
 * instances are taken and the limit is `current`: undefined when it suffices, else in-use +
 * 8 per host + 64 rounded up to a multiple of 512 (never lowered).
 */
export function inotifyLimitFor(current: number, used: number, hosts: number): number | undefined {
  const need = used + hosts * INOTIFY_PER_SYSTEMD_HOST + 64;
  return current >= need ? undefined : Math.ceil(need / 512) * 512;
}

/**
 * Preflight of systemd hosts: enough inotify instances (a machine-wide per-user limit, shared
 * by every systemd on this machine: raised here when too low, saying so on stderr), a cgroup2
 * mount; returns the cgroup parent of the lab's hosts.
 */
export async function checkSystemd(n: number): Promise<string> {
  const key = "fs.inotify.max_user_instances";
  const lim = Number((await run("sysctl", ["-n", key])).stdout.trim());
  // instances in use now (other labs' systemd hosts count against the same limit)
  const used = Number(
    (await run("/bin/sh", [
      "-c",
      "find /proc/[0-9]*/fd -lname 'anon_inode:inotify' 2>/dev/null | wc -l",
    ], { allowFail: true })).stdout.trim(),
  ) || 0;
  const to = inotifyLimitFor(lim, used, n);
  if (to !== undefined) {
    await run("sysctl", ["-q", "-w", `${key}=${to}`]);
    console.error(
      `lab: raised ${key} from ${lim} to ${to} (machine-wide; ${used} in use, ` +
        `systemd hosts need ${INOTIFY_PER_SYSTEMD_HOST} each)`,
    );
  }
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    const st = await run("stat", ["-f", "-c", "%T", root], { allowFail: true });
    if (st.stdout.trim() === "cgroup2fs") return `${root}/haplay-lab`;
  }
  throw new LabError("systemd hosts need a cgroup2 mount (none found)");
}

/** Indexes of the hosts a lab started (or began to start): `hN.pid` / `hN.console` in `dir`. */
export async function hostIndexes(dir: string): Promise<Set<number>> {
  const hostIdx = new Set<number>();
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^h(\d+)\.(pid|console)$/);
    if (m) hostIdx.add(Number(m[1]));
  }
  return hostIdx;
}

/**
 * Kill the hosts' PID 1s (only verified ones: PID 1 of a PID namespace in the lab's netns;
 * killing it kills its whole namespace) and wait for them and their `unshare` parents. Returns
 * what did not go. All hosts are probed by one `sh` per round (1,000 hosts: a few rounds, not
 * thousands of spawns); a PID counts as gone once it is no longer a process in the host's
 * netns, so a PID reused meanwhile (1,000 hosts wrap PIDs fast) is never waited for or killed.
 */
export async function stopHosts(
  name: string,
  dir: string,
  hostIdx: Iterable<number>,
): Promise<string[]> {
  const problems: string[] = [];
  const inits: Array<{ pid: number; netns: string }> = [];
  const parents: Array<{ pid: number; netns: string }> = [];
  for (const i of hostIdx) {
    const netns = names.netns(name, i);
    const pid = await readPid(`${dir}/h${i}.pid`);
    const ppid = await readPid(`${dir}/h${i}.pid.parent`);
    if (ppid !== undefined) parents.push({ pid: ppid, netns });
    if (pid !== undefined) inits.push({ pid, netns });
  }
  const initInfo = await probePids(inits);
  const killed = inits.filter(({ pid }) => {
    const p = initInfo.get(pid);
    if (!p?.alive || !p.pid1 || !p.inNetns) return false;
    try {
      Deno.kill(pid, "SIGKILL");
      return true;
    } catch {
      return false; // already gone
    }
  });
  const stillThere = async (items: Array<{ pid: number; netns: string }>, init: boolean) => {
    const info = await probePids(items);
    return items.filter(({ pid }) => {
      const p = info.get(pid);
      return !!p?.alive && p.inNetns && (!init || p.pid1);
    });
  };
  let left = killed;
  await waitFor(async () => (left = await stillThere(left, true)).length === 0, 10_000, 50);
  for (const { pid } of left) problems.push(`host pid ${pid} did not exit`);
  // the `unshare` parents exit by themselves once their child is gone
  let lingering = parents;
  await waitFor(
    async () => (lingering = await stillThere(lingering, false)).length === 0,
    2000,
    50,
  );
  for (const { pid, netns } of lingering) {
    if (await isHostParent(pid, netns, `${dir}/boot.sh`)) Deno.kill(pid, "SIGKILL");
  }
  if (lingering.length) {
    await waitFor(async () => (lingering = await stillThere(lingering, false)).length === 0, 2000);
  }
  return problems;
}

/** Remove the cgroups of a lab's systemd hosts (and their parent when empty); what is left. */
export async function removeHostCgroups(
  cgroupDir: string,
  name: string,
  hostIdx: Iterable<number>,
): Promise<string | undefined> {
  // systemd made sub-cgroups (system.slice/...): remove depth first, they are empty now
  // (via sh: Deno refuses /sys paths without --allow-all)
  const cgs = [...hostIdx].map((i) => `${cgroupDir}/${name}-h${i}`);
  let err = "";
  const removed = await waitFor(
    async () => {
      const r = await run("/bin/sh", [
        "-c",
        'for d; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} +; done; ' +
        'for d; do [ -e "$d" ] && exit 1; done; exit 0',
        "sh",
        ...cgs,
      ], { allowFail: true });
      err = r.stderr.trim().split("\n")[0];
      return r.code === 0;
    },
    3000,
    100,
  );
  await run("rmdir", [cgroupDir], { allowFail: true }); // only if empty: other labs
  return removed ? undefined : `cgroups left: ${err}`;
}
