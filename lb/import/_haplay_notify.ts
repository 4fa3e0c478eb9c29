/**
 * Reading back the notify scripts haplay itself installed (`/etc/keepalived/haplay/notify-*`),
 * so that importing a setup haplay deployed gives the inventory it was deployed from (a
 * fixpoint): each `step 'what' COMMAND` line is one step of `lb/notify_plan.ts`.
 * @module
 */
import { BYPASS_IPVS, HAPLAY_KEEPALIVED_DIR, VS_SWITCH } from "../paths.ts";

/** One step read back. */
export interface ReadStep {
  what: string;
  /** The command as the hook wrote it (argv joined for sudo steps). */
  command: string;
  sudo: boolean;
  timeout?: number;
  /** The step had an environment (kept in the env file; not read back: it may hold secrets). */
  env: boolean;
  /** The root helper it calls, when it is one of haplay's. */
  helper?: "bypass_ipvs" | "vs_switch";
}

/** Whether a notify line names one of haplay's notify scripts. */
export function isHaplayNotify(path: string): boolean {
  return path.startsWith(`${HAPLAY_KEEPALIVED_DIR}/notify-`) && path.endsWith(".sh");
}

/** Splits sh words: plain, '...' (with '\'' escapes) and "..." (no expansions). */
export function shWords(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) j++;
        cur += line[j];
      }
      i = j;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** The steps of a haplay notify script's text. */
export function readSteps(text: string): ReadStep[] {
  const steps: ReadStep[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("step ")) continue;
    const w = shWords(line).slice(1);
    const what = w.shift() ?? "";
    let env = false;
    let timeout: number | undefined;
    if (w[0] === "hp_with_env") {
      env = true;
      w.splice(0, 2);
    }
    if (w[0] === "timeout" && w[1] === "-k") {
      timeout = Number(w[3]);
      w.splice(0, 4);
    }
    let s: ReadStep;
    if (w[0] === "sudo" && w[1] === "-n") {
      const argv = w.slice(2);
      s = { what, command: argv.join(" "), sudo: true, timeout, env };
      if (argv[0] === BYPASS_IPVS) s.helper = "bypass_ipvs";
      if (argv[0] === VS_SWITCH) s.helper = "vs_switch";
    } else if (w[0] === "sh" && w[1] === "-c") {
      s = { what, command: w[2] ?? "", sudo: false, timeout, env };
    } else continue;
    steps.push(s);
  }
  return steps;
}
