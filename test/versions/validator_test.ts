/**
 * The config test's verdict per keepalived version, against the real binaries (Debian's 2.2.7 and
 * the upstream builds of lab/keepalived_build.ts, run from a temp prefix in a fresh network
 * namespace): good configs are accepted, broken ones refused with keepalived's own message
 * (file line included), configs keepalived would run only after changing them ("warn") refused
 * with its warning; every seed's rendered keepalived.conf is accepted by every version. Also
 * pins the raw `keepalived -t` exit codes that differ between releases (the reason the
 * validator judges output first): see docs/keepalived-versions.md.
 */
import assert from "node:assert/strict";
import { CHECKER_SCRIPT } from "../../lb/keepalived_check.ts";
import { renderKeepalived } from "../../lb/keepalived_conf.ts";
import { lbClusterOf } from "../../lb/cluster.ts";
import { e2e } from "../lab_fixture.ts";
import { loadExample, SEEDS } from "../roles/_fixtures.ts";
import { ALL_VERSIONS, inNetns, keepalivedDir } from "./_binaries.ts";

const GOOD = `global_defs {
    router_id lb1
    enable_script_security
    script_user root
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass t3stpass
    }
    virtual_ipaddress {
        198.19.70.100/32
    }
}
virtual_server 198.19.70.100 80 {
    delay_loop 5
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.19.70.21 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
            retry 3
            delay_before_retry 2
        }
    }
}
`;

type Verdict = "accept" | "refuse" | "warn";

interface Case {
  name: string;
  /** Config text; undefined: a path that does not exist. */
  conf?: string;
  /** The verdict, or one per version (versions not listed: `default`). */
  verdict: Verdict | { default: Verdict; [version: string]: Verdict };
  /** What the validator's message must contain (keepalived's own words) when not accepted. */
  says?: RegExp;
}

const CASES: Case[] = [
  { name: "VRRP + LVS, TCP_CHECK", conf: GOOD, verdict: "accept" },
  {
    name: "notify script as a non-root script_user (2.2.7 kills its own -t: exit 143)",
    conf: GOOD.replace("script_user root", "script_user nobody")
      .replace("    advert_int 1\n", '    advert_int 1\n    notify_master "/bin/true"\n'),
    verdict: "accept",
  },
  {
    name: "a missing closing brace",
    conf: GOOD.slice(0, GOOD.lastIndexOf("}")),
    verdict: "refuse",
    says: /missing '}'s/,
  },
  {
    name: "an unknown keyword",
    conf: GOOD.replace("    advert_int 1\n", "    advert_int 1\n    bogus_keyword 7\n"),
    verdict: "refuse",
    says: /Line 12\) Unknown keyword 'bogus_keyword'/,
  },
  {
    name: "virtual_router_id out of range",
    conf: GOOD.replace("virtual_router_id 51", "virtual_router_id 300"),
    verdict: "refuse",
    says: /VRID '300' not valid/,
  },
  {
    name: "nb_get_retry in TCP_CHECK (HTTP_GET's old name)",
    conf: GOOD.replace("retry 3", "nb_get_retry 3"),
    verdict: "refuse",
    says: /Unknown keyword 'nb_get_retry'/,
  },
  { name: "an empty file", conf: "", verdict: "refuse", says: /missing or empty/ },
  { name: "a missing file", verdict: "refuse", says: /missing or empty/ },
  {
    // /bin is a symlink to usr/bin on a usr-merged system (Debian 12, Ubuntu 20.04+): 2.3
    // disables a script reached through it (keepalived runs the rest)
    name: "a tracked script under /bin (usr-merge symlink)",
    conf: GOOD.replace(
      "vrrp_instance",
      'vrrp_script chk {\n    script "/bin/true"\n    interval 2\n}\nvrrp_instance',
    ).replace("    advert_int 1\n", "    advert_int 1\n    track_script {\n        chk\n    }\n"),
    verdict: { default: "accept", "2.3.4": "warn" },
    says: /Disabling track script chk due to insecure/,
  },
  {
    name: "auth_pass longer than 8 characters (keepalived truncates it)",
    conf: GOOD.replace("auth_pass t3stpass", "auth_pass t3stpassword"),
    verdict: "warn",
    says: /Truncating auth_pass to 8 characters/,
  },
];

