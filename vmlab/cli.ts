/**
 * `deno task vmlab build|up|down|status|ssh`: command line of the VM lab (QEMU guests with
 * real IPVS; see `docs/datapath.md`).
 *
 * ```
 * vmlab build  [--force]                       image into the cache (once; cached after)
 * vmlab up     [--name vm] [--mgmt 198.19.240.0/24] [--memory 256] [--accel auto|tcg|kvm]
 *              [--init bash|systemd] [--guests lb1,lb2,...] [--boot-timeout S]
 * vmlab reboot [--name vm] [--graceful] HOST...|--all   real kernel reboot on the same disk
 * vmlab down   [--name vm]
 * vmlab status [--name vm]
 * vmlab ssh    [--name vm] HOST [CMD...]       system ssh -F <state>/ssh_config
 * ```
 * Every command takes `--state-dir DIR` (default env HAPLAY_VMLAB_DIR or /tmp/haplay-vmlab) and
 * `--cache DIR` (default env HAPLAY_VMLAB_CACHE or /var/cache/haplay/vmlab). Errors are one line,
 * exit code 1; usage errors exit 2.
 * @module
 */
import { parseArgs } from "node:util";
import { cachedImage, defaultCacheDir, vmBuild } from "./build.ts";
import { defaultStateDir, vmDown, vmLoad, vmReboot, vmStatus, vmUp } from "./lab.ts";
import { SYSTEM_PATH } from "./util.ts";
import { runMain } from "../engine/_cli_errors.ts";

const USAGE = `usage: vmlab <command> [options]
  build  [--force]                 build the guest image once (cached in --cache)
  up     [--name vm] [--mgmt 198.19.240.0/24] [--memory 256] [--accel auto|tcg|kvm]
         [--init bash|systemd] [--guests lb1,lb2,web1,web2,client] [--boot-timeout S]
  reboot [--name vm] [--graceful] HOST...|--all
                                   power cut (default) or shutdown inside, then boot the
                                   same disk; prints ms to sshd and to booted per guest
  down   [--name vm]
  status [--name vm]
  ssh    [--name vm] HOST [CMD...]  (system ssh -F <state>/ssh_config)
options: --state-dir DIR (default: env HAPLAY_VMLAB_DIR or /tmp/haplay-vmlab)
         --cache DIR     (default: env HAPLAY_VMLAB_CACHE or /var/cache/haplay/vmlab)`;

class UsageError extends Error {}

const t = () => new Date().toISOString().slice(11, 19);

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || ["-h", "--help", "help"].includes(cmd)) {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const rest = argv.slice(1);
  let k = 0; // `ssh`: options end at the host name
  if (cmd === "ssh") {
    while (k < rest.length && rest[k].startsWith("-")) k += rest[k].includes("=") ? 1 : 2;
  } else k = rest.length;
  const { values, positionals } = parseArgs({
    args: rest.slice(0, k),
    options: {
      name: { type: "string", default: "vm" },
      mgmt: { type: "string" },
      memory: { type: "string" },
      accel: { type: "string", default: "auto" },
      force: { type: "boolean", default: false },
      init: { type: "string", default: "bash" },
      guests: { type: "string" },
      "boot-timeout": { type: "string" },
      graceful: { type: "boolean", default: false },
      all: { type: "boolean", default: false },
      "state-dir": { type: "string" },
      cache: { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length && cmd !== "reboot") {
    throw new UsageError(`unexpected argument '${positionals[0]}'`);
  }
  const stateDir = values["state-dir"];
  const cacheDir = values.cache;
  const log = (l: string) => console.error(`[vmlab ${t()}] ${l}`);
  switch (cmd) {
    case "build": {
      const r = await vmBuild({ cacheDir, force: values.force, log });
      console.log(
        r.cached
          ? `image cached: ${r.image.dir} (kernel ${r.image.kernelVersion}, built ${r.image.builtAt})`
          : `image built: ${r.image.dir} (base ${r.baseSeconds} s, image ${r.imageSeconds} s)`,
      );
      return 0;
    }
    case "up": {
      const accel = values.accel as "auto" | "tcg" | "kvm";
      if (!["auto", "tcg", "kvm"].includes(accel)) throw new UsageError("--accel auto|tcg|kvm");
      const init = values.init as "bash" | "systemd";
      if (!["bash", "systemd"].includes(init)) throw new UsageError("--init bash|systemd");
      const lab = await vmUp({
        name: values.name,
        mgmtSubnet: values.mgmt,
        memoryMiB: values.memory ? Number(values.memory) : undefined,
        accel,
        init,
        guests: values.guests?.split(",").map((g) => g.trim()).filter(Boolean),
        bootTimeout: values["boot-timeout"] ? Number(values["boot-timeout"]) : undefined,
        stateDir,
        cacheDir,
        log,
      });
      for (const h of lab.hosts) {
        console.log(
          `${h.name.padEnd(7)} ${h.role.padEnd(9)} ssh ${h.ip.padEnd(15)} data ${h.data}`,
        );
      }
      console.log(`inventory: ${lab.inventory}`);
      console.log(`ssh:       ssh -F ${lab.sshConfig} lb1   (or: deno task vmlab ssh lb1)`);
      console.log(
        `booted in ${lab.bootSeconds} s (${lab.accel}, init ${lab.init}); ` +
          `down: deno task vmlab down --name ${lab.name}`,
      );
      return 0;
    }
    case "reboot": {
      if (values.all === positionals.length > 0) {
        throw new UsageError("reboot: name the guests or give --all (not both)");
      }
      const lab = await vmLoad(values.name, stateDir);
      if (!lab) throw new UsageError(`vmlab ${values.name} is not up`);
      const res = await vmReboot(lab, values.all ? "all" : positionals, {
        graceful: values.graceful,
        log,
      });
      for (const r of res) {
        console.log(
          `${r.host.padEnd(7)} ${values.graceful ? `shut down in ${r.downMs} ms, ` : ""}` +
            `sshd ${r.sshUpMs} ms, booted ${r.readyMs} ms after power-off (${r.bootCpuS} CPU s)`,
        );
      }
      return 0;
    }
    case "down":
      await vmDown(values.name, stateDir);
      console.log(`vmlab ${values.name} is down`);
      return 0;
    case "status": {
      const img = await cachedImage(cacheDir ?? defaultCacheDir());
      console.log(img ? `image: ${img.dir} (kernel ${img.kernelVersion})` : "image: not built");
      const lab = await vmLoad(values.name, stateDir);
      if (!lab) {
        console.log(`vmlab ${values.name}: not up (${stateDir ?? defaultStateDir()})`);
        return 1;
      }
      for (const h of await vmStatus(lab)) {
        console.log(
          `${h.name.padEnd(7)} ${h.ip.padEnd(15)} pid ${h.pid} ${h.running ? "running" : "DOWN"}` +
            ` ssh ${h.ssh ? "up" : "down"}`,
        );
      }
      return 0;
    }
    case "ssh": {
      const lab = await vmLoad(values.name, stateDir);
      if (!lab) throw new UsageError(`vmlab ${values.name} is not up`);
      const [host, ...command] = rest.slice(k);
      if (!host) throw new UsageError("ssh: which guest?");
      const child = new Deno.Command("ssh", {
        args: ["-F", lab.sshConfig, host, ...command],
        env: { PATH: SYSTEM_PATH },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      return (await child.status).code;
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

if (import.meta.main) {
  await runMain("vmlab", async (argv) => {
    try {
      return await main(argv);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`vmlab: ${e.message}\n${USAGE}`);
      return 2;
    }
  });
}
