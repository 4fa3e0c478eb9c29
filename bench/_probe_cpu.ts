import { loadInventory } from "../engine/inventory.ts";
import { loadPlaybook } from "../engine/playbook.ts";
import { prepare, targetOf } from "../engine/run.ts";
import { SshSession } from "../engine/ssh.ts";
import { PRELUDE } from "../engine/prelude.ts";
import { hostCpuMs } from "./host_cpu.ts";
import { labLoad } from "../lab/lab.ts";
const lab = (await labLoad(Deno.args[1]))!;
const HEADER =
  `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C\n${PRELUDE}`;
const inv = await loadInventory(Deno.args[0]);
const pb = await loadPlaybook("playbooks/site.ts");
const N = 5;
for (const [name, lh] of [["lb1", "h1"], ["web1", "h3"]]) {
  const h = inv.hosts.get(name)!;
  const s = await SshSession.open(targetOf(h));
  const cpu = async (script: string) => {
    const a = (await hostCpuMs(lab))[lh];
    for (let i = 0; i < N; i++) await s.runScript(script);
    return ((await hostCpuMs(lab))[lh] - a) / N;
  };
  const base = await cpu(":\n");
  const hdr = await cpu(`${HEADER}\n:\n`);
  console.log(name, "exec of ':'", base, "ms; with prelude", hdr, "ms");
  let sum = 0;
  for (const play of pb.plays) {
    const [p] = prepare(inv, play, [name], {});
    for (const t of p.tasks) {
      const c = (await cpu(`${HEADER}\n(\n${t.probe}\n) >/dev/null\n`)) - hdr;
      sum += c;
      console.log(
        name,
        String(Math.round(c)).padStart(5),
        "ms CPU",
        t.module.padEnd(12),
        t.name.slice(0, 60),
      );
    }
  }
  console.log(name, "sum of probes", Math.round(sum), "ms CPU");
  s.close();
}
