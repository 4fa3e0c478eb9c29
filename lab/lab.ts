/**
 * haplay's built-in namespace lab: N simulated Debian hosts on this machine (root required).
 *
 * Each host has its own network namespace (veth `eth0` on the lab bridge `<name>br`, address
 * `P.(10+i)/24`, IPv6 off, no default route), its own mount/UTS/IPC/PID namespaces with an
 * overlay root (lower layers: a lab-wide base layer over this machine's own `/`; upper: a
 * per-host directory on a per-lab tmpfs), a real OpenSSH sshd with its own host keys and a
 * busybox syslogd. The lab writes an SSH client key, `known_hosts`, `ssh_config` and a haplay
 * inventory into its state directory.
 *
 * Safety rules the code follows: every name it creates is derived from the lab name (netns
 * `<name>-hN`, links `<name>br` / `<name>hN`, mounts under the state directory); it only kills
 * processes whose PID it recorded and only after checking they are what it started (a host's
 * PID 1 must be PID 1 of its PID namespace and live in the lab's netns; the apt httpd must have
 * the recorded command line).
 * @module
 */

import { APT_REPO_PACKAGES, ensureAptRepo } from "./apt_repo.ts";
import { checkVersion, ensureKeepalived } from "./keepalived_build.ts";
import { BOOT_SH, DETACH_SH, LAB_INIT, SYSTEMCTL_SHIM } from "./scripts.ts";
import {
  exists,
  LabError,
  linkNames,
  mountPoints,
  pidAlive,
  pidCmdline,
  pool,
  probePids,
  processIdentity,
  putFile,
  readIf,
  removeIf,
  run,
  sleep,
  sysctlSet,
  SYSTEM_PATH,
  waitFor,
} from "./util.ts";

export { LabError } from "./util.ts";

/** Options of {@link labUp}. */
export interface LabOptions {
  /** Lab name, `[a-z][a-z0-9]{0,6}` (it prefixes interface names, limited to 15 chars). */
  name: string;
  /** Number of hosts, 1..200 (`h1`..`hN`). */
  hosts: number;
  /** `198.18.X.0/24` or `198.19.X.0/24` (RFC 2544 benchmark space) only. */
  subnet: string;
  /** Serve a cached flat apt repo (keepalived, iptables-persistent and deps) to the hosts. */
  aptRepo?: boolean;
  /**
   * Serve keepalived VERSION built from upstream (`keepalived_build.ts`, cached) instead of
   * Debian's 2.2.7 in the apt repository (implies `aptRepo`).
   */
  keepalived?: string;
  /** PID 1 of the hosts: `lab` (tiny bash init, default) or `systemd` (real systemd). */
  init?: "lab" | "systemd";
  /** Parent of the lab's state directory; default env `HAPLAY_LAB_DIR` or `/tmp/haplay-lab`. */
  stateDir?: string;
}

/** One host of a running lab. */
export interface LabHost {
  /** Host name, `h1`..`hN` (also its hostname inside). */
  name: string;
  /** IPv4 address of its `eth0`. */
  ip: string;
  /** Name of its network namespace (`<lab>-hN`, see `ip netns list`). */
  netns: string;
  /** PID (in this machine's PID namespace) of the host's PID 1. */
  pid: number;
}

/** A running lab, as returned by {@link labUp} and stored in `<dir>/lab.json`. */
export interface Lab {
  /** Lab name. */
  name: string;
  /** State directory of this lab (`stateDir/name`). */
  dir: string;
  /** The lab subnet, `198.1[89].X.0/24`. */
  subnet: string;
  /** Address of the bridge (`P.1`), the hosts' gateway-less neighbour on the machine. */
  bridgeIp: string;
  /** The hosts, `h1`..`hN`. */
  hosts: LabHost[];
  /** SSH client private key authorised for root and `deploy` on every host. */
  keyFile: string;
  /** known_hosts with every host's keys (`h1,IP keytype key`). */
  knownHosts: string;
  /** ssh_config for `ssh -F` (Host h1.., strict host key checking, the lab key). */
  sshConfig: string;
  /** Path of the haplay (Ansible YAML) inventory `inventory.yaml`. */
  inventory: string;
  /** URL of the lab apt repository (`http://P.1:8080/`) when started with `aptRepo`. */
  aptRepoUrl?: string;
}

/** What lab.json holds beyond the public {@link Lab} fields. */
interface LabRecord extends Lab {
  hostCount: number;
  init: "lab" | "systemd";
  complete: boolean;
  netnsMountCreated: boolean;
  aptRepoDir?: string;
  cgroupDir?: string;
  /** The process that brought the lab up (pid + start time, to survive pid reuse). */
  owner?: string;
}

/** Non-root user created on every host (passwordless sudo, lab key). */
export const LAB_USER = "deploy";
/** Maximum number of hosts of one lab. */
export const MAX_HOSTS = 200;
/** Port of the lab apt repository on the bridge address. */
export const APT_PORT = 8080;
const NAME_RE = /^[a-z][a-z0-9]{0,6}$/;
const CONCURRENCY = 8;
const NETNS_DIR = "/run/netns";

/** Default parent of lab state directories: env `HAPLAY_LAB_DIR` or `/tmp/haplay-lab`. */
export function defaultStateDir(): string {
  return Deno.env.get("HAPLAY_LAB_DIR") || "/tmp/haplay-lab";
}

