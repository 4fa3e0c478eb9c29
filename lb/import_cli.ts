/**
 * `deno task import <inventory> [-o FILE] [--lb PATTERN] [--real PATTERN]`: reads hand-built
 * keepalived/LVS hosts (one read-only exec each) and writes a haplay inventory for them, the
 * VRRP password in a 0600 `!file` secret beside it. Prints what could not be mapped and why.
 *
 * Exit codes: 0 written; 1 a host could not be read, or an unexpected error (one line; `-v`
 * shows the stack); 3 the input inventory has errors; 4 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { runMain } from "../engine/_cli_errors.ts";
import { formatIssue, InventoryError } from "../engine/inventory.ts";
import { redactor } from "../engine/secrets.ts";
import { ImportError, importInventory } from "./import/mod.ts";

const USAGE =
  "usage: deno task import <inventory> [-o FILE] [--lb PATTERN] [--real PATTERN] [--timeout SECONDS] [-v]";

/** Runs the command; returns the exit code. */
export async function importMain(
  argv: string[],
  print: (s: string) => void = (s) => console.log(redactor.redact(s)),
  printErr: (s: string) => void = (s) => console.error(redactor.redact(s)),
): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" },
        lb: { type: "string" },
        real: { type: "string" },
        timeout: { type: "string" },
      },
    });
  } catch (e) {
    printErr(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  const [file, ...rest] = a.positionals;
  const timeout = a.values.timeout === undefined ? undefined : Number(a.values.timeout);
  if (!file || rest.length || (timeout !== undefined && !(timeout > 0))) {
    printErr(USAGE);
    return 4;
  }
  try {
    const t0 = performance.now();
    const r = await importInventory({
      inventory: file,
      output: a.values.output,
      lb: a.values.lb,
      real: a.values.real,
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    });
    const n = r.lbHosts.length + r.realHosts.length;
    print(
      `import: read ${n} host(s) (${r.lbHosts.length} LB, ${r.realHosts.length} real), ` +
        `one exec each, in ${Math.round(performance.now() - t0)} ms`,
    );
    print(`wrote ${r.output}`);
    for (const s of r.secretFiles) {
      print(`wrote ${s} (0600, the VRRP password; referenced as !file)`);
    }
    if (r.notes.length) {
      print(`not mapped, or changed by the first deploy (${r.notes.length}):`);
      for (const l of r.notes) print(`  - ${l}`);
    } else print("everything mapped");
    print(`next: deno task plan ${r.output}`);
    return 0;
  } catch (e) {
    if (e instanceof ImportError) {
      for (const l of e.message.split("\n")) printErr(`import: ${l}`);
      return 1;
    }
    if (!(e instanceof InventoryError)) throw e;
    for (const i of e.issues) printErr(formatIssue(i));
    return 3;
  }
}

if (import.meta.main) await runMain("haplay import", (argv) => importMain(argv));
