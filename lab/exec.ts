/**
 * Running commands inside a lab host by entering its namespaces (nsenter, not SSH).
 * @module
 */

import type { Lab, LabHost } from "./types.ts";
import { isHostInit } from "./_host.ts";
import { LabError, run, SYSTEM_PATH } from "./util.ts";

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
