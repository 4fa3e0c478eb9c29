/**
 * Python literals as Ansible's INI inventory reads values: `ast.literal_eval`, and the text
 * itself when that fails. So `2222` is a number, `True` a boolean, `None` null, `'x'` the
 * string x, `[1, 2]` and `(1, 2)` lists, `{'a': 1}` a mapping, while `true`, `yes`, `0644`,
 * `10.0.0.1` and `hello world` stay strings.
 * @module
 */

/** Sentinel: the text is not a Python literal. */
const FAIL = Symbol("not a literal");

/** The value of `text` read as a Python literal, or `text` itself when it is not one. */
export function pyLiteral(text: string): unknown {
  const p = new LiteralParser(text);
  const v = p.value();
  if (v === FAIL || !p.atEnd()) return text;
  return v;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  "\n": "",
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

class LiteralParser {
  private i = 0;

  constructor(private readonly s: string) {}

  atEnd(): boolean {
    this.skip();
    return this.i >= this.s.length;
  }

  /** Skips blanks and `#` comments (newlines too: Python allows them inside brackets). */
  private skip(): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") this.i++;
      else if (c === "#") {
        while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      } else break;
    }
  }

  value(): unknown {
    this.skip();
    const c = this.s[this.i];
    if (c === undefined) return FAIL;
    if (c === "[") return this.sequence("]");
    if (c === "(") return this.sequence(")");
    if (c === "{") return this.braces();
    if (c === "-" || c === "+") {
      this.i++;
      this.skip();
      if (!/[0-9.]/.test(this.s[this.i] ?? "")) return FAIL;
      const n = this.number();
      if (n === FAIL) return FAIL;
      return c === "-" ? -n : n;
    }
    if (/[0-9.]/.test(c)) return this.number();
    const str = this.strings();
    if (str !== undefined) return str;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) return FAIL;
    this.i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return FAIL;
  }

  /** One or more adjacent string literals (Python concatenates them); undefined if none. */
  private strings(): string | typeof FAIL | undefined {
    let out: string | undefined;
    for (;;) {
      this.skip();
      const m = /^([rRuUbB]|[rR][bB]|[bB][rR])?('''|"""|'|")/.exec(this.s.slice(this.i));
      if (!m) return out;
      const raw = /[rR]/.test(m[1] ?? "");
      this.i += m[0].length;
      const part = this.stringBody(m[2], raw);
      if (part === FAIL) return FAIL;
      out = (out ?? "") + part;
    }
  }

  private stringBody(quote: string, raw: boolean): string | typeof FAIL {
    let out = "";
    const triple = quote.length === 3;
    while (this.i < this.s.length) {
      if (this.s.startsWith(quote, this.i)) {
        this.i += quote.length;
        return out;
      }
      const c = this.s[this.i];
      if (c === "\n" && !triple) return FAIL;
      if (c === "\\" && this.i + 1 < this.s.length) {
        const e = this.s[this.i + 1];
        if (raw) {
          out += c + e;
          this.i += 2;
          continue;
        }
        this.i += 2;
        if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
        else if (e === "x" || e === "u" || e === "U") {
          const len = e === "x" ? 2 : e === "u" ? 4 : 8;
          const hex = this.s.slice(this.i, this.i + len);
          if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return FAIL;
          out += String.fromCodePoint(parseInt(hex, 16));
          this.i += len;
        } else if (/[0-7]/.test(e)) {
          const m = /^[0-7]{0,2}/.exec(this.s.slice(this.i))!;
          out += String.fromCharCode(parseInt(e + m[0], 8));
          this.i += m[0].length;
        } else out += c + e;
        continue;
      }
      out += c;
      this.i++;
    }
    return FAIL;
  }

  private number(): number | typeof FAIL {
    const rest = this.s.slice(this.i);
    const m =
      /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:[0-9](?:_?[0-9])*)?\.?(?:[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)/
        .exec(rest);
    const text = m?.[0] ?? "";
    if (text === "" || text === "." || /^[eE]/.test(text)) return FAIL;
    // An identifier character right after (123abc, 1j) is not a plain literal.
    if (/^[A-Za-z0-9_]/.test(rest.slice(text.length))) return FAIL;
    this.i += text.length;
    const t = text.replaceAll("_", "");
    if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^0[oO]/.test(t)) return parseInt(t.slice(2), 8);
    if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
    if (/^[0-9]+$/.test(t)) return /^0+[1-9]/.test(t) ? FAIL : Number(t);
    const n = Number(t.startsWith(".") ? `0${t}` : t.endsWith(".") ? `${t}0` : t);
    return Number.isNaN(n) ? FAIL : n;
  }

  /** `[...]` or `(...)`: a list (tuples become lists, as in Ansible). */
  private sequence(close: string): unknown[] | typeof FAIL {
    this.i++;
    const out: unknown[] = [];
    let sawComma = false;
    for (;;) {
      this.skip();
      if (this.s[this.i] === close) {
        this.i++;
        // (x) is x in Python, not a tuple.
        if (close === ")" && out.length === 1 && !sawComma) return out[0] as unknown[];
        return out;
      }
      const v = this.value();
      if (v === FAIL) return FAIL;
      out.push(v);
      this.skip();
      if (this.s[this.i] === ",") {
        this.i++;
        sawComma = true;
      } else if (this.s[this.i] !== close) return FAIL;
    }
  }

  /** `{...}`: a dict, or a set (which Ansible turns into a list). */
  private braces(): Record<string, unknown> | unknown[] | typeof FAIL {
    this.i++;
    const dict: Record<string, unknown> = {};
    const set: unknown[] = [];
    let kind: "dict" | "set" | undefined;
    for (;;) {
      this.skip();
      if (this.s[this.i] === "}") {
        this.i++;
        return kind === "set" ? set : dict;
      }
      const k = this.value();
      if (k === FAIL) return FAIL;
      this.skip();
      if (this.s[this.i] === ":") {
        if (kind === "set") return FAIL;
        kind = "dict";
        this.i++;
        const v = this.value();
        if (v === FAIL) return FAIL;
        dict[String(k)] = v;
      } else {
        if (kind === "dict") return FAIL;
        kind = "set";
        if (!set.includes(k)) set.push(k);
      }
      this.skip();
      if (this.s[this.i] === ",") this.i++;
      else if (this.s[this.i] !== "}") return FAIL;
    }
  }
}
