/**
 * Inventory diagnostics: the {@link Issue} type, its one-line format, and the translation of zod
 * issues and unexpected values into plain words ("must be 1..254, got 300").
 * @module
 */

import type { z } from "zod";
import { editDistance } from "./distance.ts";

/** One problem found in an inventory. */
export interface Issue {
  /** File path. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path of the offending node ("" when there is none, e.g. a YAML syntax error). */
  path: string;
  /** Plain-words message: "must be 1..254, got 300". */
  message: string;
  /** Errors stop the load; warnings do not. */
  severity: "error" | "warning";
}

/** Formats an issue: `file:line:col path: message` (warnings say so after the path). */
export function formatIssue(i: Issue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  const msg = i.severity === "warning" ? `warning: ${i.message}` : i.message;
  const path = snippet(i.path, PATH_MAX);
  return path === "" ? `${where}: ${msg}` : `${where} ${path}: ${msg}`;
}

/** Thrown by {@link loadInventory}: every issue found, errors and warnings, in file order. */
export class InventoryError extends Error {
  /** All issues; at least one is an error. */
  issues: Issue[];

  /**
   * Creates the error from its issues.
   * @param issues the issues; the message lists them, one per line
   */
  constructor(issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "InventoryError";
    this.issues = issues;
  }
}

// Messages

/** Describes a value for "got ...": 'text', 300, true, a list, a mapping, nothing. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `'${snippet(v)}'`;
  return String(v);
}

/** Longest dotted path printed (paths are made of the input's keys). */
const PATH_MAX = 200;

/** Longest text, in characters once escaped, that a message quotes from the input. */
export const SNIPPET_MAX = 40;

/**
 * Text from the input made safe to print: control and non-ASCII-printable characters escaped
 * (`\n`, `\x00`, `\u00e9`), cut at {@link SNIPPET_MAX} characters with "..." when longer.
 */
export function snippet(text: string, max = SNIPPET_MAX, ascii = false): string {
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const printable = (c >= 0x20 && c < 0x7f) ||
      (!ascii && c >= 0xa0 && c !== 0xfffd && c <= 0xffff);
    const esc = printable
      ? ch
      : ch === "\n"
      ? "\\n"
      : ch === "\t"
      ? "\\t"
      : ch === "\r"
      ? "\\r"
      : c < 0x100
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : `\\u{${c.toString(16)}}`;
    if (out.length + esc.length > max) return `${out}...`;
    out += esc;
  }
  return out;
}

export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

const TYPE_NAMES: Record<string, string> = {
  record: "a mapping",
  object: "a mapping",
  map: "a mapping",
  array: "a list",
  tuple: "a list",
  set: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  bigint: "an integer",
  boolean: "true or false",
  null: "empty",
};

type ZIssue = z.core.$ZodIssue;

/** Plain-words message for a zod issue, given the offending value and (if known) its schema. */
export function describeIssue(issue: ZIssue, value: unknown, schema?: z.ZodType): string {
  if (issue.code === "custom") return issue.message;
  if (value === undefined) return "required";
  const want = expectation(issue, value, schema);
  if (want === null) return issue.message;
  const sized = (issue.code === "too_big" || issue.code === "too_small") && Array.isArray(value);
  return `${want}, got ${sized ? plural(value.length, "item") : describe(value)}`;
}

/** "must be ..." for an issue, or null to fall back to zod's own message. */
function expectation(issue: ZIssue, value: unknown, schema?: z.ZodType): string | null {
  switch (issue.code) {
    case "invalid_type": {
      const exp = String(issue.expected);
      return `must be ${TYPE_NAMES[exp] ?? `a ${exp}`}`;
    }
    case "too_big":
    case "too_small":
      return sizeExpectation(issue, schema);
    case "invalid_value": {
      const vals = issue.values.map((v) => String(v));
      return vals.length === 1 ? `must be ${vals[0]}` : `must be one of ${vals.join(", ")}`;
    }
    case "invalid_format":
      return formatExpectation(issue.format, value, "pattern" in issue ? issue.pattern : undefined);
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "invalid_union": {
      const firsts = issue.errors.map((branch) => branch[0]).filter((b) => b !== undefined);
      if (
        firsts.length > 0 &&
        firsts.every((b) => b.code === "invalid_format" && /^ipv[46]$/.test(b.format))
      ) {
        return "must be an IP address";
      }
      const wants = [
        ...new Set(firsts.map((b) => expectation(b, value)).filter((w) => w !== null)),
      ];
      return wants.length > 0 ? wants.join(" or ") : null;
    }
    default:
      return null;
  }
}

