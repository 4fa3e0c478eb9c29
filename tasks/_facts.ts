/**
 * Helpers for reading probe output: key=value lines, base64 text, repeated records.
 * @module
 */
import { parseKv, unb64 } from "../engine/shell.ts";
import { FactsError } from "./_plan.ts";

export { parseKv };

/** Decode base64 to UTF-8 text (invalid bytes become U+FFFD); throws FactsError on bad input. */
export function b64Text(s: string): string {
  if (!/^[A-Za-z0-9+/=\s]*$/.test(s)) throw new FactsError("bad base64");
  try {
    return new TextDecoder().decode(unb64(s));
  } catch {
    throw new FactsError("bad base64");
  }
}

/** True when bytes look like text worth diffing (valid UTF-8, no NUL). */
export function isText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** All values of a repeated `key=` line, in order. */
export function allValues(text: string, key: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(key + "=")) out.push(line.slice(key.length + 1));
  }
  return out;
}

/** Parse an octal mode string as printed by `stat -c %a`; throws FactsError if malformed. */
export function octal(s: string | undefined): number {
  if (s === undefined || !/^[0-7]{1,4}$/.test(s)) throw new FactsError(`bad mode ${s}`);
  return parseInt(s, 8);
}