/** Throw unless `name` is a valid lab name. */
export function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new LabError(`lab name must match [a-z][a-z0-9]{0,6}, got '${name}'`);
  }
}

/** `198.18.X.0/24` -> `198.18.X` (the /24 prefix); throws outside 198.18.0.0/15. */
export function subnetPrefix(subnet: string): string {
  const m = subnet.match(/^(198\.1[89]\.(\d{1,3}))\.0\/24$/);
  if (!m || Number(m[2]) > 255 || (m[2].length > 1 && m[2].startsWith("0"))) {
    throw new LabError(`subnet must be 198.18.X.0/24 or 198.19.X.0/24, got '${subnet}'`);
  }
  return m[1];
}

function labDir(name: string, stateDir?: string): string {
  const base = (stateDir ?? defaultStateDir()).replace(/\/+$/, "") || "/";
  if (!base.startsWith("/")) return `${Deno.cwd()}/${base}/${name}`;
  return `${base}/${name}`;
}

const names = {
  bridge: (lab: string) => `${lab}br`,
  netns: (lab: string, i: number) => `${lab}-h${i}`,
  veth: (lab: string, i: number) => `${lab}h${i}`,
};

const debugOn = !!Deno.env.get("HAPLAY_LAB_DEBUG");
function debug(msg: string) {
  if (debugOn) console.error(`[lab ${new Date().toISOString().slice(11, 23)}] ${msg}`);
}

function fault(point: string) {
  // test hook: HAPLAY_LAB_FAULT=<point> makes labUp fail there (points: base, hosts, ready)
  if (Deno.env.get("HAPLAY_LAB_FAULT") === point) {
    throw new LabError(`injected fault at '${point}' (HAPLAY_LAB_FAULT)`);
  }
}

function requireRoot() {
  if (Deno.uid() !== 0) throw new LabError("the lab needs root (namespaces, mounts, links)");
}

async function findTool(tool: string): Promise<string> {
  for (const d of SYSTEM_PATH.split(":")) {
    if (await exists(`${d}/${tool}`)) return `${d}/${tool}`;
  }
  throw new LabError(`missing program '${tool}' (needed by the lab)`);
}

/** Links of this machine (root netns) whose name matches `re`. */
async function linksNamed(re: RegExp): Promise<string[]> {
  return (await linkNames()).filter((n) => re.test(n));
}