function sizeExpectation(issue: ZIssue, schema?: z.ZodType): string | null {
  if (issue.code !== "too_big" && issue.code !== "too_small") return null;
  const big = issue.code === "too_big";
  const limit = Number(big ? issue.maximum : issue.minimum);
  const incl = issue.inclusive !== false;
  switch (issue.origin) {
    case "number":
    case "bigint": {
      const b = numberBounds(schema);
      if (b.min !== undefined && b.max !== undefined && b.minIncl && b.maxIncl) {
        return `must be ${b.min}..${b.max}`;
      }
      if (big) return incl ? `must be at most ${limit}` : `must be less than ${limit}`;
      return incl ? `must be at least ${limit}` : `must be greater than ${limit}`;
    }
    case "string":
      if (!big && limit === 1) return "must not be empty";
      return `must be at ${big ? "most" : "least"} ${limit} characters long`;
    case "array":
    case "set":
      if (!big && limit === 1) return "must not be empty";
      return `must have at ${big ? "most" : "least"} ${plural(limit, "item")}`;
    default:
      return null;
  }
}

function formatExpectation(format: string, value: unknown, pattern?: string): string {
  switch (format) {
    case "ipv4":
      return typeof value === "string" && value.includes(":")
        ? "must be an IPv4 address"
        : "must be an IP address";
    case "ipv6":
      return "must be an IPv6 address";
    case "cidrv4":
      return "must be an IPv4 network like 198.18.0.0/24";
    case "cidrv6":
      return "must be an IPv6 network like fd00::/64";
    case "regex":
      return `must match ${pattern}`;
    case "email":
      return "must be an email address";
    case "url":
      return "must be a URL";
    default:
      return `must be a valid ${format}`;
  }
}

interface Bounds {
  min?: number;
  max?: number;
  minIncl: boolean;
  maxIncl: boolean;
}

function numberBounds(schema?: z.ZodType): Bounds {
  const b: Bounds = { minIncl: true, maxIncl: true };
  const checks = (schema as unknown as { _zod?: { def?: { checks?: unknown[] } } })?._zod?.def
    ?.checks ?? [];
  for (const c of checks) {
    const d = (c as { _zod: { def: { check: string; value: unknown; inclusive?: boolean } } })._zod
      .def;
    if (d.check === "greater_than") {
      b.min = Number(d.value);
      b.minIncl = d.inclusive !== false;
    } else if (d.check === "less_than") {
      b.max = Number(d.value);
      b.maxIncl = d.inclusive !== false;
    }
  }
  return b;
}

/** The schema at `path` inside an object/array/record schema (wrappers unwrapped). */
export function subSchema(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = unwrap(schema);
  for (const seg of path) {
    if (!cur) return undefined;
    // deno-lint-ignore no-explicit-any
    const def: any = (cur as any)._zod.def;
    if (def.type === "object") cur = def.shape[seg];
    else if (def.type === "array") cur = def.element;
    else if (def.type === "record") cur = def.valueType;
    else if (def.type === "tuple") cur = def.items[seg as number];
    else return undefined;
    cur = cur && unwrap(cur);
  }
  return cur;
}

const WRAPPERS = new Set([
  "optional",
  "nullable",
  "default",
  "prefault",
  "readonly",
  "catch",
  "nonoptional",
  "lazy",
]);

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 16; i++) {
    // deno-lint-ignore no-explicit-any
    const def: any = (cur as any)._zod.def;
    if (def.type === "pipe") cur = def.in;
    else if (def.type === "lazy") cur = def.getter();
    else if (WRAPPERS.has(def.type)) cur = def.innerType;
    else break;
  }
  return cur;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function unknownGroupKey(key: string): string {
  const near = ["hosts", "children", "vars"].find((k) => isNear(key.toLowerCase(), k));
  if (near) return `unknown key '${snippet(key)}' (did you mean '${snippet(near)}'?)`;
  return `unknown key '${
    snippet(key)
  }': a group has only hosts, children and vars (put variables under vars:)`;
}

function isNear(a: string, b: string): boolean {
  if (a.length >= 3 && (b.startsWith(a) || a.startsWith(b))) return true;
  return editDistance(a, b) <= 2;
}

/** File order: by file, line, column. */
export function compareIssues(a: Issue, b: Issue): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col;
}
