/**
 * haplay's built-in namespace lab: N simulated Debian hosts on this machine (root required).
 *
 * Each host has its own network namespace (veth `eth0` on the lab bridge `<name>br`, address
 * `.(10+i)` of the lab's /20../24 subnet, IPv6 off, no default route), its own mount/UTS/IPC/PID namespaces with an
 * overlay root (lower layers: a lab-wide base layer over this machine's own `/`; upper: a
 * per-host directory on a per-lab tmpfs: the host's disk, kept across {@link labReboot}), a
 * real OpenSSH sshd with its own host keys. PID 1 is systemd by default (systemd-networkd
 * rendering the host's netplan files, journald, systemd-sysctl, netfilter-persistent, sshd as
 * units) or, with `init: "lab"`, a tiny bash init with busybox syslogd. The lab writes an SSH
 * client key, `known_hosts`, `ssh_config` and a haplay inventory into its state directory.
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
import { BOOT_SH } from "./scripts.ts";
import { inventoryText, sshConfigText } from "./_client_files.ts";
import {
  checkSystemd,
  hostIndexes,
  hostKeys,
  isHostInit,
  prepareHost,
  removeHostCgroups,
  startHosts,
  stopHosts,
  waitHosts,
} from "./_host.ts";
import { startHttpd, stopHttpd } from "./_httpd.ts";
import { buildBase } from "./_image.ts";
import { raiseLimits } from "./_limits.ts";
import {
  bridgeAddress,
  hostAddress,
  hostCapacity,
  type LabNet,
  parseSubnet,
  slash24s,
} from "./_addr.ts";
import { isMountPoint, labMac, linksNamed, netnsNamed, plugHosts, removeLinks } from "./_net.ts";
import {
  APT_PORT,
  checkName,
  labDir,
  MAX_HOSTS,
  NAME_RE,
  names,
  publicLab,
  readPid,
  readRecord,
  stateParent,
  withNameLock,
  writeRecord,
} from "./_state.ts";
import { rebootHosts } from "./_reboot.ts";
import { debug, fault } from "./_trace.ts";
import type { Lab, LabHost, LabRecord } from "./types.ts";
import {
  exists,
  keygen,
  LabError,
  mountPoints,
  NETNS_DIR,
  pool,
  processIdentity,
  run,
  subnetInUse,
  sysctlSet,
  SYSTEM_PATH,
  waitFor,
} from "./util.ts";

export { LabError } from "./util.ts";
export type { Lab, LabHost } from "./types.ts";
export {
  APT_PORT,
  checkName,
  defaultStateDir,
  LAB_USER,
  MAX_HOSTS,
  subnetPrefix,
} from "./_state.ts";
export { labExec, labExecArgv } from "./exec.ts";

/** Options of {@link labUp}. */
export interface LabOptions {
  /** Lab name, `[a-z][a-z0-9]{0,6}` (it prefixes interface names, limited to 15 chars). */
  name: string;
  /** Number of hosts, 1..1000 (`h1`..`hN`), at most what the subnet holds (244 in a /24). */
  hosts: number;
  /**
   * A network inside 198.18.0.0/15 (RFC 2544 benchmark space) with a prefix /20../24:
   * `198.18.X.0/24`, or e.g. `198.18.32.0/22` for up to 1,012 hosts.
   */
  subnet: string;
  /** Serve a cached flat apt repo (keepalived, iptables-persistent and deps) to the hosts. */
  aptRepo?: boolean;
  /**
   * Serve keepalived VERSION built from upstream (`keepalived_build.ts`, cached) instead of
   * Debian's 2.2.7 in the apt repository (implies `aptRepo`).
   */
  keepalived?: string;
  /**
   * PID 1 of the hosts: `systemd` (default: real systemd with systemd-networkd rendering
   * netplan, journald, systemd-sysctl, netfilter-persistent and sshd as units, like an Ubuntu
   * server) or `lab` (a tiny bash init with a `systemctl` shim: faster, for tests that do not
   * touch services).
   */
  init?: "lab" | "systemd";
  /** Parent of the lab's state directory; default env `HAPLAY_LAB_DIR` or `/tmp/haplay-lab`. */
  stateDir?: string;
}

const CONCURRENCY = 8;

function requireRoot() {
  if (Deno.uid() !== 0) throw new LabError("the lab needs root (namespaces, mounts, links)");
}

async function findTool(tool: string): Promise<string> {
  for (const d of SYSTEM_PATH.split(":")) {
    if (await exists(`${d}/${tool}`)) return `${d}/${tool}`;
  }
  throw new LabError(`missing program '${tool}' (needed by the lab)`);
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
  const net = parseSubnet(opts.subnet);
  const n = opts.hosts;
  const max = Math.min(MAX_HOSTS, hostCapacity(net));
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new LabError(
      `hosts must be 1..${max}${max < MAX_HOSTS ? ` in a /${net.bits}` : ""}, got ${n}`,
    );
  }
  const init = opts.init ?? "systemd";
  if (init !== "lab" && init !== "systemd") throw new LabError(`unknown init '${init}'`);
  requireRoot();
  const dir = labDir(opts.name, opts.stateDir);
  if (/\s/.test(dir)) throw new LabError(`state directory must not contain spaces: ${dir}`);
  const parent = await stateParent(opts.stateDir, true);
  return await withNameLock(
    parent,
    opts.name,
    () => upLocked(opts, { net, n, init, dir, t0 }),
  );
}

