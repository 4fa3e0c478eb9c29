/**
 * `vmUp` / `vmDown` / `vmLoad` / `vmStatus`: the VM lab's life cycle (root required).
 *
 * Up: the cached image (built when missing), a state directory claimed atomically, a lab SSH
 * key, per guest a qcow2 overlay over the shared image and an initrd carrying its own host keys
 * and addresses, the namespace network ({@link netUp}), one daemonized QEMU per guest; ready
 * when every guest's sshd accepts the lab key with strict host key checking. Down: only the
 * recorded QEMU PIDs whose command line is this lab's guest, then the veth and the namespace,
 * then the state directory; it fails (keeping the state) when anything is left.
 * @module
 */
import { vmBuild } from "./build.ts";
import { closeMasters, sshConfigText, vmExec } from "./exec.ts";
import { guestArchive } from "./guest_files.ts";
import { vmInventoryText } from "./inventory.ts";
import { netDown, netNames, netnsMounted, netPreflight, netUp } from "./net.ts";
import { detectAccel, isGuestQemu, type QemuGuest, qemuKill, qemuStart, qemuStop } from "./qemu.ts";
import { DEFAULT_MGMT, GUESTS, macFor, mgmtPrefix } from "./topology.ts";
import type { VmHost, VmLab, VmRecord, VmUpOptions } from "./types.ts";
import {
  exists,
  isRoot,
  keygen,
  pidAlive,
  pidCpuSeconds,
  processIdentity,
  readIf,
  removeIf,
  run,
  secondsSince,
  sleep,
  tcpBanner,
  VmlabError,
  waitFor,
} from "./util.ts";

export type { VmHost, VmLab, VmUpOptions } from "./types.ts";

const NAME_RE = /^[a-z][a-z0-9]{0,6}$/;

/** Default parent of state directories: env `HAPLAY_VMLAB_DIR` or `/tmp/haplay-vmlab`. */
export function defaultStateDir(): string {
  return Deno.env.get("HAPLAY_VMLAB_DIR") || "/tmp/haplay-vmlab";
}

function labDir(name: string, stateDir?: string): string {
  if (!NAME_RE.test(name)) {
    throw new VmlabError(`vmlab name must match [a-z][a-z0-9]{0,6}, got '${name}'`);
  }
  const base = (stateDir ?? defaultStateDir()).replace(/\/+$/, "");
  return `${base.startsWith("/") ? base : `${Deno.cwd()}/${base}`}/${name}`;
}

function requireRoot() {
  if (!isRoot()) throw new VmlabError("the vmlab needs root (network namespace, taps, chroot)");
}

async function writeRecord(rec: VmRecord) {
  await Deno.writeTextFile(`${rec.dir}/vm.json.tmp`, JSON.stringify(rec, null, 2) + "\n");
  await Deno.rename(`${rec.dir}/vm.json.tmp`, `${rec.dir}/vm.json`);
}

async function readRecord(dir: string): Promise<VmRecord | undefined> {
  const t = await readIf(`${dir}/vm.json`);
  try {
    return t ? JSON.parse(t) as VmRecord : undefined;
  } catch {
    return undefined;
  }
}

function publicLab(r: VmRecord): VmLab {
  const {
    complete: _c,
    netnsMountCreated: _n,
    veth: _v,
    owner: _o,
    memoryMiB: _m,
    image: _i,
    ...lab
  } = r;
  return { ...lab, hosts: lab.hosts.map((h) => ({ ...h })) };
}

async function sshBanner(ip: string, timeoutMs = 3000): Promise<boolean> {
  return (await tcpBanner(ip, 22, timeoutMs)).startsWith("SSH-");
}

async function consoleTail(dir: string, guest: string): Promise<string> {
  const t = (await readIf(`${dir}/${guest}.console`)) ?? "";
  return t.trim().split("\n").slice(-4).join(" | ");
}

/** When a guest had booted and when its SSH login first worked (ms since `t0`). */
interface GuestUp {
  readyMs: number;
  sshMs: number;
  /** CPU seconds of the guest's QEMU when it had booted. */
  cpuS: number;
}

