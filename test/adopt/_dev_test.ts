import { e2e, withLab } from "../lab_fixture.ts";
import { handBuild, SETUPS } from "./_hand.ts";
import { flatten, parseTree, readTree } from "./_steps.ts";
for (const id of (Deno.env.get("SETUPS") ?? "unseen").split(",")) {
  const s = SETUPS[id];
  e2e(`dev ${id}`, async () => {
    await withLab({ ...s.lab, hosts: s.hosts.length, aptRepo: true }, async (lab) => {
      await handBuild(lab, s);
      const files = await readTree(lab, "h1", "/etc/keepalived");
      console.log([...files.keys()]);
      const p = parseTree(files);
      console.log(JSON.stringify(p.errors));
      console.log(flatten(p.nodes).join("\n"));
      if (Deno.env.get("HOLD")) await new Promise((r) => setTimeout(r, Number(Deno.env.get("HOLD"))));
    });
  });
}
