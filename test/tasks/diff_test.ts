import assert from "node:assert/strict";
import { diffLines, splitLines, unifiedDiff } from "../../tasks/_diff.ts";

Deno.test("diff: equal texts give an empty diff", () => {
  assert.equal(unifiedDiff("a\nb\n", "a\nb\n", { path: "/etc/x" }), "");
});

Deno.test("diff: one changed line with 3 lines of context, GNU headers", () => {
  const a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const b = "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n";
  assert.equal(
    unifiedDiff(a, b, { path: "/etc/x.conf" }),
    "--- a/etc/x.conf\n+++ b/etc/x.conf\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n",
  );
});

Deno.test("diff: creation, deletion, and no newline at end of file", () => {
  assert.equal(
    unifiedDiff("", "x\ny\n", { path: "f" }),
    "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n",
  );
  assert.equal(unifiedDiff("x\n", "", { path: "f" }), "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-x\n");
  assert.equal(
    unifiedDiff("x\n", "x", { path: "f" }),
    "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n",
  );
});

Deno.test("diff: distant changes make separate hunks, close ones merge", () => {
  const a = Array.from({ length: 30 }, (_, i) => `l${i}\n`).join("");
  const b = a.replace("l2\n", "L2\n").replace("l25\n", "L25\n");
  const d = unifiedDiff(a, b, { path: "f" });
  assert.equal(d.match(/^@@/gm)?.length, 2);
  const c = a.replace("l2\n", "L2\n").replace("l8\n", "L8\n");
  assert.equal(unifiedDiff(a, c, { path: "f" }).match(/^@@/gm)?.length, 1);
});

Deno.test("diff: edit script is minimal on a classic example", () => {
  const e = diffLines(splitLines("a\nb\nc\na\nb\nb\na\n"), splitLines("c\nb\na\nb\na\nc\n"));
  assert.equal(e.filter((x) => x.op !== " ").length, 5); // Myers' paper: D = 5
});

function rnd(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

Deno.test("diff: random texts round-trip through patch(1)", async () => {
  const r = rnd(42);
  const dir = await Deno.makeTempDir();
  try {
    for (let t = 0; t < 60; t++) {
      const mk = () =>
        Array.from({ length: Math.floor(r() * 25) }, () => "abcdef"[Math.floor(r() * 6)] + "\n")
          .join("") +
        (r() < 0.2 ? "tail" : "");
      const a = mk(), b = mk();
      const d = unifiedDiff(a, b, { path: "/f" });
      if (a === b) {
        assert.equal(d, "");
        continue;
      }
      await Deno.writeTextFile(`${dir}/f`, a);
      await Deno.writeTextFile(`${dir}/p`, d);
      const out = await new Deno.Command("patch", {
        args: ["-s", "-p1", "-d", dir, "-i", `${dir}/p`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stdout) + d);
      assert.equal(await Deno.readTextFile(`${dir}/f`), b, `case ${t}:\n${d}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
