/**
 * `deno task lab up|down|status|ssh|exec|list`: command line of haplay's namespace lab.
 *
 * ```
 * lab up     [--name lab0] [--hosts 3] [--subnet 198.18.0.0/24] [--apt-repo] [--init systemd|lab]
 *            [--keepalived 2.0.19|2.2.4|2.2.8|2.3.4]   (upstream build in the apt repo)
 * lab down   [--name lab0]
 * lab reboot [--name lab0] HOST...|--all [--graceful]
 * lab status [--name lab0]
 * lab ssh    [--name lab0] HOST [CMD...]
 * lab exec   [--name lab0] HOST -- CMD...
 * lab list
 * ```
 * Every command takes `--state-dir DIR` (default env HAPLAY_LAB_DIR or /tmp/haplay-lab).
 * Errors are printed as one line; the exit code is then 1.
 * @module
 */

import { parseArgs } from "node:util";
import {
  defaultStateDir,
  type Lab,
  labDown,
  labExecArgv,
  labList,
  labLoad,
  labReboot,
  labStatus,
  labUp,
} from "./lab.ts";
import { SYSTEM_PATH } from "./util.ts";
import { runMain } from "../engine/_cli_errors.ts";

const USAGE = `usage: lab <command> [options]
  up     [--name lab0] [--hosts 3] [--subnet 198.18.0.0/24] [--apt-repo] [--init systemd|lab]
         [--keepalived VERSION]   (serve keepalived VERSION built from upstream; implies --apt-repo)
  down   [--name lab0]
  reboot [--name lab0] HOST...|--all [--graceful]   (power cycle: the hosts boot from their disk)
  status [--name lab0]
  ssh    [--name lab0] HOST [CMD...]      (system ssh -F <lab>/ssh_config)
  exec   [--name lab0] HOST -- CMD...     (nsenter into the host, no ssh)
  list                                    (labs with a state directory)
options: --state-dir DIR (default: env HAPLAY_LAB_DIR or /tmp/haplay-lab)`;

class UsageError extends Error {}