/** Size of a guest's console file (a reboot's boot is what comes after it). */
async function consoleSize(dir: string, guest: string): Promise<number> {
  try {
    return (await Deno.stat(`${dir}/${guest}.console`)).size;
  } catch {
    return 0;
  }
}

/** True when the console has printed `vmlab-ready NAME` after byte `from`. */
async function consoleReady(dir: string, guest: string, from: number): Promise<boolean> {
  try {
    const bytes = (await Deno.readFile(`${dir}/${guest}.console`)).subarray(from);
    return new TextDecoder().decode(bytes).includes(`vmlab-ready ${guest} `);
  } catch {
    return false;
  }
}

/**
 * Waits until guest `h` has booted (its init printed `vmlab-ready NAME` on the serial console
 * after byte `from`: a file read, no load on the guest) and then accepts an SSH login (strict
 * host keys) with `/run/vmlab-ready` present; throws on a dead guest or after `timeoutS`.
 * Probing sshd while the guest boots would cost it: every connection forks and re-executes an
 * sshd, which under TCG on a loaded machine takes seconds of the guest's CPU each.
 */
async function waitGuest(
  rec: VmRecord,
  h: VmHost,
  t0: number,
  timeoutS: number,
  from = 0,
): Promise<GuestUp> {
  const end = Date.now() + timeoutS * 1000;
  let readyMs = -1;
  let cpuS = 0;
  let lastError = "not booted";
  while (true) {
    if (!(await pidAlive(h.pid))) {
      throw new VmlabError(
        `guest ${h.name} died while booting: ${await consoleTail(rec.dir, h.name)}`,
      );
    }
    if (readyMs < 0 && await consoleReady(rec.dir, h.name, from)) {
      readyMs = Math.round(performance.now() - t0);
      cpuS = await pidCpuSeconds(h.pid);
    }
    if (readyMs >= 0 && await sshBanner(h.ip, 20_000)) {
      const r = await vmExec(publicLab(rec), h.name, "test -e /run/vmlab-ready && hostname", {
        timeoutMs: 60_000,
      });
      if (r.code === 0 && r.stdout.trim() === h.name) {
        return { readyMs, sshMs: Math.round(performance.now() - t0), cpuS };
      }
      if (r.code === 0) throw new VmlabError(`guest ${h.name} says it is '${r.stdout.trim()}'`);
      lastError = `exit ${r.code} ${r.stderr.trim()}`;
    } else if (readyMs >= 0) lastError = "no sshd banner";
    if (Date.now() > end) {
      throw new VmlabError(
        `guest ${h.name} not ready after ${timeoutS} s (${lastError}; console: ` +
          `${await consoleTail(rec.dir, h.name)})`,
      );
    }
    await sleep(readyMs >= 0 ? 2000 : 500);
  }
}

/** Waits until every guest of `hosts` is ready; throws on a dead guest or after `timeoutS`. */
async function waitReady(
  rec: VmRecord,
  timeoutS: number,
  hosts = rec.hosts,
  t0 = performance.now(),
): Promise<GuestUp[]> {
  return await Promise.all(hosts.map((h) => waitGuest(rec, h, t0, timeoutS)));
}

/** The QEMU settings of guest `h` of the lab recorded in `rec`. */
function qemuGuest(rec: VmRecord, h: VmHost): QemuGuest {
  const n = netNames(rec.name);
  return {
    lab: rec.name,
    name: h.name,
    dir: rec.dir,
    netns: rec.netns,
    vmlinux: rec.image.vmlinux,
    memoryMiB: rec.memoryMiB,
    accel: rec.accel,
    dataMac: macFor(h.data, 0),
    mgmtMac: macFor(h.ip, 1),
    dataTap: n.tap(h.name, "d"),
    mgmtTap: n.tap(h.name, "m"),
    init: rec.init,
  };
}

