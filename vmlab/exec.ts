/**
 * Commands in guests over SSH (this machine's OpenSSH client, the lab's ssh_config: strict host
 * key checking against the lab's known_hosts, the lab key, batch mode).
 * @module
 */
import type { VmHost, VmLab } from "./types.ts";
import { run, type RunResult, VmlabError } from "./util.ts";

/** Text of the lab's ssh_config. */
export function sshConfigText(
  lab: Pick<VmLab, "name" | "dir" | "hosts" | "keyFile" | "knownHosts">,
): string {
  const lines = [`# haplay vmlab ${lab.name}: ssh -F <this file> HOST`];
  for (const h of lab.hosts) lines.push(`Host ${h.name} ${h.ip}`, `  HostName ${h.ip}`);
  lines.push(
    "Host *",
    "  User root",
    `  IdentityFile ${lab.keyFile}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${lab.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  ConnectTimeout 15",
    "  ServerAliveInterval 10",
    // one connection per guest, reused: a key exchange costs a second or more under TCG
    "  ControlMaster auto",
    `  ControlPath ${lab.dir}/cm-%h`,
    "  ControlPersist 120",
    "  LogLevel ERROR",
    "",
  );
  return lines.join("\n");
}

/** Quotes one word for a POSIX shell. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Ends the SSH connection masters of the lab's ssh_config (`ssh -O exit`: each master is an ssh
 * process the lab's own `vmExec` started; they also exit by themselves after 120 s idle).
 */
export async function closeMasters(lab: Pick<VmLab, "sshConfig" | "hosts">): Promise<void> {
  await Promise.all(
    lab.hosts.map((h) =>
      run("ssh", ["-F", lab.sshConfig, "-O", "exit", h.name], {
        allowFail: true,
        timeoutMs: 10_000,
      })
    ),
  );
}

/** Options of {@link vmExec}. */
export interface VmExecOptions {
  /** Standard input of the command. */
  stdin?: string;
  /** Kill ssh after this many milliseconds (default 120 000). */
  timeoutMs?: number;
  /** Log in as this user (default root). */
  user?: string;
}

function hostOf(lab: VmLab, host: string): VmHost {
  const h = lab.hosts.find((x) => x.name === host || x.ip === host);
  if (!h) throw new VmlabError(`vmlab ${lab.name} has no guest '${host}'`);
  return h;
}

/**
 * Runs `cmd` in guest `host` (name or management address) over SSH: a string is a shell
 * command line (run by the login shell), an array is quoted word by word. Never throws for a
 * non-zero exit (ssh's own failures exit 255).
 */
export async function vmExec(
  lab: VmLab,
  host: string,
  cmd: string | string[],
  o: VmExecOptions = {},
): Promise<RunResult> {
  const h = hostOf(lab, host);
  const line = typeof cmd === "string" ? cmd : cmd.map(shq).join(" ");
  const args = ["-F", lab.sshConfig, ...(o.user ? ["-l", o.user] : []), h.name, "--", line];
  return await run("ssh", args, {
    stdin: o.stdin,
    allowFail: true,
    timeoutMs: o.timeoutMs ?? 120_000,
  });
}

/** Like {@link vmExec} but throws (with the output's tail) unless the command exits 0. */
export async function vmSh(lab: VmLab, host: string, cmd: string, o: VmExecOptions = {}) {
  const r = await vmExec(lab, host, cmd, o);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ");
    throw new VmlabError(`${host}: '${cmd.slice(0, 120)}' exited ${r.code}: ${tail}`);
  }
  return r.stdout;
}
