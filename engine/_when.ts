/**
 * `when:` conditions of YAML playbooks: a small expression language over host variables,
 * parsed once at load time and evaluated per host without `eval`.
 *
 * ```
 * expr    := or
 * or      := and ("or" and)*
 * and     := not ("and" not)*
 * not     := "not" not | test
 * test    := value [ ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") value
 *                  | "is" ["not"] ("defined" | "undefined" | "none" | "true" | "false") ]
 * value   := "(" expr ")" | 'text' | "text" | number | true | false | none | null
 *          | "[" [value ("," value)*] "]" | name ("." name | "[" (number | 'text') "]")*
 * ```
 * Names are host variables, plus `inventory_hostname` and `group_names`. A bare value is true
 * when it is truthy (Python's rules: empty text, 0, empty list or mapping are false). Using an
 * undefined variable other than in `is defined` is an error, as in Ansible; `and`/`or` stop
 * early, so `x is defined and x == 'a'` is safe.
 * @module
 */

/** A parsed condition. */
export type WhenExpr =
  | { op: "lit"; value: unknown }
  | { op: "var"; name: string; path: Array<string | number> }
  | { op: "list"; items: WhenExpr[] }
  | { op: "not"; a: WhenExpr }
  | { op: "and" | "or"; a: WhenExpr; b: WhenExpr }
  | { op: "cmp"; cmp: string; a: WhenExpr; b: WhenExpr }
  | { op: "is"; test: string; negate: boolean; a: WhenExpr };