/**
 * Raw `keepalived -t` exit codes per version, for: a config with errors, a missing file, and a
 * clean config whose scripts run as a non-root script_user. The validator must not trust these.
 */
const RAW_RC: Record<string, { errors: number; missing: number; scriptUser: number }> = {
  "2.0.19": { errors: 4, missing: 3, scriptUser: 0 },
  "2.2.4": { errors: 5, missing: 0, scriptUser: 0 },
  "2.2.7": { errors: 5, missing: 0, scriptUser: 143 },
  "2.2.8": { errors: 5, missing: 0, scriptUser: 0 },
  "2.3.4": { errors: 5, missing: 0, scriptUser: 0 },
};

async function check(dir: string, pathDir: string, file: string) {
  return await inNetns(pathDir, `sh ${dir}/check.sh ${file}`);
}

async function rawRc(pathDir: string, file: string): Promise<number> {
  const r = await inNetns(pathDir, `keepalived -t -f ${file} >/dev/null 2>&1 </dev/null; echo $?`);
  return Number(r.stdout.trim() || "-1");
}

for (const version of ALL_VERSIONS) {
  e2e(
    `keepalived ${version}: -t verdicts accept / refuse / warn, and the seeds' configs`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: `haplay-kvt-${version}-` });
      try {
        const bin = await keepalivedDir(version, dir);
        const v = await inNetns(bin, "keepalived --version 2>&1 | head -n 1");
        assert.match(v.stdout, new RegExp(`^Keepalived v${version.replaceAll(".", "\\.")}\\b`));
        await Deno.writeTextFile(`${dir}/check.sh`, CHECKER_SCRIPT);
        const table: string[] = [];
        for (const [i, c] of CASES.entries()) {
          const want = typeof c.verdict === "string"
            ? c.verdict
            : c.verdict[version] ?? c.verdict.default;
          const file = `${dir}/case${i}.conf`;
          if (c.conf !== undefined) await Deno.writeTextFile(file, c.conf);
          const r = await check(dir, bin, file);
          table.push(`${version}  ${c.name}: validator exit ${r.code} (${want})`);
          if (want === "accept") {
            assert.equal(r.code, 0, `${version} ${c.name}: refused:\n${r.stderr}`);
            assert.equal(r.stderr, "", `${version} ${c.name}`);
          } else {
            assert.notEqual(r.code, 0, `${version} ${c.name}: accepted`);
            assert.match(r.stderr, c.says!, `${version} ${c.name}`);
          }
        }
        console.log(table.join("\n"));

        const raw = RAW_RC[version];
        assert.deepEqual(
          {
            errors: await rawRc(bin, `${dir}/case3.conf`),
            missing: await rawRc(bin, `${dir}/nonexistent.conf`),
            scriptUser: await rawRc(bin, `${dir}/case1.conf`),
          },
          raw,
          `keepalived ${version} -t exit codes`,
        );

        // every seed's rendered keepalived.conf, as the validator on a host would see it
        for (const seed of SEEDS) {
          const inv = await loadExample(seed);
          for (const h of inv.hosts.values()) {
            const cl = lbClusterOf(h.name, inv.hosts);
            if (!cl) continue;
            {
              const r = renderKeepalived(cl, h.name);
              // no keepalived_script user or notify scripts on this machine: run scripts as root
              // (/usr/bin/true: 2.3 disables a script reached through the /bin symlink), includes from the temp dir
              let text = r.main.replace("script_user keepalived_script", "script_user root")
                .replace(/(notify_\w+) "[^"]+"/g, '$1 "/usr/bin/true"')
                .replace(/script "[^"]+"/g, 'script "/usr/bin/true"')
                .replace(/interface \S+/g, "interface eth0")
                .replace(/dev \S+/g, "dev eth0");
              for (const [k, inc] of r.includes.entries()) {
                await Deno.writeTextFile(`${dir}/inc${k}.conf`, inc.content);
                text = text.replace(/include \S+/, `include ${dir}/inc${k}.conf`);
              }
              const file = `${dir}/seed-${seed}-${h.name}.conf`;
              await Deno.writeTextFile(file, text);
              const res = await check(dir, bin, file);
              assert.equal(res.code, 0, `${version} seed ${seed} ${h.name}:\n${res.stderr}`);
            }
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}
