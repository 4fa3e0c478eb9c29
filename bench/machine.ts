/**
 * What the benchmark ran on: CPU, memory, kernel, tool versions, commit, load at the start.
 * @module
 */

async function out(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(r.stdout).trim();
  } catch {
    return "";
  }
}

/** The machine and tool versions. */
export async function machineInfo() {
  const cpu = (await out("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])).trim();
  return {
    cpus: navigator.hardwareConcurrency,
    cpu,
    memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    ansible: (await out("ansible-playbook", ["--version"])).split("\n")[0],
    openssh: await out("sh", ["-c", "ssh -V 2>&1"]),
    commit: await out("git", [
      "-C",
      new URL("..", import.meta.url).pathname,
      "rev-parse",
      "--short",
      "HEAD",
    ]),
    loadavg: Deno.loadavg(),
  };
}
