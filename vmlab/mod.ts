/**
 * haplay's VM lab: five QEMU guests (two directors, two real servers, one client) running
 * Debian's own kernel with IPVS, each with its own sshd, on bridges inside a network namespace
 * that this machine reaches over one management veth. See `docs/datapath.md`.
 *
 * ```ts
 * const lab = await vmUp({ name: "vm" });          // builds the cached image first if needed
 * await vmExec(lab, "lb1", "ipvsadm -Ln");          // ssh, strict host key checking
 * await vmReboot(lab, ["lb1"]);                    // power cut + boot on the same disk
 * // lab.inventory: haplay inventory (groups lb, real, client); lab.keyFile, lab.knownHosts
 * await vmDown("vm");                              // QEMU by PID, veth, netns, state: nothing left
 * ```
 * @module
 */
export { cachedImage, vmBuild } from "./build.ts";
export type { BuildOptions, BuildResult, VmImage } from "./build.ts";
export { closeMasters, vmExec, vmSh } from "./exec.ts";
export type { VmExecOptions } from "./exec.ts";
export { vmInventoryText, withVmConnection } from "./inventory.ts";
export { defaultStateDir, vmDown, vmLoad, vmOwner, vmReboot, vmStatus, vmUp } from "./lab.ts";
export type { VmRebootOptions, VmRebootResult } from "./lab.ts";
export { GUESTS, LAN, WAN } from "./topology.ts";
export type { GuestRole, GuestSpec } from "./topology.ts";
export type { VmHost, VmInit, VmLab, VmUpOptions } from "./types.ts";
