import assert from "node:assert/strict";
import { b64, q } from "../../engine/shell.ts";
import { awkEditCmd, editText, type LineEdit } from "../../tasks/_line_edit.ts";
import { escapeRegex, portableRegexProblem } from "../../tasks/_regex.ts";
import { lineInFile } from "../../tasks/line_in_file.ts";
import {
  allSyntaxOk,
  applyLocal,
  change,
  isOk,
  NASTY,
  planLocal,
  restoreLocal,
  sh,
} from "./_local.ts";

Deno.test("regex: portable subset accepted, dialect-specific constructs rejected", () => {
  for (
    const ok of ["^DAEMON_ARGS=", "^#?Port [0-9]+$", "a|b", "(x|y)*z", "\\.conf$", "[^#]", "a\\{b"]
  ) {
    assert.equal(portableRegexProblem(ok), undefined, ok);
  }
  for (
    const bad of [
      "\\d+",
      "\\s",
      "a{2}",
      "[[:space:]]",
      "(?=x)",
      "a*?",
      "[\\t]",
      "[]a]",
      "",
      "x\\",
      "(",
      "[abc",
    ]
  ) {
    assert.notEqual(portableRegexProblem(bad), undefined, bad);
  }
  assert.equal(
    escapeRegex("net.ipv4.conf.eth0/100.rp_filter"),
    "net\\.ipv4\\.conf\\.eth0/100\\.rp_filter",
  );
});

const CASES: Array<[string, LineEdit]> = [
  ["a\nb\n", { line: "c", state: "present", insertAfter: "EOF" }],
  ["a\nb\n", { line: "a", state: "present", insertAfter: "EOF" }],
  ["x=1\ny=2\nx=3\n", { regexp: "^x=", line: "x=9", state: "present", insertAfter: "EOF" }],
  ["x=1\ny=2\nx=3", { regexp: "^x=", line: "x=3", state: "present", insertAfter: "EOF" }],
  ["[a]\nk=1\n[b]\nk=2\n", {
    regexp: "^z=",
    line: "z=1",
    state: "present",
    insertAfter: "^\\[a\\]$",
  }],
  ["[a]\n[a]\n", { line: "z=1", state: "present", insertAfter: "^\\[a\\]$" }],
  ["", { line: "first", state: "present", insertAfter: "EOF" }],
  ["a\n\n\nb\n", { regexp: "^$", line: "gap", state: "present", insertAfter: "EOF" }],
  ["x=1\ny\nx=2\n", { regexp: "^x=", line: "", state: "absent", insertAfter: "EOF" }],
  ["a\nb\na\n", { line: "a", state: "absent", insertAfter: "EOF" }],
  ["crlf\r\nx=1\r\n", { regexp: "^x=.*$", line: "x=2", state: "present", insertAfter: "EOF" }],
  ["a b\n$x\n", {
    regexp: "^\\$x",
    line: "$(id) 'q' \"d\" \\n",
    state: "present",
    insertAfter: "nomatch",
  }],
  ["net.ipv4.ip_forward=0\n # net.ipv4.ip_forward = 1\n", {
    regexp: "^[ \t]*-?net\\.ipv4\\.ip_forward[ \t]*=",
    line: "net.ipv4.ip_forward = 1",
    state: "present",
    insertAfter: "EOF",
  }],
  ["héllo wörld\n", { regexp: "^h.llo", line: "ok", state: "present", insertAfter: "EOF" }],
];

Deno.test("line edit: TypeScript and awk (mawk, as on the hosts) agree", async () => {
  for (const [content, e] of CASES) {
    const ts = editText(content, e);
    const r = await sh(`printf '%s' ${q(b64(content))} | base64 -d | ${awkEditCmd(e)}`);
    assert.equal(r.code, 0, r.stderr);
    const awkOut = r.stdout;
    const linesEqual = awkOut === ts.content;
    assert.ok(
      linesEqual,
      `case ${JSON.stringify([content, e])}: ts=${JSON.stringify(ts.content)} awk=${
        JSON.stringify(awkOut)
      }`,
    );
  }
});

// Planner and parser cases (present / replace / insert / create / absent, refusals, sensitive,
// unreadable output) are data: cases/lineInFile/, facts/line/.

Deno.test("lineInFile: bad args", () => {
  assert.throws(
    () => lineInFile({ path: "/etc/x", regexp: "\\d", line: "a" }),
    /lineInFile: invalid arguments: regexp: unsupported regex/,
  );
  assert.throws(() => lineInFile({ path: "/etc/x" }), /line: line is required/);
  assert.throws(
    () => lineInFile({ path: "/etc/x", state: "absent" }),
    /regexp: state absent needs/,
  );
  assert.throws(() => lineInFile({ path: "/etc/x", line: "a\nb" }), /line: must be a single line/);
});

Deno.test("lineInFile: two tasks on one file compose at apply time; keeps owner/mode; restore", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/conf`;
  try {
    await Deno.writeTextFile(path, "a=1\nb=1\n");
    await Deno.chmod(path, 0o600);
    const t1 = lineInFile({ path, regexp: "^a=", line: "a=2" });
    const t2 = lineInFile({ path, regexp: "^c=", line: "c=3", insertAfter: "^a=" });
    // Both probed before either applies, like the engine does.
    const p1 = change(await planLocal(t1));
    const p2 = change(await planLocal(t2));
    await allSyntaxOk(t1, p1);
    const r1 = await applyLocal(p1);
    assert.equal(r1.apply.code, 0, r1.apply.stderr);
    const r2 = await applyLocal(p2);
    assert.equal(r2.apply.code, 0, r2.apply.stderr);
    assert.equal(await Deno.readTextFile(path), "a=2\nc=3\nb=1\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    isOk(await planLocal(t1));
    isOk(await planLocal(t2));
    // Idempotent apply: running p1 again changes nothing.
    const ino = (await Deno.stat(path)).ino;
    assert.equal((await applyLocal(p1)).apply.code, 0);
    assert.equal((await Deno.stat(path)).ino, ino);
    await restoreLocal(p2, r2.J);
    await restoreLocal(p1, r1.J);
    assert.equal(await Deno.readTextFile(path), "a=1\nb=1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lineInFile: nasty lines round-trip locally", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of NASTY) {
      const path = `${dir}/f`;
      const t = lineInFile({ path, line: `k=${n}`, regexp: "^k=" });
      const p = change(await planLocal(t));
      await allSyntaxOk(t, p);
      const r = await applyLocal(p);
      assert.equal(r.apply.code, 0, r.apply.stderr);
      assert.equal(await Deno.readTextFile(path), `k=${n}\n`);
      isOk(await planLocal(t));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