/** A syntax error: where in the expression (0-based character offset) and what. */
export class WhenSyntaxError extends Error {
  /** 0-based offset into the expression text. */
  offset: number;
  /**
   * @param message plain words
   * @param offset 0-based offset into the expression
   */
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** Raised while evaluating: an undefined variable, or a comparison of mismatched types. */
export class WhenEvalError extends Error {}

interface Tok {
  t: "num" | "str" | "name" | "op" | "end";
  v: string;
  at: number;
}

const TESTS = ["defined", "undefined", "none", "true", "false"];
const KEYWORDS = new Set(["and", "or", "not", "in", "is", "true", "false", "none", "null"]);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (["==", "!=", "<=", ">="].includes(two)) {
      out.push({ t: "op", v: two, at: i });
      i += 2;
      continue;
    }
    if ("<>()[],.".includes(ch)) {
      out.push({ t: "op", v: ch, at: i });
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      let s = "";
      while (j < src.length && src[j] !== ch) {
        if (src[j] === "\\" && j + 1 < src.length) j++;
        s += src[j++];
      }
      if (j >= src.length) throw new WhenSyntaxError(`unclosed ${ch}`, i);
      out.push({ t: "str", v: s, at: i });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num && (ch !== "-" || /\d/.test(src[i + 1] ?? ""))) {
      out.push({ t: "num", v: num[0], at: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      out.push({ t: "name", v: name[0], at: i });
      i += name[0].length;
      continue;
    }
    if (ch === "=") throw new WhenSyntaxError("'=' is not a comparison: write '=='", i);
    throw new WhenSyntaxError(`unexpected '${ch}'`, i);
  }
  out.push({ t: "end", v: "", at: src.length });
  return out;
}

/** Parses a condition; throws {@link WhenSyntaxError}. */
export function parseWhen(src: string): WhenExpr {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const isKw = (v: string, k = peek()) => k.t === "name" && k.v === v;
  const isOp = (v: string, k = peek()) => k.t === "op" && k.v === v;
  const expect = (v: string) => {
    if (!isOp(v)) throw new WhenSyntaxError(`expected '${v}'`, peek().at);
    p++;
  };
  const or = (): WhenExpr => {
    let a = and();
    while (isKw("or")) {
      p++;
      a = { op: "or", a, b: and() };
    }
    return a;
  };
  const and = (): WhenExpr => {
    let a = not();
    while (isKw("and")) {
      p++;
      a = { op: "and", a, b: not() };
    }
    return a;
  };
  const not = (): WhenExpr => {
    if (isKw("not")) {
      p++;
      return { op: "not", a: not() };
    }
    return test();
  };
  const test = (): WhenExpr => {
    const a = value();
    const k = peek();
    if (k.t === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(k.v)) {
      p++;
      return { op: "cmp", cmp: k.v, a, b: value() };
    }
    if (isKw("in")) {
      p++;
      return { op: "cmp", cmp: "in", a, b: value() };
    }
    if (isKw("not") && isKw("in", toks[p + 1])) {
      p += 2;
      return { op: "cmp", cmp: "not in", a, b: value() };
    }
    if (isKw("is")) {
      p++;
      let negate = false;
      if (isKw("not")) {
        p++;
        negate = true;
      }
      const t = peek();
      if (t.t !== "name" || !TESTS.includes(t.v)) {
        throw new WhenSyntaxError(`after 'is': expected one of ${TESTS.join(", ")}`, t.at);
      }
      p++;
      return { op: "is", test: t.v, negate, a };
    }
    return a;
  };
  const value = (): WhenExpr => {
    const k = peek();
    if (isOp("(")) {
      p++;
      const e = or();
      expect(")");
      return e;
    }
    if (isOp("[")) {
      p++;
      const items: WhenExpr[] = [];
      while (!isOp("]")) {
        items.push(value());
        if (!isOp(",")) break;
        p++;
      }
      expect("]");
      return { op: "list", items };
    }
    if (k.t === "str") {
      p++;
      return { op: "lit", value: k.v };
    }
    if (k.t === "num") {
      p++;
      return { op: "lit", value: Number(k.v) };
    }
    if (k.t === "name") {
      const lower = k.v.toLowerCase();
      if (
        ["true", "false"].includes(lower) && (k.v === lower || k.v === "True" || k.v === "False")
      ) {
        p++;
        return { op: "lit", value: lower === "true" };
      }
      if (k.v === "none" || k.v === "None" || k.v === "null") {
        p++;
        return { op: "lit", value: null };
      }
      if (KEYWORDS.has(k.v)) throw new WhenSyntaxError(`unexpected '${k.v}'`, k.at);
      p++;
      const path: Array<string | number> = [];
      for (;;) {
        if (isOp(".")) {
          p++;
          const n = peek();
          if (n.t !== "name") throw new WhenSyntaxError("expected a name after '.'", n.at);
          path.push(n.v);
          p++;
        } else if (isOp("[")) {
          p++;
          const n = peek();
          if (n.t === "str") path.push(n.v);
          else if (n.t === "num" && /^\d+$/.test(n.v)) path.push(Number(n.v));
          else throw new WhenSyntaxError("expected a 'key' or an index inside [ ]", n.at);
          p++;
          expect("]");
        } else break;
      }
      return { op: "var", name: k.v, path };
    }
    throw new WhenSyntaxError(k.t === "end" ? "unexpected end" : `unexpected '${k.v}'`, k.at);
  };
  const e = or();
  if (peek().t !== "end") throw new WhenSyntaxError(`unexpected '${peek().v}'`, peek().at);
  return e;
}

const UNDEF = Symbol("undefined");

function lookup(e: Extract<WhenExpr, { op: "var" }>, vars: Record<string, unknown>): unknown {
  let cur: unknown = Object.hasOwn(vars, e.name) ? vars[e.name] : UNDEF;
  for (const seg of e.path) {
    if (cur === UNDEF || cur === null || typeof cur !== "object") return UNDEF;
    const o = cur as Record<string | number, unknown>;
    cur = Object.hasOwn(o, seg) ? o[seg] : UNDEF;
  }
  return cur;
}

function varName(e: Extract<WhenExpr, { op: "var" }>): string {
  return e.name + e.path.map((s) => typeof s === "number" ? `[${s}]` : `.${s}`).join("");
}

/** Python's truthiness. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === "object") return Object.keys(v).length > 0;
  return Boolean(v);
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  return a === b;
}

/** Evaluates a parsed condition against a host's variables; throws {@link WhenEvalError}. */
export function evalWhen(e: WhenExpr, vars: Record<string, unknown>): boolean {
  return truthy(value(e, vars));
}

function value(e: WhenExpr, vars: Record<string, unknown>): unknown {
  switch (e.op) {
    case "lit":
      return e.value;
    case "list":
      return e.items.map((i) => value(i, vars));
    case "var": {
      const v = lookup(e, vars);
      if (v === UNDEF) {
        throw new WhenEvalError(
          `'${varName(e)}' is undefined (test it first: ${varName(e)} is defined and ...)`,
        );
      }
      return v;
    }
    case "not":
      return !evalWhen(e.a, vars);
    case "and":
      return evalWhen(e.a, vars) && evalWhen(e.b, vars);
    case "or":
      return evalWhen(e.a, vars) || evalWhen(e.b, vars);
    case "is": {
      const v = e.a.op === "var" ? lookup(e.a, vars) : value(e.a, vars);
      let r: boolean;
      if (e.test === "defined") r = v !== UNDEF;
      else if (e.test === "undefined") r = v === UNDEF;
      else {
        if (v === UNDEF) return value(e.a, vars); // throws the undefined error
        r = e.test === "none" ? v === null : v === (e.test === "true");
      }
      return e.negate ? !r : r;
    }
    case "cmp": {
      const a = value(e.a, vars);
      const b = value(e.b, vars);
      switch (e.cmp) {
        case "==":
          return same(a, b);
        case "!=":
          return !same(a, b);
        case "in":
        case "not in": {
          let r: boolean;
          if (Array.isArray(b)) r = b.some((x) => same(x, a));
          else if (typeof b === "string" && typeof a === "string") r = b.includes(a);
          else if (b !== null && typeof b === "object" && typeof a === "string") {
            r = Object.hasOwn(b, a);
          } else {throw new WhenEvalError(
              `'${e.cmp}' needs a list, a mapping or a text on its right`,
            );}
          return e.cmp === "in" ? r : !r;
        }
        default: {
          const both = (typeof a === "number" && typeof b === "number") ||
            (typeof a === "string" && typeof b === "string");
          if (!both) {
            throw new WhenEvalError(`'${e.cmp}' compares two numbers or two texts`);
          }
          const x = a as number | string;
          const y = b as number | string;
          return e.cmp === "<" ? x < y : e.cmp === "<=" ? x <= y : e.cmp === ">" ? x > y : x >= y;
        }
      }
    }
  }
}
