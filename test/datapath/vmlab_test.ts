/**
 * The VM lab itself, end to end: the cached image, five guests booted with their own sshd and
 * host keys, SSH with strict host key checking (a wrong key is refused), haplay deploying and
 * rolling back over SSH, IPVS in a director's kernel, the data network closed to this machine,
 * and a teardown that leaves no process, link, namespace or file behind.
 *
 * Lab `vt`, management subnet 198.19.241.0/24.
 */
import assert from "node:assert/strict";
import { loadInventory } from "../../engine/inventory.ts";
import { rollbackHosts } from "../../engine/rollback.ts";
import { runPlaybook } from "../../engine/run.ts";
import { file } from "../../tasks/mod.ts";
import { vmExec, vmSh } from "../../vmlab/exec.ts";
import { vmDown, vmLoad } from "../../vmlab/lab.ts";
import { netnsList, rootLinks } from "../../vmlab/net.ts";
import { run } from "../../vmlab/util.ts";
import { vmTest, withVmLab } from "./fixture.ts";

const NAME = "vt";
const log = (l: string) => console.log(`[vmlab_test] ${l}`);

async function qemuPids(): Promise<string[]> {
  const r = await run("pgrep", ["-f", `-name vmlab-${NAME}-`], { allowFail: true });
  return r.stdout.split("\n").filter(Boolean);
}

vmTest(
  "vmlab: 5 guests with sshd, strict host keys, haplay over SSH, IPVS, clean teardown",
  async () => {
    let dir = "";
    await withVmLab({ name: NAME, mgmtSubnet: "198.19.241.0/24", log }, async (lab) => {
      dir = lab.dir;
      log(`booted in ${lab.bootSeconds} s (${lab.accel})`);
      assert.deepEqual(lab.hosts.map((h) => h.name), ["lb1", "lb2", "web1", "web2", "client"]);
      assert.equal((await vmLoad(NAME))?.dir, lab.dir);

      // every guest: its own name, its own host keys (all different), root and deploy logins
      const known = (await Deno.readTextFile(lab.knownHosts)).trim().split("\n");
      assert.equal(known.length, 10);
      assert.equal(new Set(known.map((l) => l.split(" ")[2])).size, 10, "host keys are unique");
      for (const h of lab.hosts) {
        assert.equal((await vmSh(lab, h.name, "hostname")).trim(), h.name);
        assert.equal((await vmSh(lab, h.name, "sudo -n id -u", { user: "deploy" })).trim(), "0");
      }

      // strict host key checking: lb1 presenting a key known_hosts does not list for it fails
      const wrong = `${lab.dir}/known_hosts.wrong`;
      const lb2Keys = known.filter((l) => l.startsWith("lb2,")).map((l) =>
        l.replace(/^lb2,\S+/, "lb1,198.19.241.11")
      );
      await Deno.writeTextFile(wrong, lb2Keys.join("\n") + "\n");
      const bad = await run("ssh", [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${wrong}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "ControlPath=none",
        "-i",
        lab.keyFile,
        "root@198.19.241.11",
        "true",
      ], { allowFail: true });
      assert.equal(bad.code, 255);
      assert.match(bad.stderr, /host key|HOST IDENTIFICATION/i);

      // IPVS in the guest kernel (the reason for the VMs), and the data network between guests
      const ipvs = await vmSh(
        lab,
        "lb1",
        [
          "modprobe ip_vs",
          "ipvsadm -A -t 198.18.10.200:80 -s rr",
          "ipvsadm -a -t 198.18.10.200:80 -r 198.18.10.13:80 -g",
          "ipvsadm -Ln",
          "ipvsadm -C",
        ].join(" && "),
      );
      assert.match(ipvs, /TCP\s+198\.18\.10\.200:80 rr/);
      assert.match(ipvs, /198\.18\.10\.13:80\s+Route/);
      assert.match(await vmSh(lab, "lb1", "curl -s -m 5 http://198.18.10.13/"), /^web1/);
      assert.match(
        await vmSh(lab, "web2", "curl -s -m 5 http://198.18.10.14:8000/health"),
        /^web2/,
      );
      assert.equal(
        (await vmExec(lab, "client", "curl -s -m 3 http://198.18.10.13/")).code !== 0,
        true,
      );
      // this machine sees only the management subnet
      const route = await run("ip", ["-4", "route", "get", "198.18.10.13"], { allowFail: true });
      assert.doesNotMatch(route.stdout, new RegExp(`dev vmlab${NAME}`));

      // haplay deploys into the guests over SSH (strict known_hosts from the inventory), rolls back
      const inv = await loadInventory(lab.inventory);
      const lines: string[] = [];
      const play = {
        name: "marker",
        hosts: "lb",
        tasks: () => [file({ path: "/etc/haplay-vmlab-test", content: "hello\n", mode: "0644" })],
      };
      const rep = await runPlaybook(inv, [play], { log: (l) => lines.push(l) });
      assert.equal(rep.ok, true, lines.join("\n"));
      assert.equal((await vmSh(lab, "lb2", "cat /etc/haplay-vmlab-test")).trim(), "hello");
      const rb = await rollbackHosts(inv, { limit: "lb", log: (l) => lines.push(l) });
      assert.ok(rb.every((r) => r.ok), lines.join("\n"));
      assert.notEqual((await vmExec(lab, "lb2", "test -e /etc/haplay-vmlab-test")).code, 0);
    });

    // nothing left: processes, links, namespace, state
    assert.deepEqual(await qemuPids(), []);
    assert.ok(!(await rootLinks()).includes(`vmlab${NAME}`));
    assert.ok(!(await netnsList()).includes(`vmlab-${NAME}`));
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    await vmDown(NAME); // idempotent
  },
);