async function netnsNamed(re: RegExp): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(NETNS_DIR)) if (re.test(e.name)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

async function subnetInUse(prefix: string): Promise<string | undefined> {
  const addrs = await run("ip", ["-4", "-o", "addr", "show"]);
  for (const line of addrs.stdout.split("\n")) {
    if (line.includes(` inet ${prefix}.`)) return `address on ${line.split(/\s+/)[1]}`;
  }
  const routes = await run("ip", ["-4", "route", "show", "table", "all"]);
  for (const line of routes.stdout.split("\n")) {
    const dst = line.split(" ")[0] === "local" ? line.split(" ")[1] : line.split(" ")[0];
    if (dst.startsWith(`${prefix}.`)) return `route '${line.trim()}'`;
  }
  return undefined;
}

async function writeRecord(rec: LabRecord) {
  const tmp = `${rec.dir}/lab.json.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(rec, null, 2) + "\n");
  await Deno.rename(tmp, `${rec.dir}/lab.json`);
}

async function readRecord(dir: string): Promise<LabRecord | undefined> {
  const text = await readIf(`${dir}/lab.json`);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LabRecord;
  } catch {
    return undefined;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const t = (await readIf(path))?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * Is `pid` the PID 1 of a lab host living in netns `netns`? (PID 1 of its own PID namespace,
 * and its network namespace is the one bind-mounted at /run/netns/<netns>.)
 */
async function isHostInit(pid: number, netns: string): Promise<boolean> {
  const info = (await probePids([{ pid, netns }])).get(pid);
  return !!info && info.alive && info.pid1 && info.inNetns;
}

/** The `unshare` process that forked a host's PID 1 (recorded by boot.sh), if it still is. */
async function isHostParent(pid: number, netns: string, bootSh: string): Promise<boolean> {
  const cmd = await pidCmdline(pid);
  if (!cmd[0]?.endsWith("unshare") || !cmd.includes(bootSh)) return false;
  const info = (await probePids([{ pid, netns }])).get(pid);
  return !!info && info.alive && info.inNetns;
}

function httpdArgs(bridgeIp: string, repoDir: string): string[] {
  return ["busybox", "httpd", "-f", "-p", `${bridgeIp}:${APT_PORT}`, "-h", repoDir];
}

/** Start `cmd` fully detached (own session, output to `console`), returning once it forked. */
async function spawnDetached(console: string, cgroup: string, cmd: string[]) {
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

async function tcpBanner(ip: string, port: number, timeoutMs: number): Promise<string> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: ip, port });
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    return n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
  } catch {
    return "";
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the timer
    }
  }
}

async function tail(path: string, lines = 3): Promise<string> {
  const t = (await readIf(path)) ?? "";
  return t.trim().split("\n").slice(-lines).join(" | ");
}

/** Mark `dir` as an overlayfs opaque directory (lower layers do not show through it). */
async function setOpaque(dir: string) {
  // perl (essential in Debian) can call setxattr(2) directly; no attr/python needed
  const nr = ({ x86_64: 188, aarch64: 5 } as Record<string, number>)[Deno.build.arch];
  if (nr === undefined) throw new LabError(`setxattr: unsupported arch ${Deno.build.arch}`);
  await run("perl", [
    "-e",
    'my ($p,$n,$v)=($ARGV[0],"trusted.overlay.opaque","y"); ' +
    `syscall(${nr}, $p, $n, $v, 1, 0) == 0 or die "setxattr $p: $!\\n"`,
    dir,
  ]);
}

/** Run a command chrooted into `root` with this machine's /dev and a fresh /proc (in a
 * throwaway mount namespace, so nothing stays mounted). */
function inChroot(root: string, args: string[], allowFail = false) {
  return run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "--",
    "/bin/sh",
    "-c",
    'r=$1; shift; mount --bind /dev "$r/dev" && mount -t proc proc "$r/proc" && exec chroot "$r" "$@"',
    "sh",
    root,
    ...args,
  ], {
    allowFail,
    env: { PATH: SYSTEM_PATH, LANG: "C.UTF-8", DEBIAN_FRONTEND: "noninteractive", HOME: "/root" },
  });
}

/** The lab-wide middle layer between this machine's `/` and each host's upper directory. */
async function buildBase(rec: LabRecord, prefix: string) {
  const fs = `${rec.dir}/fs`;
  const B = `${fs}/base`, W = `${fs}/base.w`, M = `${fs}/base.m`;
  for (const d of [B, W, M]) await Deno.mkdir(d, { mode: 0o755 });
  // this machine's /root (dotfiles, caches, tokens) must not show in hosts: opaque /root with
  // Debian's stock root dotfiles
  await Deno.mkdir(`${B}/root`, { mode: 0o700 });
  await Deno.chmod(`${B}/root`, 0o700);
  await setOpaque(`${B}/root`);
  for (const f of ["bashrc", "profile"]) {
    const src = await readIf(`/usr/share/base-files/dot.${f}`);
    if (src !== undefined) await putFile(`${B}/root/.${f}`, src, 0o644);
  }
  await run("mount", [
    "-t",
    "overlay",
    `haplay-${rec.name}-base`,
    "-o",
    `lowerdir=/,upperdir=${B},workdir=${W}`,
    M,
  ]);
  try {
    // this machine's host keys must not be shared: whiteout them, each host gets its own
    for await (const e of Deno.readDir(`${M}/etc/ssh`)) {
      if (e.name.startsWith("ssh_host_")) await Deno.remove(`${M}/etc/ssh/${e.name}`);
    }
    const hostLines = rec.hosts.map((h) => `${h.ip} ${h.name}`);
    await putFile(
      `${M}/etc/hosts`,
      [
        "127.0.0.1 localhost",
        "::1 localhost ip6-localhost ip6-loopback",
        `${prefix}.1 labgw`,
        ...hostLines,
        "",
      ].join("\n"),
    );
    // unprivileged sudo user (key auth only)
    const pw = await inChroot(M, ["getent", "passwd", LAB_USER], true);
    if (pw.code !== 0) {
      await inChroot(M, ["useradd", "-m", "-s", "/bin/bash", "-G", "sudo", LAB_USER]);
    }
    await inChroot(M, ["usermod", "-p", "*", LAB_USER]); // not locked, no password
    const [, , uid, gid, , home] = (await inChroot(M, ["getent", "passwd", LAB_USER])).stdout
      .trim().split(":");
    await putFile(
      `${M}/etc/sudoers.d/haplay-lab-${LAB_USER}`,
      `${LAB_USER} ALL=(ALL) NOPASSWD:ALL\n`,
      0o440,
    );
    const pub = await Deno.readTextFile(`${rec.keyFile}.pub`);
    for (const [h, u, g] of [["/root", 0, 0], [home, Number(uid), Number(gid)]] as const) {
      await Deno.mkdir(`${M}${h}/.ssh`, { recursive: true, mode: 0o700 });
      await Deno.chmod(`${M}${h}/.ssh`, 0o700);
      await putFile(`${M}${h}/.ssh/authorized_keys`, pub, 0o600);
      await Deno.chown(`${M}${h}/.ssh`, u, g);
      await Deno.chown(`${M}${h}/.ssh/authorized_keys`, u, g);
    }
    await removeIf(`${M}/root/.ssh/known_hosts`);
    await Deno.mkdir(`${M}/etc/ssh/sshd_config.d`, { recursive: true });
    await putFile(
      `${M}/etc/ssh/sshd_config.d/00-haplay-lab.conf`,
      [
        "# haplay lab host",
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        "HostKey /etc/ssh/ssh_host_ecdsa_key",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "UseDNS no",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    await removeIf(`${M}/etc/motd`);
    // like container images: no man-db index rebuilds in dpkg triggers (saves seconds per
    // apt-get install in hosts, and when purging packages below)
    await removeIf(`${M}/var/lib/man-db/auto-update`);
    // services are never auto-started by dpkg maintainer scripts (as in Docker images)
    await putFile(`${M}/usr/sbin/policy-rc.d`, "#!/bin/sh\nexit 101\n", 0o755);
    // no DNS and no route out: resolver and apt fail fast and locally
    await putFile(`${M}/etc/resolv.conf`, "# haplay lab host: no DNS\n");
    await removeIf(`${M}/etc/apt/sources.list`);
    for await (const e of Deno.readDir(`${M}/etc/apt/sources.list.d`)) {
      await Deno.remove(`${M}/etc/apt/sources.list.d/${e.name}`);
    }
    if (rec.aptRepoUrl) {
      await putFile(
        `${M}/etc/apt/sources.list.d/haplay-lab.list`,
        `deb [trusted=yes] ${rec.aptRepoUrl} ./\n`,
      );
      // the packages the repo serves must really be installable: not installed in hosts
      await inChroot(M, ["dpkg", "--purge", ...APT_REPO_PACKAGES]);
    }
    for (const d of ["etc/lab", "usr/local/sbin", "usr/local/bin"]) {
      await Deno.mkdir(`${M}/${d}`, { recursive: true, mode: 0o755 });
    }
    await putFile(`${M}/usr/local/sbin/lab-init`, LAB_INIT, 0o755);
    if (rec.init === "lab") {
      await putFile(`${M}/usr/local/bin/systemctl`, SYSTEMCTL_SHIM, 0o755);
    } else {
      await removeIf(`${M}/usr/sbin/policy-rc.d`); // like a real systemd host
      await Deno.mkdir(`${M}/etc/systemd/journald.conf.d`, { recursive: true });
      await putFile(
        `${M}/etc/systemd/journald.conf.d/haplay-lab.conf`,
        "[Journal]\nStorage=volatile\nRuntimeMaxUse=4M\n",
      );
      // sshd logs to /var/log/sshd.log like in lab-init hosts
      await Deno.mkdir(`${M}/etc/systemd/system/ssh.service.d`, { recursive: true });
      await putFile(
        `${M}/etc/systemd/system/ssh.service.d/haplay-lab.conf`,
        "[Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS -E /var/log/sshd.log\n",
      );
      // units of a VM image that make no sense in a lab host
      for (
        const u of [
          "postgresql.service",
          "systemd-timesyncd.service",
          "getty@tty1.service",
          "console-getty.service",
          "systemd-pstore.service",
          "e2scrub_reap.service",
          "apt-daily.timer",
          "apt-daily-upgrade.timer",
          "e2scrub_all.timer",
          "fstrim.timer",
          "man-db.timer",
          "dpkg-db-backup.timer",
          "uml-utilities.service",
        ]
      ) {
        await removeIf(`${M}/etc/systemd/system/${u}`);
        await Deno.symlink("/dev/null", `${M}/etc/systemd/system/${u}`);
      }
    }
  } finally {
    await run("umount", [M]);
  }
  await Deno.remove(M);
  await Deno.remove(W, { recursive: true });
}

/** Per-host upper directory: hostname, machine-id, host keys. Returns known_hosts lines. */
async function prepareHost(rec: LabRecord, i: number): Promise<string[]> {
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
  const lines: string[] = [];
  for (const t of ["ed25519", "ecdsa"]) {
    const f = `${up}/etc/ssh/ssh_host_${t}_key`;
    await run("ssh-keygen", ["-q", "-t", t, "-N", "", "-C", `root@${h}`, "-f", f]);
    const [type, key] = (await Deno.readTextFile(`${f}.pub`)).trim().split(/\s+/);
    lines.push(`${h},${rec.hosts[i - 1].ip} ${type} ${key}`);
  }
  return lines;
}

async function startHost(rec: LabRecord, i: number) {
  const h = `h${i}`;
  const args = [
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
    `${rec.hosts[i - 1].ip}/24`,
    `${rec.dir}/${h}.pid`,
    rec.name,
    rec.init,
  ];
  const cg = rec.cgroupDir ? `${rec.cgroupDir}/${rec.name}-${h}` : "";
  if (cg) await run("mkdir", ["-p", cg]);
  await spawnDetached(`${rec.dir}/${h}.console`, cg, args);
}

/** Wait until every host's sshd listens (one probe of all pending hosts per round). */
async function waitHosts(rec: LabRecord, deadline: number) {
  const pending = new Set(rec.hosts.map((_, k) => k + 1));
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
        if (Date.now() - started > 10_000) {
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
      if ((await tcpBanner(rec.hosts[i - 1].ip, 22, 2000)).startsWith("SSH-")) pending.delete(i);
    }));
    if (!pending.size) break;
    if (Date.now() > deadline) {
      const h = rec.hosts[[...pending][0] - 1];
      throw new LabError(`sshd on ${h.name} (${h.ip}) not ready in time (${pending.size} hosts)`);
    }
    await sleep(40);
  }
}

function sshConfigText(rec: LabRecord): string {
  const lines: string[] = [`# haplay lab ${rec.name} (ssh -F ${rec.sshConfig} h1)`];
  for (const h of rec.hosts) lines.push(`Host ${h.name} ${h.ip}`, `  HostName ${h.ip}`);
  lines.push(
    "Host *",
    "  User root",
    `  IdentityFile ${rec.keyFile}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${rec.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  ConnectTimeout 5",
    "  LogLevel ERROR",
    "",
  );
  return lines.join("\n");
}

function yamlScalar(s: string): string {
  return /^[A-Za-z0-9_./@+-]+$/.test(s) ? s : JSON.stringify(s);
}

function inventoryText(rec: LabRecord): string {
  const lines = [
    `# haplay lab ${rec.name}: inventory (made by lab up; removed by lab down)`,
    "all:",
    "  vars:",
    "    ansible_user: root",
    `    ansible_ssh_private_key_file: ${yamlScalar(rec.keyFile)}`,
    `    haplay_known_hosts: ${yamlScalar(rec.knownHosts)}`,
    "  hosts:",
  ];
  for (const h of rec.hosts) lines.push(`    ${h.name}:`, `      ansible_host: ${h.ip}`);
  return lines.join("\n") + "\n";
}

function publicLab(rec: LabRecord): Lab {
  const lab: Lab = {
    name: rec.name,
    dir: rec.dir,
    subnet: rec.subnet,
    bridgeIp: rec.bridgeIp,
    hosts: rec.hosts.map((h) => ({ ...h })),
    keyFile: rec.keyFile,
    knownHosts: rec.knownHosts,
    sshConfig: rec.sshConfig,
    inventory: rec.inventory,
  };
  if (rec.aptRepoUrl) lab.aptRepoUrl = rec.aptRepoUrl;
  return lab;
}

/** The parent of lab state dirs; created (when `create`) and checked to be safe. */
async function stateParent(stateDir: string | undefined, create: boolean): Promise<string> {
  const parent = labDir("", stateDir).replace(/\/$/, "") || "/";
  if (create) await Deno.mkdir(parent, { recursive: true, mode: 0o755 });
  // the default lives in /tmp: refuse a directory another user could have prepared for us
  const pst = await Deno.lstat(parent);
  if (!pst.isDirectory || pst.uid !== 0 || ((pst.mode ?? 0) & 0o022) !== 0) {
    throw new LabError(
      `state directory ${parent} must be a real directory owned by root, not group/world-writable`,
    );
  }
  return parent;
}

/**
 * Run `fn` holding an exclusive lock on `<parent>/.<name>.lock`: up and down of one lab name
 * never interleave, even from different processes (they wait for each other).
 */
async function withNameLock<T>(parent: string, name: string, fn: () => Promise<T>): Promise<T> {
  const file = await Deno.open(`${parent}/.${name}.lock`, { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close(); // releases the lock
  }
}

/**
 * Bring a lab up: bridge, hosts (namespaces, overlay roots, sshd), client files and, with
 * `aptRepo`, the apt repository server. Host creation runs with bounded concurrency.
 * On any failure everything made so far is torn down (via {@link labDown}) before rethrowing.
 * Fails without touching anything when the name's state directory, bridge, netns or links
 * exist already, or when the subnet is in use on this machine.
 */
export async function labUp(opts: LabOptions): Promise<Lab> {
  const t0 = performance.now();
  checkName(opts.name);
  const prefix = subnetPrefix(opts.subnet);
  const n = opts.hosts;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) {
    throw new LabError(`hosts must be 1..${MAX_HOSTS}, got ${n}`);
  }
  const init = opts.init ?? "lab";
  if (init !== "lab" && init !== "systemd") throw new LabError(`unknown init '${init}'`);
  requireRoot();
  const dir = labDir(opts.name, opts.stateDir);
  if (/\s/.test(dir)) throw new LabError(`state directory must not contain spaces: ${dir}`);
  const parent = await stateParent(opts.stateDir, true);
  return await withNameLock(
    parent,
    opts.name,
    () => upLocked(opts, { prefix, n, init, dir, t0 }),
  );
}

/** labUp, holding the name's lock. */
async function upLocked(
  opts: LabOptions,
  p: { prefix: string; n: number; init: "lab" | "systemd"; dir: string; t0: number },
): Promise<Lab> {
  const { prefix, n, init, dir, t0 } = p;
  const name = opts.name;
  if (await exists(dir)) {
    throw new LabError(`lab ${name} is already up (${dir} exists); run: lab down --name ${name}`);
  }
  if ((await linksNamed(new RegExp(`^${name}(br|h\\d+)$`))).length) {
    throw new LabError(`links named ${name}br/${name}hN exist already: lab name ${name} in use`);
  }
  if ((await netnsNamed(new RegExp(`^${name}-h\\d+$`))).length) {
    throw new LabError(`netns ${name}-hN exist already: lab name ${name} in use`);
  }
  const used = await subnetInUse(prefix);
  if (used) throw new LabError(`subnet ${opts.subnet} is already in use on this machine (${used})`);
  for (
    const t of [
      "ip",
      "mount",
      "umount",
      "nsenter",
      "unshare",
      "setsid",
      "pivot_root",
      "chroot",
      "sshd",
      "ssh-keygen",
      "busybox",
      "perl",
    ]
  ) await findTool(t);
  let cgroupDir: string | undefined;
  if (init === "systemd") cgroupDir = await checkSystemd(n);
  if (opts.keepalived) checkVersion(opts.keepalived);
  const ka = opts.keepalived ? await ensureKeepalived(opts.keepalived) : undefined;
  const aptRepoDir = ka
    ? await ensureAptRepo(APT_REPO_PACKAGES.filter((p) => p !== "keepalived"), [ka.deb])
    : opts.aptRepo
    ? await ensureAptRepo()
    : undefined;
  debug(`preflight done (${Math.round(performance.now() - t0)} ms)`);

  try {
    await Deno.mkdir(dir, { mode: 0o700 }); // claims the name (fails if a concurrent up won)
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw new LabError(`lab ${name} is already up`);
    throw e;
  }
  const bridgeIp = `${prefix}.1`;
  const rec: LabRecord = {
    name,
    dir,
    subnet: opts.subnet,
    bridgeIp,
    hosts: Array.from({ length: n }, (_, k) => ({
      name: `h${k + 1}`,
      ip: `${prefix}.${11 + k}`,
      netns: names.netns(name, k + 1),
      pid: 0,
    })),
    keyFile: `${dir}/id_ed25519`,
    knownHosts: `${dir}/known_hosts`,
    sshConfig: `${dir}/ssh_config`,
    inventory: `${dir}/inventory.yaml`,
    hostCount: n,
    init,
    complete: false,
    netnsMountCreated: !(await isMountPoint(NETNS_DIR)),
    owner: await processIdentity(Deno.pid),
    cgroupDir,
    aptRepoDir,
  };
  if (aptRepoDir) rec.aptRepoUrl = `http://${bridgeIp}:${APT_PORT}/`;
  try {
    await writeRecord(rec);
    await Deno.writeTextFile(`${dir}/boot.sh`, BOOT_SH, { mode: 0o755 });
    // per-lab tmpfs: base layer, upper/work dirs and mount points of all hosts
    await Deno.mkdir(`${dir}/fs`, { mode: 0o755 });
    await run("mount", [
      "-t",
      "tmpfs",
      "-o",
      "mode=755,size=50%",
      `haplay-lab-${name}`,
      `${dir}/fs`,
    ]);
    // bridge: no uplink, no IPv6, hosts get no default route
    const br = names.bridge(name);
    await run("ip", ["link", "add", br, "type", "bridge"]);
    await sysctlSet([`net.ipv6.conf.${br}.disable_ipv6=1`]);
    await run("ip", ["-b", "-"], {
      stdin: `addr add ${bridgeIp}/24 dev ${br}\nlink set ${br} up\n`,
    });
    const clash = (await run("ip", ["-4", "-o", "addr", "show"])).stdout.split("\n")
      .filter((l) => l.includes(` inet ${prefix}.`) && l.split(/\s+/)[1] !== br);
    if (clash.length) throw new LabError(`subnet ${opts.subnet} was taken meanwhile`);
    await run("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `haplay-lab-${name}`,
      "-f",
      rec.keyFile,
    ]);
    debug("bridge + key done");
    await buildBase(rec, prefix);
    debug("base layer done");
    fault("base");
    if (aptRepoDir) await startHttpd(rec, aptRepoDir);

    const idx = rec.hosts.map((_, k) => k + 1);
    const known = await pool(idx, CONCURRENCY, (i) => prepareHost(rec, i));
    debug("host dirs + keys done");
    // network namespaces and veths, in batches of ip commands
    const batch1 = idx.flatMap((i) => [
      `netns add ${names.netns(name, i)}`,
      `link add ${names.veth(name, i)} type veth peer name eth0 netns ${names.netns(name, i)}`,
    ]);
    await run("ip", ["-b", "-"], { stdin: batch1.join("\n") + "\n" });
    await sysctlSet(idx.map((i) => `net.ipv6.conf.${names.veth(name, i)}.disable_ipv6=1`));
    await run("ip", ["-b", "-"], {
      stdin: idx.map((i) => `link set ${names.veth(name, i)} master ${br} up`).join("\n") + "\n",
    });
    debug("network done");
    await pool(idx, CONCURRENCY, (i) => startHost(rec, i));
    debug("hosts started");
    fault("hosts");
    const deadline = Date.now() + 30_000 + 500 * n;
    await waitHosts(rec, deadline);
    debug("hosts ready");
    fault("ready");

    await Deno.writeTextFile(rec.knownHosts, known.flat().join("\n") + "\n");
    await Deno.writeTextFile(rec.sshConfig, sshConfigText(rec));
    await Deno.writeTextFile(rec.inventory, inventoryText(rec));
    rec.complete = true;
    await writeRecord(rec);
    debug(`up: ${n} hosts in ${Math.round(performance.now() - t0)} ms`);
    return publicLab(rec);
  } catch (e) {
    try {
      await downLocked(name, dir);
    } catch (e2) {
      throw new LabError(
        `${e instanceof Error ? e.message : e}; cleanup failed too: ${
          e2 instanceof Error ? e2.message : e2
        }`,
      );
    }
    throw e;
  }
}

