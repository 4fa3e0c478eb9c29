/**
 * Boot persistence shared by `ipRule` and `ipRoute`: one script, `/etc/haplay/policy-routing.sh`,
 * holding one idempotent line per task (each task owns the line ending in its marker), replayed
 *
 * - by `/etc/network/if-up.d/haplay-policy-routing` where ifupdown's hook directory exists
 *   (every interface coming up replays it; lines that need a missing device just fail), and
 * - by `haplay-policy-routing.service` (oneshot, after network-online.target, enabled by its
 *   multi-user.target.wants symlink) where PID 1 is systemd.
 *
 * netplan's routing-policy is not used: it only exists where netplan renders the network.
 * @module
 */
import { b64, q } from "../engine/shell.ts";
import { b64Text, parseKv } from "./_facts.ts";
import { unifiedDiff } from "./_diff.ts";
import { editText, type LineEdit, lineEditApply } from "./_line_edit.ts";
import { escapeRegex } from "./_regex.ts";
import { FactsError } from "./_plan.ts";
import { IS_SYSTEMD } from "./_sh.ts";
import { sha256 } from "./file.ts";

/** The replay script. */
export const PR_SCRIPT = "/etc/haplay/policy-routing.sh";
/** ifupdown hook. */
export const PR_IFUP = "/etc/network/if-up.d/haplay-policy-routing";
/** systemd unit. */
export const PR_UNIT = "/etc/systemd/system/haplay-policy-routing.service";
/** systemd enablement symlink. */
export const PR_WANTS = "/etc/systemd/system/multi-user.target.wants/haplay-policy-routing.service";

/** First lines of the replay script. */
export const PR_HEADER =
  "#!/bin/sh\n# Policy routing managed by haplay: one line per ipRule/ipRoute task, replayed at boot.\n";

/** Content of the ifupdown hook. */
export const IFUP_HOOK = `#!/bin/sh
# haplay: replay policy routing when an interface comes up
if [ -x ${PR_SCRIPT} ]; then ${PR_SCRIPT} >/dev/null 2>&1; fi
exit 0
`;

/** Content of the systemd unit. */
export const UNIT = `[Unit]
Description=haplay policy routing (ip rules and routes)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh ${PR_SCRIPT}

[Install]
WantedBy=multi-user.target
`;

/** Probe: script content and hook states (`pr_*=` lines). */
export const PR_PROBE = [
  `if [ -f ${PR_SCRIPT} ]; then printf 'pr_script_b64='; base64 -w0 < ${PR_SCRIPT}; echo; else echo pr_script_b64=-; fi`,
  `if [ -d /etc/network/if-up.d ]; then`,
  `  if [ -f ${PR_IFUP} ]; then echo "pr_ifup=$(sha256sum < ${PR_IFUP} | cut -d' ' -f1)"; else echo pr_ifup=none; fi`,
  `else echo pr_ifup=na; fi`,
  `if ${IS_SYSTEMD}; then`,
  `  if [ -f ${PR_UNIT} ]; then echo "pr_unit=$(sha256sum < ${PR_UNIT} | cut -d' ' -f1)"; else echo pr_unit=none; fi`,
  `  if [ -L ${PR_WANTS} ]; then echo pr_wants=1; else echo pr_wants=0; fi`,
  `else echo pr_unit=na; echo pr_wants=na; fi`,
].join("\n");

/** The persistence part of a plan: nothing to do, or what to do. */
export interface PersistPlan {
  ok: boolean;
  summary: string;
  diff: string;
  backup: string;
  apply: string;
  restore: string;
}

/** The line edit owning `marker` in the script. */
export function prEdit(marker: string, line: string | undefined): LineEdit {
  return {
    regexp: `# ${escapeRegex(marker)}$`,
    line: line === undefined ? "" : `${line} # ${marker}`,
    state: line === undefined ? "absent" : "present",
    insertAfter: "EOF",
  };
}

/** A boot hook's state: not applicable here (no ifupdown / not systemd), missing, ours, other. */
export type HookState = "na" | "none" | "current" | "other";

/** What {@link PR_PROBE} found: the replay script and the boot hooks. */
export interface PersistFact {
  /** The replay script's text; null when it does not exist. */
  script: string | null;
  /** The ifupdown hook. */
  ifup: HookState;
  /** The systemd unit. */
  unit: HookState;
  /** The unit's enablement symlink exists. */
  wantsLink: boolean;
}

