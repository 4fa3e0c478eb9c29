/**
 * The handlers' stop of the kernel's IPVS sync daemons (lb/sync_daemons_sh.ts), run by sh
 * against a fake /proc, keepalived.conf and ipvsadm (the namespace lab's kernel has no IPVS;
 * the VM lab's rollback snapshot proves it on real kernels).
 */
import assert from "node:assert/strict";
import { SYNC_DAEMONS_OFF_SH } from "../../lb/sync_daemons_sh.ts";
import { KEEPALIVED_CONF } from "../../lb/paths.ts";
import { keepalivedHandlers } from "../../roles/keepalived.ts";
import type { HostContext } from "../../engine/types.ts";

/** Runs the snippet with `conf` as keepalived.conf and `threads` as kernel thread names. */
async function run(
  conf: string | null,
  threads: string[],
): Promise<{ calls: string; err: string }> {
  const d = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${d}/bin`);
    await Deno.writeTextFile(`${d}/bin/ipvsadm`, `#!/bin/sh\necho "$*" >> ${d}/calls\n`, {
      mode: 0o755,
    });
    for (const [i, t] of [...threads, "sshd"].entries()) {
      await Deno.mkdir(`${d}/proc/${i + 1}`, { recursive: true });
      await Deno.writeTextFile(`${d}/proc/${i + 1}/comm`, `${t}\n`);
    }
    if (conf !== null) await Deno.writeTextFile(`${d}/keepalived.conf`, conf);
    const sh = SYNC_DAEMONS_OFF_SH.replaceAll(KEEPALIVED_CONF, `${d}/keepalived.conf`)
      .replaceAll("/proc/", `${d}/proc/`);
    assert.notEqual(sh, SYNC_DAEMONS_OFF_SH);
    const r = await new Deno.Command("sh", {
      args: ["-ec", sh],
      env: { PATH: `${d}/bin:/usr/bin:/bin` },
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0);
    const calls = await Deno.readTextFile(`${d}/calls`).catch(() => "");
    return { calls: calls.trim(), err: new TextDecoder().decode(r.stderr) };
  } finally {
    await Deno.remove(d, { recursive: true });
  }
}

const SYNC_CONF = "global_defs {\n  lvs_sync_daemon eth0 VI_1 id 42\n}\n";

Deno.test("sync daemons: stopped when keepalived.conf has no lvs_sync_daemon", async () => {
  const r = await run("global_defs {\n}\n", ["ipvs-m:0:0", "ipvs-b:0:0"]);
  assert.equal(r.calls, "--stop-daemon master\n--stop-daemon backup");
  assert.match(r.err, /stopped the kernel's IPVS sync daemons/);
  // keepalived.conf removed (a rollback of the first deploy)
  assert.equal(
    (await run(null, ["ipvs-b:0:0"])).calls,
    "--stop-daemon master\n--stop-daemon backup",
  );
});

Deno.test("sync daemons: left alone while configured, and nothing to stop without them", async () => {
  assert.equal((await run(SYNC_CONF, ["ipvs-m:0:0"])).calls, "");
  assert.equal((await run("global_defs {\n}\n", ["kworker/0:1"])).calls, "");
});

Deno.test("sync daemons: both keepalived handlers end with the stop", () => {
  const hs = keepalivedHandlers({} as HostContext);
  assert.equal(hs.length, 2);
  for (const h of hs) assert.ok(h.run.trimEnd().endsWith(SYNC_DAEMONS_OFF_SH), h.name);
});