async function checkSystemd(n: number): Promise<string> {
  const lim = Number((await run("cat", ["/proc/sys/fs/inotify/max_user_instances"])).stdout);
  if (lim < n * 8 + 64) {
    throw new LabError(
      `systemd hosts need fs.inotify.max_user_instances >= ${n * 8 + 64} (now ${lim})`,
    );
  }
  for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    const st = await run("stat", ["-f", "-c", "%T", root], { allowFail: true });
    if (st.stdout.trim() === "cgroup2fs") return `${root}/haplay-lab`;
  }
  throw new LabError("systemd hosts need a cgroup2 mount (none found)");
}

async function startHttpd(rec: LabRecord, repoDir: string) {
  const args = httpdArgs(rec.bridgeIp, repoDir);
  await spawnDetached(`${rec.dir}/httpd.console`, "", [
    "/bin/sh",
    "-c",
    'p=$1; shift; echo $$ > "$p"; exec "$@"',
    "sh",
    `${rec.dir}/httpd.pid`,
    ...args,
  ]);
  const ok = await waitFor(async () => {
    const pid = await readPid(`${rec.dir}/httpd.pid`);
    if (pid === undefined) return false;
    if ((await pidCmdline(pid)).join(" ") !== args.join(" ")) return false;
    try {
      const c = await Deno.connect({ hostname: rec.bridgeIp, port: APT_PORT });
      c.close();
      return true;
    } catch {
      return false;
    }
  }, 5000);
  if (!ok) {
    throw new LabError(`apt repo httpd did not start: ${await tail(`${rec.dir}/httpd.console`)}`);
  }
}