/** Brings a VM lab up (building the image first when needed) and returns it. */
export async function vmUp(o: VmUpOptions = {}): Promise<VmLab> {
  requireRoot();
  const name = o.name ?? "vm";
  const dir = labDir(name, o.stateDir);
  const mgmtSubnet = o.mgmtSubnet ?? DEFAULT_MGMT;
  const prefix = mgmtPrefix(mgmtSubnet);
  const log = o.log ?? (() => {});
  await netPreflight(name, prefix);
  const init = o.init ?? "bash";
  if (init !== "bash" && init !== "systemd") {
    throw new VmlabError(`init must be bash or systemd, got '${init}'`);
  }
  const unknown = (o.guests ?? []).filter((g) => !GUESTS.some((x) => x.name === g));
  if (unknown.length) {
    throw new VmlabError(
      `no guest ${unknown.join(", ")} in the topology (${GUESTS.map((g) => g.name).join(" ")})`,
    );
  }
  const guests = GUESTS.filter((g) => !o.guests || o.guests.includes(g.name));
  if (!guests.length) throw new VmlabError("no guests to boot");
  const built = await vmBuild({ cacheDir: o.cacheDir, log });
  const img = built.image;
  const accel = await detectAccel(o.accel ?? "auto");
  await Deno.mkdir(dir.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o755 });
  try {
    await Deno.mkdir(dir, { mode: 0o700 }); // claims the name
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new VmlabError(`vmlab ${name} is already up (${dir}); vmlab down --name ${name}`);
    }
    throw e;
  }
  const n = netNames(name);
  const rec: VmRecord = {
    name,
    dir,
    netns: n.netns,
    mgmtSubnet,
    controllerIp: `${prefix}.1`,
    hosts: guests.map((g) => ({
      name: g.name,
      ip: `${prefix}.${g.mgmtHost}`,
      role: g.role,
      data: g.data,
      pid: 0,
    })),
    keyFile: `${dir}/id_ed25519`,
    knownHosts: `${dir}/known_hosts`,
    sshConfig: `${dir}/ssh_config`,
    inventory: `${dir}/inventory.yaml`,
    accel,
    kernelVersion: img.kernelVersion,
    bootSeconds: 0,
    init,
    memoryMiB: o.memoryMiB ?? 256,
    image: {
      vmlinux: img.vmlinux,
      rootfs: img.rootfs,
      recipe: img.recipe,
      builtAt: img.builtAt,
    },
    complete: false,
    netnsMountCreated: !(await netnsMounted()),
    veth: n.veth,
    owner: await processIdentity(Deno.pid),
  };
  try {
    await writeRecord(rec);
    const publicKey = await keygen("ed25519", rec.keyFile, `haplay-vmlab-${name}`);
    const shared = await Deno.readFile(img.initrd);
    const all = guests.map((g) => ({ spec: g, mgmtIp: `${prefix}.${g.mgmtHost}` }));
    const known: string[] = [];
    for (const { spec, mgmtIp } of all) {
      const a = await guestArchive(spec, {
        mgmtIp,
        all,
        publicKey,
        userIds: img.userIds,
        tmpDir: dir,
        init,
      });
      known.push(...a.knownHosts);
      const initrd = new Uint8Array(shared.length + a.cpio.length);
      initrd.set(shared, 0);
      initrd.set(a.cpio, shared.length);
      await Deno.writeFile(`${dir}/${spec.name}.initrd`, initrd);
      await run("qemu-img", [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        img.rootfs,
        "-F",
        "raw",
        `${dir}/${spec.name}.qcow2`,
      ]);
    }
    await Deno.writeTextFile(rec.knownHosts, known.join("\n") + "\n");
    await Deno.writeTextFile(rec.sshConfig, sshConfigText(rec));
    await netUp(name, prefix, guests.map((g) => g.name));
    log(
      `network up (netns ${n.netns}, ${n.veth} ${prefix}.1/24); starting ${guests.length} ` +
        `guests (${accel}, init ${init})`,
    );
    const t0 = performance.now();
    for (const h of rec.hosts) {
      h.pid = await qemuStart(qemuGuest(rec, h));
      await writeRecord(rec);
    }
    await waitReady(rec, o.bootTimeout ?? (init === "systemd" ? 900 : 300), rec.hosts, t0);
    rec.bootSeconds = secondsSince(t0);
    log(`guests ready in ${rec.bootSeconds} s`);
    await Deno.writeTextFile(rec.inventory, vmInventoryText(publicLab(rec)));
    rec.complete = true;
    await writeRecord(rec);
    return publicLab(rec);
  } catch (e) {
    try {
      await downIn(dir);
    } catch (e2) {
      throw new VmlabError(
        `${(e as Error).message}; teardown failed too: ${(e2 as Error).message}`,
      );
    }
    throw e;
  }
}

