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
import { detectAccel, isGuestQemu, qemuStart, qemuStop } from "./qemu.ts";
import { DEFAULT_MGMT, GUESTS, macFor, mgmtPrefix } from "./topology.ts";
import type { VmHost, VmLab, VmRecord, VmUpOptions } from "./types.ts";
import {
  exists,
  isRoot,
  keygen,
  pidAlive,
  processIdentity,
  readIf,
  removeIf,
  run,
  secondsSince,
  sleep,
  tcpBanner,
  VmlabError,
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
  const { complete: _c, netnsMountCreated: _n, veth: _v, owner: _o, ...lab } = r;
  return { ...lab, hosts: lab.hosts.map((h) => ({ ...h })) };
}

async function sshBanner(ip: string): Promise<boolean> {
  return (await tcpBanner(ip, 22, 3000)).startsWith("SSH-");
}

async function consoleTail(dir: string, guest: string): Promise<string> {
  const t = (await readIf(`${dir}/${guest}.console`)) ?? "";
  return t.trim().split("\n").slice(-4).join(" | ");
}

/** Waits until every guest accepts an SSH login (strict host keys); throws on a dead guest. */
async function waitReady(rec: VmRecord, timeoutS: number) {
  const pending = new Set(rec.hosts.map((h) => h.name));
  const lastError = new Map<string, string>();
  const end = Date.now() + timeoutS * 1000;
  while (pending.size) {
    await Promise.all(
      rec.hosts.filter((h) => pending.has(h.name)).map(async (h) => {
        if (!(await pidAlive(h.pid))) {
          throw new VmlabError(
            `guest ${h.name} died while booting: ${await consoleTail(rec.dir, h.name)}`,
          );
        }
        if (!(await sshBanner(h.ip))) return;
        // sshd is up: the login must work with strict host key checking, then wait for the rest
        const r = await vmExec(publicLab(rec), h.name, "test -e /run/vmlab-ready && hostname", {
          timeoutMs: 60_000,
        });
        if (r.code === 0 && r.stdout.trim() === h.name) pending.delete(h.name);
        else if (r.code === 0) {
          throw new VmlabError(`guest ${h.name} says it is '${r.stdout.trim()}'`);
        } else lastError.set(h.name, `exit ${r.code} ${r.stderr.trim()}`);
      }),
    );
    if (!pending.size) break;
    if (Date.now() > end) {
      const g = [...pending][0];
      throw new VmlabError(
        `guests not ready after ${timeoutS} s: ${[...pending].join(" ")} (${g}: ` +
          `${lastError.get(g) ?? "no sshd"}; console: ${await consoleTail(rec.dir, g)})`,
      );
    }
    await sleep(500);
  }
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
    hosts: GUESTS.map((g) => ({
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
    complete: false,
    netnsMountCreated: !(await netnsMounted()),
    veth: n.veth,
    owner: await processIdentity(Deno.pid),
  };
  try {
    await writeRecord(rec);
    const publicKey = await keygen("ed25519", rec.keyFile, `haplay-vmlab-${name}`);
    const shared = await Deno.readFile(img.initrd);
    const all = GUESTS.map((g) => ({ spec: g, mgmtIp: `${prefix}.${g.mgmtHost}` }));
    const known: string[] = [];
    for (const { spec, mgmtIp } of all) {
      const a = await guestArchive(spec, {
        mgmtIp,
        all,
        publicKey,
        userIds: img.userIds,
        tmpDir: dir,
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
    await netUp(name, prefix, GUESTS.map((g) => g.name));
    log(
      `network up (netns ${n.netns}, ${n.veth} ${prefix}.1/24); starting ${GUESTS.length} guests (${accel})`,
    );
    const t0 = performance.now();
    for (const [i, g] of GUESTS.entries()) {
      rec.hosts[i].pid = await qemuStart({
        lab: name,
        name: g.name,
        dir,
        netns: n.netns,
        vmlinux: img.vmlinux,
        memoryMiB: o.memoryMiB ?? 256,
        accel,
        dataMac: macFor(g.data, 0),
        mgmtMac: macFor(rec.hosts[i].ip, 1),
        dataTap: n.tap(g.name, "d"),
        mgmtTap: n.tap(g.name, "m"),
      });
      await writeRecord(rec);
    }
    await waitReady(rec, o.bootTimeout ?? 300);
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
