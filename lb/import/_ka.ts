/**
 * Helpers over the parsed keepalived tree (k1's `KaNode` from lb/keepalived_parse.ts): finding
 * keywords, reading numbers, and turning a node back into raw keepalived lines for `extra:`.
 * @module
 */
import type { KaNode } from "../keepalived_parse.ts";

export type { KaNode };

/** The first child with this key. */
export function child(n: KaNode | undefined, key: string): KaNode | undefined {
  return n?.children?.find((c) => c.key === key);
}

/** Every child with this key. */
export function children(n: KaNode | undefined, key: string): KaNode[] {
  return n?.children?.filter((c) => c.key === key) ?? [];
}

/** The first argument of the first child with this key. */
export function arg(n: KaNode | undefined, key: string): string | undefined {
  return child(n, key)?.args[0];
}

/** A number argument, or undefined when absent or not a number. */
export function num(n: KaNode | undefined, key: string): number | undefined {
  const a = arg(n, key);
  if (a === undefined || !/^-?\d+(\.\d+)?$/.test(a)) return undefined;
  return Number(a);
}

/** One argument as keepalived reads it back: quoted when it holds a space or a comment sign. */
function quoted(a: string): string {
  return /[\s#!{}]/.test(a) || a === "" ? `"${a}"` : a;
}

/** A node as raw keepalived lines (blocks expanded, children indented by 4). */
export function rawLines(n: KaNode): string[] {
  const head = [n.key, ...n.args.map(quoted)].join(" ");
  if (!n.children) return [head];
  return [`${head} {`, ...n.children.flatMap(rawLines).map((l) => `    ${l}`), "}"];
}

/** A comparable signature of a node (key, args, children, ignoring where it was written). */
export function signature(n: KaNode): string {
  return rawLines(n).join("\n");
}

/** `file:line` of a node. */
export function where(n: KaNode): string {
  return `${n.file}:${n.line}`;
}