async function downIn(dir: string) {
  const rec = await readRecord(dir);
  if (!rec) {
    // a claimed directory without a record: nothing was started yet
    await removeIf(dir, true);
    return;
  }
  const problems: string[] = [];
  if (await exists(rec.sshConfig)) await closeMasters(rec);
  // PIDs also from pid files (a guest may have started before the record was written)
  for (const h of rec.hosts) {
    const p = Number((await readIf(`${dir}/${h.name}.pid`))?.trim());
    const pids = new Set([h.pid, p].filter((x) => Number.isInteger(x) && x > 0));
    for (const pid of pids) {
      if (!(await qemuStop(pid, rec.name, h.name, dir))) {
        problems.push(`qemu ${h.name} pid ${pid} did not exit`);
      }
    }
  }
  problems.push(...await netDown(rec.name, rec.netnsMountCreated));
  if (problems.length) {
    throw new VmlabError(
      `vmlab ${rec.name} down incomplete (state kept in ${dir}): ${problems.join("; ")}`,
    );
  }
  await removeIf(dir, true);
}

/** Tears lab `name` down completely (no-op when it is not up). */
export async function vmDown(name = "vm", stateDir?: string): Promise<void> {
  requireRoot();
  const dir = labDir(name, stateDir);
  if (!(await exists(dir))) {
    // no state: still remove network objects of that name a killed run may have left
    const left = await netDown(name, false);
    if (left.length) throw new VmlabError(`vmlab ${name}: could not remove ${left.join(", ")}`);
    return;
  }
  await downIn(dir);
}

/** The lab `name` from its state directory (undefined when not up or not complete). */
export async function vmLoad(name = "vm", stateDir?: string): Promise<VmLab | undefined> {
  const rec = await readRecord(labDir(name, stateDir));
  return rec?.complete ? publicLab(rec) : undefined;
}

/** PID of the live process that brought lab `name` up (undefined: none, or it exited). */
export async function vmOwner(name = "vm", stateDir?: string): Promise<number | undefined> {
  const rec = await readRecord(labDir(name, stateDir));
  const pid = Number(rec?.owner.split(":")[0]);
  if (!rec || !pid) return undefined;
  return (await processIdentity(pid)) === rec.owner ? pid : undefined;
}

/** Each guest with `running` (its verified QEMU is alive) and `ssh` (sshd answers). */
export async function vmStatus(
  lab: VmLab,
): Promise<Array<VmHost & { running: boolean; ssh: boolean }>> {
  return await Promise.all(lab.hosts.map(async (h) => ({
    ...h,
    running: await isGuestQemu(h.pid, lab.name, h.name, lab.dir),
    ssh: await sshBanner(h.ip),
  })));
}

