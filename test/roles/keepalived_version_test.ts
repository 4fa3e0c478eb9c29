/**
 * The keepalived version fact and the version guard of keepalived.conf (pure: probe output in,
 * plan out). The version matrix against real binaries: test/versions/.
 */
import assert from "node:assert/strict";
import {
  compareVersions,
  KEEPALIVED_VERSION_PROBE,
  keepalivedVersionFact,
  KEYWORD_SINCE,
  keywordsOf,
  versionedConf,
  versionProblem,
} from "../../lb/keepalived_version.ts";
import { file } from "../../tasks/mod.ts";

Deno.test("keepalived version: the probe line is read, installed or apt's candidate", () => {
  assert.deepEqual(
    keepalivedVersionFact("keepalived_version=2.0.19\nkeepalived_version_from=installed\n"),
    { version: "2.0.19", from: "installed" },
  );
  assert.deepEqual(
    keepalivedVersionFact("keepalived_version=2.2.7\nkeepalived_version_from=candidate\n"),
    { version: "2.2.7", from: "candidate" },
  );
  assert.deepEqual(
    keepalivedVersionFact("keepalived_version=\nkeepalived_version_from=none\n"),
    { from: "none" },
  );
  assert.equal(keepalivedVersionFact("end=1\n"), undefined);
});

Deno.test("keepalived version: the probe parses keepalived --version and apt-cache policy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "haplay-kv-" });
  try {
    const fake = (name: string, body: string) =>
      Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const probe = async () => {
      const r = await new Deno.Command("sh", {
        args: ["-c", KEEPALIVED_VERSION_PROBE],
        env: { PATH: `${dir}:/usr/bin:/bin` },
        clearEnv: true,
      }).output();
      return keepalivedVersionFact(new TextDecoder().decode(r.stdout));
    };
    // 2.0.19 prints its version on stderr, with a build string after it
    await fake("keepalived", `echo "Keepalived v2.0.19 (unknown)" >&2; echo "" >&2`);
    await fake("apt-cache", "exit 1");
    assert.deepEqual(await probe(), { version: "2.0.19", from: "installed" });
    await fake("keepalived", "exit 127");
    await fake(
      "apt-cache",
      `printf 'keepalived:\\n  Installed: (none)\\n  Candidate: 1:2.2.8-0haplay1\\n'`,
    );
    assert.deepEqual(await probe(), { version: "2.2.8", from: "candidate" });
    await fake("apt-cache", `printf 'keepalived:\\n  Installed: (none)\\n  Candidate: (none)\\n'`);
    assert.deepEqual(await probe(), { from: "none" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keepalived version: numeric comparison", () => {
  assert.ok(compareVersions("2.0.19", "2.2.4") < 0);
  assert.ok(compareVersions("2.10.0", "2.9.9") > 0);
  assert.equal(compareVersions("2.2", "2.2.0"), 0);
});

const CONF = "global_defs {\n    router_id lb1\n}\nvrrp_instance VI_1 {\n    state MASTER\n" +
  "    unicast_peer {\n        198.19.70.12\n    }\n}\n";

Deno.test("keepalived version: keywords of a config, and which version they need", () => {
  assert.deepEqual(keywordsOf(CONF).sort(), [
    "global_defs",
    "router_id",
    "state",
    "unicast_peer",
    "vrrp_instance",
  ]);
  assert.equal(versionProblem(CONF, "2.0.19"), undefined);
  assert.equal(versionProblem(CONF, "2.3.4"), undefined);
  assert.match(versionProblem(CONF, "1.3.5")!, /keepalived 1\.3\.5 .*router_id \(needs 2\.0\.19\)/);
  assert.equal(KEYWORD_SINCE["retry"], "2.0.19");
});

Deno.test("keepalived version: the keepalived.conf plan refuses an older keepalived, before any change", () => {
  const t = versionedConf(
    file({ path: "/etc/keepalived/keepalived.conf", content: CONF, mode: "0640" }),
    CONF,
  );
  assert.match(t.probe, /keepalived --version/);
  const old = t.plan(
    "keepalived_version=1.3.5\nkeepalived_version_from=installed\nexists=0\nend=1\n",
  );
  assert.equal(old.kind, "change");
  assert.match(old.kind === "change" ? old.apply : "", /^hp_fail .*needs 2\.0\.19/);
  for (const v of ["2.0.19", "2.2.7", "2.3.4"]) {
    const p = t.plan(
      `keepalived_version=${v}\nkeepalived_version_from=installed\nexists=0\nend=1\n`,
    );
    assert.equal(p.kind, "change");
    assert.match(
      p.kind === "change" ? p.summary : "",
      new RegExp(`^create .*\\(keepalived ${v}\\)$`),
    );
  }
});