/** labUp, holding the name's lock. */
async function upLocked(
  opts: LabOptions,
  p: { net: LabNet; n: number; init: "lab" | "systemd"; dir: string; t0: number },
): Promise<Lab> {
  const { net, n, init, dir, t0 } = p;
  const prefixes = slash24s(net);
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
  let used: string | undefined;
  for (const prefix of prefixes) used ??= await subnetInUse(prefix);
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
  if (init === "systemd") {
    for (const t of ["netplan", "networkctl", "systemctl"]) await findTool(t);
    cgroupDir = await checkSystemd(n);
  }
  await raiseLimits(n);
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
  const bridgeIp = bridgeAddress(net);
  const rec: LabRecord = {
    name,
    dir,
    subnet: opts.subnet,
    bridgeIp,
    hosts: Array.from({ length: n }, (_, k) => ({
      name: `h${k + 1}`,
      ip: hostAddress(net, k),
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
    // a fixed bridge MAC: it would follow its lowest port's otherwise (changes on reboots)
    await run("ip", ["link", "add", br, "address", labMac(bridgeIp, 2), "type", "bridge"]);
    await sysctlSet([`net.ipv6.conf.${br}.disable_ipv6=1`]);
    await run("ip", ["-b", "-"], {
      stdin: `addr add ${bridgeIp}/${net.bits} dev ${br}\nlink set ${br} up\n`,
    });
    const clash = (await run("ip", ["-4", "-o", "addr", "show"])).stdout.split("\n")
      .filter((l) => prefixes.some((p) => l.includes(` inet ${p}.`)) && l.split(/\s+/)[1] !== br);
    if (clash.length) throw new LabError(`subnet ${opts.subnet} was taken meanwhile`);
    await keygen("ed25519", rec.keyFile, `haplay-lab-${name}`);
    debug("bridge + key done");
    await buildBase(rec);
    debug("base layer done");
    fault("base");
    if (aptRepoDir) await startHttpd(rec, aptRepoDir);

    const idx = rec.hosts.map((_, k) => k + 1);
    await pool(idx, CONCURRENCY, (i) => prepareHost(rec, i));
    const known = await hostKeys(rec, idx);
    debug("host dirs + keys done");
    // network namespaces and veths, in batches of ip commands
    await plugHosts(name, rec.hosts, idx);
    debug("network done");
    await startHosts(rec, idx);
    debug("hosts started");
    fault("hosts");
    const deadline = Date.now() + 30_000 + 500 * n;
    await waitHosts(rec, deadline);
    debug("hosts ready");
    fault("ready");

    await Deno.writeTextFile(rec.knownHosts, known.join("\n") + "\n");
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
  if (rec) await stopHttpd(rec);

  // 2. host PID 1s: killing PID 1 kills its whole PID namespace
  const hostIdx = await hostIndexes(dir);
  problems.push(...(await stopHosts(name, dir, hostIdx)));

  // 3. links and namespaces named after this lab
  await removeLinks(name);

  // 4. cgroups of systemd hosts
  if (rec?.cgroupDir) {
    const cgroupsLeft = await removeHostCgroups(rec.cgroupDir, name, hostIdx);
    if (cgroupsLeft) problems.push(cgroupsLeft);
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

/** Options of {@link labReboot}. */
export interface RebootOptions {
  /**
   * Shut down cleanly first, like `systemctl reboot`: `systemctl poweroff` inside systemd hosts
   * (SIGTERM to a `lab` init), wait for PID 1 to exit (at most 30 s, then the power is cut).
   */
  graceful?: boolean;
  /** How long a graceful shutdown may take before the power is cut (default 30 000 ms). */
  shutdownTimeoutMs?: number;
}

/**
 * Power-cycle hosts of a running lab (all at once): PID 1 and every process of each host
 * killed (its PID namespace), its network namespace, NIC and mounts torn down, then re-created
 * from the same disk (the overlay's upper directory is kept: /etc, /var, host keys; the tmpfs
 * /run and /tmp start empty). The lab only plugs the NIC back into the bridge (same MAC);
 * everything else comes from the host's own boot (systemd hosts: networkd rendering the
 * netplan files on the disk, enabled units, /etc/sysctl.d; `lab` hosts: boot.sh's address and
 * lab-init's enabled services). Updates the PIDs in `lab` and in `lab.json`, so `labExec` and
 * `labDown` keep working. Returns per host the time from power-off to its sshd accepting a
 * connection (measured by connecting), and `forced` when a graceful shutdown did not end in
 * time and the power was cut.
 */
export async function labReboot(
  lab: Lab,
  hosts: string[] | "all",
  opts: RebootOptions = {},
): Promise<{ host: string; sshUpMs: number; forced?: boolean }[]> {
  checkName(lab.name);
  requireRoot();
  const want = hosts === "all" ? lab.hosts.map((h) => h.name) : hosts;
  if (!want.length) throw new LabError("reboot: no host given");
  const parent = await stateParent(lab.dir.slice(0, lab.dir.lastIndexOf("/")) || "/", false);
  return await withNameLock(parent, lab.name, async () => {
    const rec = await readRecord(lab.dir);
    if (!rec?.complete) throw new LabError(`lab ${lab.name} is not up`);
    const idx = [
      ...new Set(want.map((w) => {
        const k = rec.hosts.findIndex((h) => h.name === w || h.ip === w);
        if (k < 0) throw new LabError(`lab ${lab.name} has no host '${w}'`);
        return k + 1;
      })),
    ];
    const res = await rebootHosts(rec, idx, !!opts.graceful, opts.shutdownTimeoutMs);
    for (const h of lab.hosts) {
      const r = rec.hosts.find((x) => x.name === h.name);
      if (r) h.pid = r.pid;
    }
    return res;
  });
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