/**
 * Tear a lab down completely: kill its hosts (only verified host PID 1s) and its apt httpd
 * (only with the recorded command line), delete its veths, netns and bridge, unmount its
 * overlays and tmpfs, remove its cgroups and its state directory. Idempotent: a lab that is not
 * up (no state directory) is a no-op. Throws if something could not be removed.
 */
export async function labDown(name: string, stateDir?: string): Promise<void> {
  checkName(name);
  requireRoot();
  const dir = labDir(name, stateDir);
  if (!(await exists(dir))) return;
  const parent = await stateParent(stateDir, false);
  await withNameLock(parent, name, () => downLocked(name, dir));
}

/** labDown, holding the name's lock. Tolerates things vanishing meanwhile: what counts is
 * the final check that nothing of the lab is left. */
async function downLocked(name: string, dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  const t0 = performance.now();
  const rec = await readRecord(dir);
  const problems: string[] = [];

  // 0. processes being started right now (console file, pid file not yet written): wait for
  //    their pid file, or they would survive the teardown
  const started = new Set<string>();
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^(h\d+|httpd)\.console$/);
    if (m) started.add(m[1]);
  }
  await Promise.all(
    [...started].map((p) =>
      waitFor(async () => (await readPid(`${dir}/${p}.pid`)) !== undefined, 5000, 20)
    ),
  );

  // 1. apt repo httpd
  const hp = await readPid(`${dir}/httpd.pid`);
  if (hp !== undefined && rec?.aptRepoDir) {
    const want = httpdArgs(rec.bridgeIp, rec.aptRepoDir).join(" ");
    if ((await pidCmdline(hp)).join(" ") === want) {
      try {
        Deno.kill(hp, "SIGTERM");
      } catch { /* gone */ }
      if (!(await waitFor(async () => !(await pidAlive(hp)), 3000))) {
        if ((await pidCmdline(hp)).join(" ") === want) Deno.kill(hp, "SIGKILL");
      }
    }
  }

  // 2. host PID 1s: killing PID 1 kills its whole PID namespace
  const hostIdx = new Set<number>();
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^h(\d+)\.(pid|console)$/);
    if (m) hostIdx.add(Number(m[1]));
  }
  const killed: number[] = [];
  const parents: Array<[number, string]> = [];
  for (const i of hostIdx) {
    const ns = names.netns(name, i);
    const pid = await readPid(`${dir}/h${i}.pid`);
    const ppid = await readPid(`${dir}/h${i}.pid.parent`);
    if (ppid !== undefined) parents.push([ppid, ns]);
    if (pid !== undefined && (await isHostInit(pid, ns))) {
      try {
        Deno.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch { /* already gone */ }
    }
  }
  for (const pid of killed) {
    if (!(await waitFor(async () => !(await pidAlive(pid)), 10_000, 20))) {
      problems.push(`host pid ${pid} did not exit`);
    }
  }
  // the `unshare` parents exit by themselves once their child is gone
  for (const [ppid, ns] of parents) {
    const gone = await waitFor(async () => !(await pidAlive(ppid)), 2000, 20);
    if (!gone && (await isHostParent(ppid, ns, `${dir}/boot.sh`))) {
      Deno.kill(ppid, "SIGKILL");
      await waitFor(async () => !(await pidAlive(ppid)), 2000, 20);
    }
  }

  // 3. links and namespaces named after this lab
  const veths = await linksNamed(new RegExp(`^${name}h\\d+$`));
  const nss = await netnsNamed(new RegExp(`^${name}-h\\d+$`));
  const batch = [...veths.map((v) => `link del ${v}`), ...nss.map((n) => `netns del ${n}`)];
  if (batch.length) {
    // errors (already gone) do not matter: leftovers are checked below
    await run("ip", ["-force", "-b", "-"], { stdin: batch.join("\n") + "\n", allowFail: true });
  }
  const br = names.bridge(name);
  if ((await linkNames()).includes(br)) {
    await run("ip", ["link", "del", br], { allowFail: true });
  }
  // veth peers vanish asynchronously once their netns is gone
  await waitFor(
    async () => (await linksNamed(new RegExp(`^${name}(br|h\\d+)$`))).length === 0,
    5000,
  );

  // 4. cgroups of systemd hosts
  if (rec?.cgroupDir) {
    // systemd made sub-cgroups (system.slice/...): remove depth first, they are empty now
    // (via sh: Deno refuses /sys paths without --allow-all)
    const cgs = [...hostIdx].map((i) => `${rec.cgroupDir}/${name}-h${i}`);
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
    if (!removed) problems.push(`cgroups left: ${err}`);
    await run("rmdir", [rec.cgroupDir], { allowFail: true }); // only if empty: other labs
  }

  // 5. mounts under the state dir: overlays first, then the tmpfs
  const under = (await mountPoints()).filter((m) => m.startsWith(`${dir}/`)).reverse();
  for (const m of under) {
    const r = await run("umount", [m], { allowFail: true });
    if (r.code !== 0) await run("umount", ["-l", m], { allowFail: true });
  }
  if (rec?.netnsMountCreated && (await isMountPoint(NETNS_DIR))) {
    // ip netns add made /run/netns a mount point: undo it when no netns is left
    if ((await netnsNamed(/.*/)).length === 0) {
      await run("umount", [NETNS_DIR], { allowFail: true });
    }
  }

  const left = (await mountPoints()).filter((m) => m === dir || m.startsWith(`${dir}/`));
  if (left.length) problems.push(`still mounted: ${left.join(" ")}`);
  const leftLinks = await linksNamed(new RegExp(`^${name}(br|h\\d+)$`));
  if (leftLinks.length) problems.push(`links left: ${leftLinks.join(" ")}`);
  const leftNs = await netnsNamed(new RegExp(`^${name}-h\\d+$`));
  if (leftNs.length) problems.push(`netns left: ${leftNs.join(" ")}`);
  if (problems.length) {
    throw new LabError(
      `lab ${name} down incomplete (state kept in ${dir}): ${problems.join("; ")}`,
    );
  }
  // never recurse through a mount point: checked above that nothing is mounted below
  await Deno.remove(dir, { recursive: true });
  debug(`down: ${name} in ${Math.round(performance.now() - t0)} ms`);
}