function hookState(v: string | undefined, content: string): HookState {
  if (v === "na") return "na";
  if (v === undefined || v === "none") return "none";
  return v === sha256(new TextEncoder().encode(content)) ? "current" : "other";
}

/** Parse the `pr_*=` lines of {@link PR_PROBE} (throws on output it cannot read). */
export function parsePersist(stdout: string): PersistFact {
  const f = parseKv(stdout);
  const raw = f.pr_script_b64;
  if (raw === undefined) throw new FactsError("missing pr_script_b64=");
  return {
    script: raw === "-" ? null : b64Text(raw),
    ifup: hookState(f.pr_ifup, IFUP_HOOK),
    unit: hookState(f.pr_unit, UNIT),
    wantsLink: f.pr_wants === "1",
  };
}

/** Plan the persisted line from the probe's raw output (`line` undefined: remove it). */
export function planPersist(facts: string, marker: string, line: string | undefined): PersistPlan {
  return planPersistFact(parsePersist(facts), marker, line);
}

/** Plan the persisted line from the {@link PersistFact} (`line` undefined: remove it). */
export function planPersistFact(
  p: PersistFact,
  marker: string,
  line: string | undefined,
): PersistPlan {
  const exists = p.script !== null;
  const current = p.script ?? "";
  const edit = prEdit(marker, line);
  const base = exists || line === undefined ? current : PR_HEADER;
  const r = editText(base, edit);
  const scriptOk = line === undefined ? !r.changed : exists && !r.changed;
  const hooksNeeded = line !== undefined;
  const ifupOk = !hooksNeeded || p.ifup === "na" || p.ifup === "current";
  const unitOk = !hooksNeeded || p.unit === "na" || (p.unit === "current" && p.wantsLink);
  const paths = [PR_SCRIPT, PR_IFUP, PR_UNIT, PR_WANTS];
  const parts: string[] = [];
  if (!scriptOk) parts.push(`${line === undefined ? "unpersist from" : "persist in"} ${PR_SCRIPT}`);
  if (!ifupOk) parts.push(`install ${PR_IFUP}`);
  if (!unitOk) parts.push(`install ${PR_UNIT}`);
  const S = q(PR_SCRIPT);
  const put = (path: string, content: string, mode: string) =>
    `hp_mkparents ${q(path)}; hp_put_file ${q(path)} ${q(b64(content))} root root ${mode}`;
  const apply = [
    line === undefined ? "" : `if [ ! -e ${S} ]; then ${put(PR_SCRIPT, PR_HEADER, "0755")}; fi`,
    lineEditApply(PR_SCRIPT, edit, { create: false, owner: "root", group: "root", mode: "0755" }),
    hooksNeeded
      ? `if [ -d /etc/network/if-up.d ] && ! printf '%s' ${
        q(b64(IFUP_HOOK))
      } | base64 -d | cmp -s - ${q(PR_IFUP)}; then ` +
        `${put(PR_IFUP, IFUP_HOOK, "0755")}; fi`
      : "",
    hooksNeeded
      ? `if ${IS_SYSTEMD}; then if ! printf '%s' ${q(b64(UNIT))} | base64 -d | cmp -s - ${
        q(PR_UNIT)
      }; then ` +
        `${put(PR_UNIT, UNIT, "0644")}; fi; hp_mkparents ${q(PR_WANTS)}; ln -sfn ${q(PR_UNIT)} ${
          q(PR_WANTS)
        }; fi`
      : "",
  ].filter(Boolean).join("\n");
  return {
    ok: scriptOk && ifupOk && unitOk,
    summary: parts.join(", "),
    diff: scriptOk ? "" : unifiedDiff(current, r.content, { path: PR_SCRIPT }),
    backup: paths.map((p, i) => `hp_save_path ${q(p)} pr${i}`).join("\n"),
    apply: line === undefined && !exists
      ? ":"
      : line === undefined
      ? `if [ -e ${S} ]; then\n${apply}\nfi`
      : apply,
    restore: [...paths.map((p, i) => `hp_restore_path ${q(p)} pr${i}`), "hp_rm_created"].join("\n"),
  };
}
