/**
 * Reading an inventory file and telling its format.
 *
 * Detection: the extension decides when it is `.yaml`/`.yml` (YAML), `.json` (JSON) or
 * `.ini`/`.cfg` (INI). Any other name (Ansible's customary `hosts`) is read by content: the first
 * line that is not blank or a comment starting with `{` is JSON, a `[section]` line is INI, a
 * `key:` mapping line or `---` is YAML, and anything else (a plain list of hosts) is INI, as in
 * Ansible.
 * @module
 */

import type { Loc } from "./yaml_pos.ts";
import { snippet } from "./_inventory_diagnostics.ts";

/** The inventory formats haplay reads. */
export type InventoryFormat = "yaml" | "ini" | "json";

/** Why a file could not be read as text. */
export interface ReadProblem {
  /** Where (1:1, or the first binary byte). */
  loc: Loc;
  /** Plain words. */
  message: string;
}

/** Bytes quoted from a binary file. */
const BINARY_QUOTE = 40;

/**
 * Reads a file as UTF-8 text. A file that is not text (invalid UTF-8, or NUL and other control
 * bytes) is refused with its first bytes escaped, at most 40 characters of them.
 */
export async function readInventoryText(file: string): Promise<string | ReadProblem> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    return { loc: { line: 1, col: 1 }, message: `cannot read: ${(e as Error).message}` };
  }
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  // deno-lint-ignore no-control-regex
  const control = text === undefined ? -1 : text.search(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
  if (text !== undefined && control < 0) return text.replace(/^\uFEFF/, "");
  const head = text !== undefined ? text.slice(0, 200) : latin1(bytes.subarray(0, 200));
  const at = text !== undefined ? locOf(text, control) : { line: 1, col: 1 };
  return {
    loc: at,
    message: `not a text file (binary data): starts with "${snippet(head, BINARY_QUOTE, true)}"`,
  };
}

/** Bytes as one character each, so every non-ASCII byte is escaped as \xNN. */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function locOf(text: string, offset: number): Loc {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, col: offset - before.lastIndexOf("\n") };
}

/** The format of an inventory file, from its extension or else its content. */
export function detectFormat(file: string, text: string): InventoryFormat {
  if (/\.ya?ml$/i.test(file)) return "yaml";
  if (/\.json$/i.test(file)) return "json";
  if (/\.(ini|cfg)$/i.test(file)) return "ini";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("{")) return "json";
    if (/^\[[^\]]*\]\s*([#;].*)?$/.test(line)) return "ini";
    if (line === "---" || /^[^\s=]+:(\s|$)/.test(line)) return "yaml";
    return "ini";
  }
  return "yaml";
}