/** Load a lab from its state directory (`lab.json`); undefined when it is not up. */
export async function labLoad(name: string, stateDir?: string): Promise<Lab | undefined> {
  checkName(name);
  const rec = await readRecord(labDir(name, stateDir));
  if (!rec || !rec.complete) return undefined;
  return publicLab(rec);
}

function hostOf(lab: Lab, host: string): LabHost {
  const h = lab.hosts.find((x) => x.name === host || x.ip === host);
  if (!h) throw new LabError(`lab ${lab.name} has no host '${host}'`);
  return h;
}

/**
 * The argv (nsenter into all namespaces and the root of `host`, clean root environment) that
 * runs `cmd` inside `host` (name `hN` or its IP). Checks first that the host's recorded PID 1
 * is still the host's init; throws when the host is not running.
 */
export async function labExecArgv(lab: Lab, host: string, cmd: string[]): Promise<string[]> {
  const h = hostOf(lab, host);
  if (!cmd.length) throw new LabError("exec: empty command");
  if (!(await isHostInit(h.pid, h.netns))) {
    throw new LabError(`host ${h.name} of lab ${lab.name} is not running`);
  }
  return [
    "nsenter",
    "-t",
    String(h.pid),
    "-m",
    "-u",
    "-i",
    "-n",
    "-p",
    "-r",
    "-w",
    "--",
    "env",
    "-i",
    `PATH=${SYSTEM_PATH}`,
    "HOME=/root",
    "USER=root",
    "LOGNAME=root",
    "LANG=C.UTF-8",
    `TERM=${Deno.env.get("TERM") || "dumb"}`,
    ...cmd,
  ];
}

