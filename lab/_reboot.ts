/**
 * Power-cycling lab hosts: every process of a host ends (its PID namespace), its network
 * namespace, NIC and mounts go, and it boots again from the same disk (its overlay upper
 * directory) with only what hardware and the installer give it: the NIC plugged into the lab
 * bridge (same MAC) and, for systemd hosts, the installer's netplan file already on the disk.
 * Whatever else a host has after the reboot, its own boot brought back.
 * @module
 */

import {
  hostIndexes,
  isHostInit,
  removeHostCgroups,
  startHost,
  stopHosts,
  waitHosts,
} from "./_host.ts";
import { plugHosts, unplugHosts } from "./_net.ts";
import { writeRecord } from "./_state.ts";
import { debug } from "./_trace.ts";
import type { LabRecord } from "./types.ts";
import { LabError, pidAlive, removeIf, run, waitFor } from "./util.ts";

/** How long a graceful shutdown may take before the power is cut anyway. */
export const GRACEFUL_TIMEOUT_MS = 30_000;

/** One host's reboot, as {@link rebootHosts} reports it. */
export interface RebootResult {
  /** Host name (`hN`). */
  host: string;
  /** From power-off (PID 1 killed, or seen gone after a graceful shutdown) to sshd answering. */
  sshUpMs: number;
  /** The graceful shutdown did not end PID 1 in time: the power was cut. */
  forced?: boolean;
}

/** Ask a host's init to shut down: `systemctl poweroff` (systemd), SIGTERM (lab init). */
async function shutdown(rec: LabRecord, pid: number): Promise<void> {
  if (rec.init === "systemd") {
    // like `systemctl reboot` on hardware: systemd stops every unit, then PID 1 exits
    // (a container's systemd-shutdown exits instead of calling reboot(2))
    await run("nsenter", [
      "-t",
      String(pid),
      "-m",
      "-u",
      "-i",
      "-n",
      "-p",
      "-r",
      "-w",
      "--",
      "systemctl",
      "--no-block",
      "poweroff",
    ], { allowFail: true, timeoutMs: 10_000 });
  } else {
    Deno.kill(pid, "SIGTERM"); // lab-init stops its services and exits
  }
}

/**
 * Reboot hosts `idx` of the lab recorded in `rec` (the caller holds the name's lock): all at
 * once, hard (SIGKILL to PID 1) or `graceful` (a clean shutdown first, bounded by
 * {@link GRACEFUL_TIMEOUT_MS}). Updates the PIDs in `rec` and in `lab.json`.
 */
export async function rebootHosts(
  rec: LabRecord,
  idx: number[],
  graceful: boolean,
): Promise<RebootResult[]> {
  const t0 = performance.now();
  const offAt = new Map<number, number>();
  const forced = new Set<number>();
  const started = await hostIndexes(rec.dir);
  for (const i of idx) {
    if (!started.has(i)) throw new LabError(`host h${i} of lab ${rec.name} was never started`);
  }

  // 1. power off
  await Promise.all(idx.map(async (i) => {
    const h = rec.hosts[i - 1];
    const running = h.pid > 0 && (await isHostInit(h.pid, h.netns));
    if (running && graceful) {
      await shutdown(rec, h.pid);
      if (await waitFor(async () => !(await pidAlive(h.pid)), GRACEFUL_TIMEOUT_MS, 20)) {
        offAt.set(i, performance.now());
      } else forced.add(i);
    }
    if (!offAt.has(i)) offAt.set(i, performance.now());
    // the power cut: kills PID 1 (if still there) and so its whole PID namespace
    const left = await stopHosts(rec.name, rec.dir, [i]);
    if (left.length) throw new LabError(`reboot of ${h.name}: ${left.join("; ")}`);
  }));
  debug(`reboot: ${idx.length} hosts off (${Math.round(performance.now() - t0)} ms)`);

  // 2. nothing of the old boot stays: NIC, netns (its mounts went with its last process),
  //    systemd's cgroups, the pid files
  const left = await unplugHosts(rec.name, idx);
  if (left.length) throw new LabError(`reboot: still there after power-off: ${left.join(" ")}`);
  if (rec.cgroupDir) {
    const cg = await removeHostCgroups(rec.cgroupDir, rec.name, idx);
    if (cg) throw new LabError(`reboot: ${cg}`);
  }
  for (const i of idx) {
    await removeIf(`${rec.dir}/h${i}.pid`);
    await removeIf(`${rec.dir}/h${i}.pid.parent`);
    rec.hosts[i - 1].pid = 0;
  }
  await writeRecord(rec);

  // 3. power on: the NIC plugged back, the host boots from its disk
  await plugHosts(rec.name, rec.hosts, idx);
  for (const i of idx) await startHost(rec, i);
  const ready = await waitHosts(rec, Date.now() + 30_000 + 500 * idx.length, idx);
  await writeRecord(rec);
  debug(`reboot: ${idx.length} hosts up (${Math.round(performance.now() - t0)} ms)`);
  return idx.map((i) => {
    const r: RebootResult = {
      host: rec.hosts[i - 1].name,
      sshUpMs: Math.round(ready.get(i)! - offAt.get(i)!),
    };
    if (forced.has(i)) r.forced = true;
    return r;
  });
}
