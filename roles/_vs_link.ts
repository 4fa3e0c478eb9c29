/**
 * The same-box-dr active include link (`vs-INSTANCE.active.conf`): its target is runtime state
 * the notify scripts keep (MASTER file while this host holds the VIP, the empty file otherwise),
 * and the deploy holds them to it: the probe reads the link and whether the VIP is held here,
 * and a link that does not match (missing, not a symlink, pointing elsewhere, or at the wrong one
 * of the two files, e.g. after someone ran `haplay-vs-switch ... stop` on the MASTER) is
 * repaired. The apply decides again under the helpers' lock (the VIP may have moved since the
 * probe), so it never undoes a transition that happened in between. Rollback puts back whatever
 * was there.
 * @module
 */
import type { Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { guarded, ok } from "../tasks/_plan.ts";
import { NOTIFY_LOCK_SH, VIP_HELD_FN } from "../lb/notify_scripts.ts";
import { VS_EMPTY, vsActive, vsMaster } from "../lb/paths.ts";

/** The link task of an instance whose MASTER holds `vip`. */
export function vsLinkTask(instance: string, vip: string, notify: string[]): Task {
  const link = vsActive(instance);
  const L = q(link);
  const master = vsMaster(instance);
  return {
    name: `same-box DR include link of ${instance}`,
    module: "link",
    resource: `file:${link}`,
    probe: [
      `if [ -L ${L} ]; then echo "link=$(readlink -- ${L})"`,
      `elif [ -e ${L} ]; then echo link=not-a-link; else echo link=; fi`,
      VIP_HELD_FN,
      `if hp_vip_held ${q(vip)}; then echo vip_held=1; else echo vip_held=0; fi`,
      `echo end=1`,
    ].join("\n"),
    plan: guarded(`link ${link}`, (facts) => {
      const m = /^link=(.*)$/m.exec(facts);
      const held = /^vip_held=([01])$/m.exec(facts)?.[1];
      if (!m || !held || !/^end=1$/m.test(facts)) throw new Error("missing link=/vip_held=/end=");
      const target = m[1];
      const want = held === "1" ? master : VS_EMPTY;
      const state = held === "1" ? `${vip} held here (MASTER)` : `${vip} not held here`;
      if (target === want) return ok(`${link} -> ${target} (${state})`);
      const was = target === "" ? "missing" : target === "not-a-link" ? "not a link" : target;
      return {
        kind: "change",
        summary: `${target === "" ? "create" : "repair"} ${link} -> ${want} (${state}; was ${was})`,
        backup: `hp_save_path ${L}`,
        // under the helpers' lock, from the VIP as it is now
        apply: [
          `(`,
          NOTIFY_LOCK_SH,
          VIP_HELD_FN,
          `if hp_vip_held ${q(vip)}; then _t=${q(master)}; else _t=${q(VS_EMPTY)}; fi`,
          `[ -f "$_t" ] || { echo "haplay: $_t missing" >&2; exit 1; }`,
          `rm -rf -- ${q(`${link}.new`)}`,
          `[ -L ${L} ] || rm -rf -- ${L}`,
          `ln -s "$_t" ${q(`${link}.new`)} && mv -Tf -- ${q(`${link}.new`)} ${L}`,
          `)`,
        ].join("\n"),
        restore: `hp_restore_path ${L}`,
      };
    }),
    notify,
  };
}