async function loaded(name: string, stateDir?: string): Promise<Lab> {
  const lab = await labLoad(name, stateDir);
  if (!lab) {
    throw new UsageError(
      `lab ${name} is not up (no ${stateDir ?? defaultStateDir()}/${name}/lab.json)`,
    );
  }
  return lab;
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(USAGE);
    return cmd ? 0 : 1;
  }
  const rest = argv.slice(1);
  let before: string[], after: string[];
  let dash = -1;
  if (cmd === "ssh") {
    // `ssh [opts] h1 ls -la`: everything from the host on belongs to ssh
    let k = 0;
    while (k < rest.length && rest[k].startsWith("-")) {
      k += /^--?[a-z-]+=/.test(rest[k]) ? 1 : 2;
    }
    before = rest.slice(0, k);
    after = rest.slice(k);
  } else {
    dash = rest.indexOf("--");
    before = dash >= 0 ? rest.slice(0, dash) : rest;
    after = dash >= 0 ? rest.slice(dash + 1) : [];
  }
  const { values, positionals } = parseArgs({
    args: before,
    options: {
      name: { type: "string", short: "l", default: "lab0" },
      hosts: { type: "string", short: "n", default: "3" },
      subnet: { type: "string", short: "s", default: "198.18.0.0/24" },
      "apt-repo": { type: "boolean", default: false },
      init: { type: "string", default: "systemd" },
      keepalived: { type: "string" },
      "state-dir": { type: "string" },
      all: { type: "boolean", default: false },
      graceful: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  const name = values.name!;
  const stateDir = values["state-dir"];
  switch (cmd) {
    case "up": {
      if (positionals.length) throw new UsageError(`up: unexpected argument '${positionals[0]}'`);
      if (!/^\d+$/.test(values.hosts!)) throw new UsageError(`--hosts must be a number`);
      if (values.init !== "lab" && values.init !== "systemd") {
        throw new UsageError(`--init must be lab or systemd`);
      }
      const t0 = performance.now();
      const lab = await labUp({
        name,
        hosts: Number(values.hosts),
        subnet: values.subnet!,
        aptRepo: values["apt-repo"],
        keepalived: values.keepalived,
        init: values.init,
        stateDir,
      });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const first = lab.hosts[0];
      const last = lab.hosts[lab.hosts.length - 1];
      console.log(`lab ${lab.name} up: ${lab.hosts.length} hosts in ${secs}s`);
      console.log(
        `  hosts        ${first.name} ${first.ip}` +
          (lab.hosts.length > 1 ? ` .. ${last.name} ${last.ip}` : "") + ` (bridge ${lab.bridgeIp})`,
      );
      console.log(`  inventory    ${lab.inventory}`);
      console.log(`  key          ${lab.keyFile}`);
      console.log(`  known_hosts  ${lab.knownHosts}`);
      console.log(`  ssh_config   ${lab.sshConfig}`);
      if (lab.aptRepoUrl) console.log(`  apt repo     ${lab.aptRepoUrl}`);
      if (values.keepalived) console.log(`  keepalived   ${values.keepalived} (upstream build)`);
      console.log(
        `  ssh:         ssh -F ${lab.sshConfig} ${first.name}   (or: deno task lab ssh --name ${lab.name} ${first.name})`,
      );
      console.log(`  down:        deno task lab down --name ${lab.name}`);
      return 0;
    }
    case "down": {
      const t0 = performance.now();
      const was = await labLoad(name, stateDir);
      await labDown(name, stateDir);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(was ? `lab ${name} down in ${secs}s` : `lab ${name}: nothing left up`);
      return 0;
    }
    case "reboot": {
      const lab = await loaded(name, stateDir);
      if (values.all === (positionals.length > 0)) {
        throw new UsageError("reboot: give HOST... or --all (not both)");
      }
      const t0 = performance.now();
      const res = await labReboot(lab, values.all ? "all" : positionals, {
        graceful: values.graceful,
      });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const how = values.graceful ? "graceful" : "hard";
      for (const r of res) {
        console.log(`${r.host}\tsshd up ${(r.sshUpMs / 1000).toFixed(1)}s after power-off`);
      }
      console.log(`lab ${name}: ${res.length} hosts rebooted (${how}) in ${secs}s`);
      return 0;
    }
    case "status": {
      const lab = await loaded(name, stateDir);
      const st = await labStatus(lab);
      console.log(`lab ${lab.name} ${lab.subnet} (${lab.dir})`);
      for (const h of st) {
        console.log(`${h.name}\t${h.ip}\tpid=${h.pid}\t${h.up ? "up" : "DOWN"}`);
      }
      return st.every((h) => h.up) ? 0 : 1;
    }
    case "list": {
      for (const l of await labList(stateDir)) console.log(l);
      return 0;
    }
    case "ssh": {
      const lab = await loaded(name, stateDir);
      const args = [...positionals, ...after];
      if (!args.length) throw new UsageError("ssh: HOST missing");
      const child = new Deno.Command("ssh", {
        args: ["-F", lab.sshConfig, ...args],
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      const st = await child.status;
      return st.code;
    }
    case "exec": {
      const lab = await loaded(name, stateDir);
      const host = positionals[0];
      if (!host) throw new UsageError("exec: HOST missing");
      const command = [...positionals.slice(1), ...after];
      if (!command.length) throw new UsageError("exec: CMD missing (exec HOST -- CMD...)");
      const [prog, ...args] = await labExecArgv(lab, host, command);
      const child = new Deno.Command(prog, {
        args,
        clearEnv: true,
        env: { PATH: SYSTEM_PATH },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      return (await child.status).code;
    }
    default:
      throw new UsageError(`unknown command '${cmd}' (up, down, reboot, status, ssh, exec, list)`);
  }
}

if (import.meta.main) {
  await runMain("lab", async (argv) => {
    try {
      return await main(argv);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`lab: ${e.message}`);
      return 1;
    }
  });
}
