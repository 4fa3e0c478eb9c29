/**
 * QEMU for the guests: one daemonized `qemu-system-x86_64` per guest, started inside the lab's
 * network namespace, booting the cached uncompressed kernel (PVH) with the guest's initrd and
 * its qcow2 overlay. Processes are identified by their recorded PID AND their command line
 * (`-name vmlab-LAB-GUEST` and the state directory) before anything is sent to them.
 * @module
 */
import { pidAlive, pidCmdline, readIf, run, sleep, VmlabError, waitFor } from "./util.ts";

/** Everything one guest's QEMU needs. */
export interface QemuGuest {
  lab: string;
  name: string;
  dir: string;
  netns: string;
  vmlinux: string;
  memoryMiB: number;
  accel: "tcg" | "kvm";
  dataMac: string;
  mgmtMac: string;
  dataTap: string;
  mgmtTap: string;
  /** PID 1 of the guest (default `bash`). */
  init?: "bash" | "systemd";
}

/** The `-name` of a guest's QEMU. */
export function qemuName(lab: string, guest: string): string {
  return `vmlab-${lab}-${guest}`;
}

/** KVM when usable (`/dev/kvm` writable and not the kvm_pvm module, which hangs stock kernels). */
export async function detectAccel(want: "auto" | "tcg" | "kvm"): Promise<"tcg" | "kvm"> {
  const env = Deno.env.get("HAPLAY_VMLAB_ACCEL");
  const w = want === "auto" && (env === "tcg" || env === "kvm") ? env : want;
  if (w !== "auto") return w;
  const r = await run("/bin/sh", [
    "-c",
    "[ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && [ -d /sys/module/kvm_intel -o -d /sys/module/kvm_amd ]",
  ], { allowFail: true });
  return r.code === 0 ? "kvm" : "tcg";
}

/** The QEMU argument list of a guest. */
export function qemuArgs(g: QemuGuest): string[] {
  const accel = g.accel === "kvm"
    ? ["-accel", "kvm", "-cpu", "host"]
    : ["-accel", "tcg,tb-size=256", "-cpu", Deno.env.get("HAPLAY_VMLAB_CPU") || "max"];
  const p = `${g.dir}/${g.name}`;
  return [
    "-name",
    qemuName(g.lab, g.name),
    ...accel,
    "-m",
    String(g.memoryMiB),
    "-smp",
    "1",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-chardev",
    // append: a rebooted guest's console follows the earlier boots' in the same file
    `file,id=con,path=${p}.console,append=on`,
    "-serial",
    "chardev:con",
    "-kernel",
    g.vmlinux,
    "-initrd",
    `${p}.initrd`,
    "-append",
    `console=ttyS0 quiet mitigations=off root=/dev/vda rw ipv6.disable=1 panic=-1 vmlab=${g.lab}` +
    (g.init === "systemd" ? " vmlab.init=systemd" : ""),
    "-drive",
    `file=${p}.qcow2,if=virtio,format=qcow2,cache=unsafe`,
    "-netdev",
    `tap,id=data,ifname=${g.dataTap},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=data,mac=${g.dataMac},addr=0x3`,
    "-netdev",
    `tap,id=mgmt,ifname=${g.mgmtTap},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=mgmt,mac=${g.mgmtMac},addr=0x4`,
    "-device",
    "virtio-rng-pci",
    "-daemonize",
    "-pidfile",
    `${p}.pid`,
    "-D",
    `${p}.qemu.log`,
  ];
}

/** Starts a guest's QEMU (returns once it daemonized) and returns its PID. */
export async function qemuStart(g: QemuGuest): Promise<number> {
  const r = await run("ip", ["netns", "exec", g.netns, "qemu-system-x86_64", ...qemuArgs(g)], {
    allowFail: true,
  });
  if (r.code !== 0) {
    // a daemonized QEMU may say nothing on stderr: its log then has the reason
    const why = r.stderr.trim().split("\n").pop() ||
      (await readIf(`${g.dir}/${g.name}.qemu.log`))?.trim().split("\n").pop() ||
      `exit ${r.code}, no message`;
    throw new VmlabError(`qemu for ${g.name} failed: ${why}`);
  }
  const pid = Number((await readIf(`${g.dir}/${g.name}.pid`))?.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new VmlabError(`qemu for ${g.name}: no pid file`);
  return pid;
}

/** True when `pid` is the QEMU of guest `guest` of lab `lab` in `dir`. */
export async function isGuestQemu(pid: number, lab: string, guest: string, dir: string) {
  const cmd = await pidCmdline(pid);
  const name = cmd.indexOf("-name");
  return !!cmd[0]?.endsWith("qemu-system-x86_64") && name > 0 &&
    cmd[name + 1] === qemuName(lab, guest) && cmd.some((a) => a.includes(`${dir}/${guest}.`));
}

/** Stops a verified guest QEMU (SIGTERM, then SIGKILL after 5 s). False when it stays. */
export async function qemuStop(pid: number, lab: string, guest: string, dir: string) {
  if (!(await isGuestQemu(pid, lab, guest, dir))) return true; // not (or no longer) ours
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return true;
  }
  if (await waitFor(async () => !(await pidAlive(pid)), 5000, 100)) return true;
  if (await isGuestQemu(pid, lab, guest, dir)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await sleep(100);
  return await waitFor(async () => !(await pidAlive(pid)), 5000, 100);
}

/** Kills a verified guest QEMU at once (SIGKILL: a power cut). False when it stays. */
export async function qemuKill(pid: number, lab: string, guest: string, dir: string) {
  if (!(await isGuestQemu(pid, lab, guest, dir))) return !(await pidAlive(pid));
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* gone */ }
  return await waitFor(async () => !(await pidAlive(pid)), 5000, 50);
}
