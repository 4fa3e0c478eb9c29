/**
 * The same-box-dr active include link (`vs-INSTANCE.active.conf`): its target is runtime state
 * owned by the notify scripts (MASTER file or empty file), so the task only makes sure it
 * exists: when missing (or not a symlink) it is created pointing at the empty include, the safe
 * state (no IPVS until this host is elected). Rollback puts back whatever was there.
 * @module
 */
import type { Task } from "../engine/types.ts";
import { q } from "../engine/shell.ts";
import { guarded, ok } from "../tasks/_plan.ts";
import { VS_EMPTY, vsActive, vsMaster } from "./paths.ts";

/** The link task of an instance. */
export function vsLinkTask(instance: string, notify: string[]): Task {
  const link = vsActive(instance);
  const L = q(link);
  return {
    name: `same-box DR include link of ${instance}`,
    module: "link",
    resource: `file:${link}`,
    probe: [
      `if [ -L ${L} ]; then echo "link=$(readlink -- ${L})"`,
      `elif [ -e ${L} ]; then echo link=not-a-link; else echo link=; fi`,
      `echo end=1`,
    ].join("\n"),
    plan: guarded(`link ${link}`, (facts) => {
      const m = /^link=(.*)$/m.exec(facts);
      if (!m || !/^end=1$/m.test(facts)) throw new Error("missing link=/end=");
      const target = m[1];
      if (target === VS_EMPTY || target === vsMaster(instance)) {
        return ok(`${link} -> ${target} (the notify scripts own its target)`);
      }
      return {
        kind: "change",
        summary: `${target === "" ? "create" : "replace"} ${link} -> ${VS_EMPTY}` +
          (target && target !== "not-a-link" ? ` (was -> ${target})` : ""),
        backup: `hp_save_path ${L}`,
        apply: `rm -rf -- ${L}\nln -s ${q(VS_EMPTY)} ${L}`,
        restore: `hp_restore_path ${L}`,
      };
    }),
    notify,
  };
}