/**
 * Run `cmd` inside `host` (name `hN` or its IP) by entering all its namespaces and its root
 * with nsenter (not over SSH), as root with a clean environment, and capture its output.
 * Never throws for a non-zero exit; throws when the host is not running.
 */
export async function labExec(
  lab: Lab,
  host: string,
  cmd: string[],
  opts: { stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [prog, ...args] = await labExecArgv(lab, host, cmd);
  return await run(prog, args, { stdin: opts.stdin, allowFail: true });
}

/**
 * The process that brought lab `name` up, if that process is still running (a test run using
 * the lab right now); undefined for labs made by a finished process (e.g. `lab up` on the
 * command line) or labs that are not up.
 */
export async function labOwner(name: string, stateDir?: string): Promise<number | undefined> {
  checkName(name);
  const rec = await readRecord(labDir(name, stateDir));
  const pid = Number(rec?.owner?.split(":")[0]);
  if (!rec?.owner || !Number.isInteger(pid) || pid <= 0) return undefined;
  return (await processIdentity(pid)) === rec.owner ? pid : undefined;
}

/** Every host of `lab` with `up`: its recorded PID 1 is alive and still the host's init. */
export async function labStatus(lab: Lab): Promise<Array<LabHost & { up: boolean }>> {
  return await Promise.all(
    lab.hosts.map(async (h) => ({ ...h, up: await isHostInit(h.pid, h.netns) })),
  );
}

/** Names of the labs that have a state directory under `stateDir`. */
export async function labList(stateDir?: string): Promise<string[]> {
  const base = labDir("", stateDir).replace(/\/$/, "");
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(base)) {
      if (e.isDirectory && NAME_RE.test(e.name)) out.push(e.name);
    }
  } catch {
    // no state dir: no labs
  }
  return out.sort();
}