/** Options of {@link vmReboot}. */
export interface VmRebootOptions {
  /**
   * Shut down from inside first (`systemctl reboot`; bash init: SIGTERM to PID 1, which stops
   * the init.d services and powers off). Default: a power cut (QEMU killed).
   */
  graceful?: boolean;
  /** Seconds to wait for a graceful shutdown, then for the boot (each; default 600). */
  timeoutS?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What one guest's reboot took. */
export interface VmRebootResult {
  host: string;
  /** From the reboot command to its QEMU gone (0 for a power cut: it is the kill). */
  downMs: number;
  /** From power-off (QEMU gone) to the guest booted (`vmlab-ready` on its console). */
  readyMs: number;
  /** From power-off to sshd accepting the lab key's login (after {@link readyMs}). */
  sshUpMs: number;
  /** CPU seconds the guest's QEMU used to boot (to `vmlab-ready`): the boot's cost, load aside. */
  bootCpuS: number;
}

/**
 * Reboots guests of a running lab with a real kernel reboot on the same disk: the guest's QEMU
 * ends (killed: a power cut; or after the guest's own shutdown with `graceful`; QEMU runs with
 * `-no-reboot`, so a guest's reboot ends it) and starts again with the same kernel, initrd,
 * qcow2 overlay (the guest's disk: everything written before is still there, as far as the
 * guest flushed it), NICs and MACs. Nothing else: what a guest runs after it, its own boot
 * brings up. Guests reboot in parallel; updates `lab.hosts[].pid` and the lab's record.
 */
export async function vmReboot(
  lab: VmLab,
  hosts: string[] | "all",
  o: VmRebootOptions = {},
): Promise<VmRebootResult[]> {
  requireRoot();
  const rec = await readRecord(lab.dir);
  if (!rec?.complete) throw new VmlabError(`vmlab ${lab.name} is not up (${lab.dir})`);
  const names = hosts === "all" ? rec.hosts.map((h) => h.name) : hosts;
  const unknown = names.filter((n) => !rec.hosts.some((h) => h.name === n));
  if (unknown.length || !names.length) {
    throw new VmlabError(
      `vmlab ${lab.name}: no guest ${unknown.join(", ") || "given"} ` +
        `(guests: ${rec.hosts.map((h) => h.name).join(" ")})`,
    );
  }
  // the overlays are backed by the image they were made on: never start them on another one
  const imgRec = await readIf(rec.image.rootfs.replace(/[^/]+$/, "image.json"));
  let builtAt = "";
  try {
    builtAt = imgRec ? (JSON.parse(imgRec) as { builtAt: string }).builtAt : "";
  } catch { /* unreadable: treated as changed */ }
  if (builtAt !== rec.image.builtAt || !(await exists(rec.image.rootfs))) {
    throw new VmlabError(
      `the image of vmlab ${lab.name} (${rec.image.rootfs}, built ${rec.image.builtAt}) was ` +
        `rebuilt or removed since it came up: its guests cannot boot again; vmlab down, then up`,
    );
  }
  const log = o.log ?? (() => {});
  const timeoutS = o.timeoutS ?? 600;
  const targets = rec.hosts.filter((h) => names.includes(h.name));
  // one record write at a time (guests restart in parallel)
  let writes = Promise.resolve();
  const save = () => (writes = writes.then(() => writeRecord(rec)));
  const results = await Promise.all(targets.map(async (h): Promise<VmRebootResult> => {
    const t0 = performance.now();
    await closeMasters({ sshConfig: rec.sshConfig, hosts: [h] });
    if (o.graceful) {
      const cmd = rec.init === "systemd" ? "systemctl reboot" : "kill -TERM 1";
      // the session may end with the guest (exit 255): the QEMU exit below is what counts
      await vmExec(publicLab(rec), h.name, cmd, { timeoutMs: 30_000 });
      const gone = await waitFor(async () => !(await pidAlive(h.pid)), timeoutS * 1000, 100);
      if (!gone) {
        throw new VmlabError(`guest ${h.name} did not shut down within ${timeoutS} s`);
      }
    } else if (!(await qemuKill(h.pid, rec.name, h.name, rec.dir))) {
      throw new VmlabError(`qemu ${h.name} pid ${h.pid} did not exit`);
    }
    await closeMasters({ sshConfig: rec.sshConfig, hosts: [h] });
    const from = await consoleSize(rec.dir, h.name);
    const off = performance.now();
    const downMs = o.graceful ? Math.round(off - t0) : 0;
    log(`${h.name}: off${o.graceful ? ` after ${downMs} ms` : ""}; starting`);
    // once more after a failed start: seen once right after a power cut (2026-12-02, web1,
    // no message; the kernel may not have released the killed QEMU's taps or image lock yet)
    h.pid = await qemuStart(qemuGuest(rec, h)).catch(async (e) => {
      log(`${h.name}: ${(e as Error).message}; starting again in 2 s`);
      await new Promise((r) => setTimeout(r, 2000));
      return await qemuStart(qemuGuest(rec, h));
    });
    await save();
    const up = await waitGuest(rec, h, off, timeoutS, from);
    log(
      `${h.name}: booted after ${up.readyMs} ms (${up.cpuS} CPU s), SSH login after ${up.sshMs} ms`,
    );
    return { host: h.name, downMs, sshUpMs: up.sshMs, readyMs: up.readyMs, bootCpuS: up.cpuS };
  }));
  await writes;
  for (const h of lab.hosts) h.pid = rec.hosts.find((x) => x.name === h.name)?.pid ?? h.pid;
  return results;
}
