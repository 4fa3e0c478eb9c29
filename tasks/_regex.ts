/**
 * Regular expressions that mean the same in JavaScript (used by `plan` for check mode and
 * diffs) and in POSIX awk (used by `apply` on the host): a portable subset of ERE.
 * @module
 */

/**
 * Why `re` is outside the portable subset, or `undefined` if it is inside. Allowed: literal
 * characters, `.`, `[...]` / `[^...]` without backslashes or `[:class:]`, `^`, `$`, `*`, `+`,
 * `?`, `|`, `( )`, and `\` before punctuation. Rejected: `\d \s \w \b` and other letter
 * escapes, `{n,m}` (mawk lacks it), lazy quantifiers, `(?...)` groups, back-references.
 */
export function portableRegexProblem(re: string): string | undefined {
  if (re === "") return "empty regex";
  if (/[\n\r\0]/.test(re)) return "regex must be a single line";
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === "\\") {
      const n = re[i + 1];
      if (n === undefined) return "trailing backslash";
      if (!/[.[\]()*+?{}|^$\\/-]/.test(n)) return `escape \\${n} is not portable`;
      i++;
      continue;
    }
    if (c === "[") {
      let j = i + 1;
      if (re[j] === "^") j++;
      if (re[j] === "]") return "a leading ] inside [...] is not portable";
      for (; j < re.length && re[j] !== "]"; j++) {
        if (re[j] === "\\") return "backslash inside [...] differs between awk and JavaScript";
        if (re[j] === "[" && ":.=".includes(re[j + 1])) return "[:class:] is not portable";
      }
      if (j >= re.length) return "unterminated [...]";
      i = j;
      continue;
    }
    if (c === "{" || c === "}") {
      return "{n,m} repetition is not supported by mawk (use \\{ for a brace)";
    }
    if (c === "(" && re[i + 1] === "?") return "(?...) groups are not portable";
    if ("*+?".includes(c) && re[i + 1] === "?") return "lazy quantifiers are not portable";
    if (c === "(" && re[i + 1] === ")") return "empty group";
  }
  try {
    new RegExp(re);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return undefined;
}

/** UTF-8 bytes of a string as a "binary string" (one char per byte, like mawk sees text). */
export function byteString(s: string): string {
  const b = new TextEncoder().encode(s);
  let out = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    out += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return out;
}

/**
 * A line matcher with awk semantics: byte-oriented (as mawk is: `.` is one byte) and `.`
 * matching any byte including "\r".
 */
export function matcher(re: string): (line: string) => boolean {
  const r = new RegExp(byteString(re), "s");
  return (line) => r.test(byteString(line));
}

/** Escape a literal string so it matches itself in both dialects. */
export function escapeRegex(s: string): string {
  return s.replace(/[.[\]()*+?{}|^$\\/-]/g, (c) => (c === "-" || c === "/" ? c : "\\" + c));
}
