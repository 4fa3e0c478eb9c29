/**
 * `deno task inventory <file> --list | --host NAME`: prints what haplay understood of an
 * inventory (YAML, INI or JSON) in the JSON shape of `ansible-inventory --list` / `--host`,
 * secrets shown as their lookup expression. Secrets are not read unless `--resolve-secrets` (then
 * a missing one is an error, as at deploy). Errors are one line each, no stack trace.
 *
 * Exit codes: 0 printed; 1 unexpected error (one line; `-v` shows the stack); 3 the inventory has
 * errors; 4 usage error.
 * @module
 */
import { parseArgs } from "node:util";
import { formatIssue, InventoryError, loadInventory } from "./inventory.ts";
import { inventoryHost, inventoryList } from "./inventory_list.ts";
import { redactor } from "./secrets.ts";

const USAGE =
  "usage: deno task inventory <inventory> --list | --host NAME [--resolve-secrets] [-v]";

/** Runs the command; returns the exit code. Output goes through `print` and `printErr`. */
export async function inventoryMain(
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
        list: { type: "boolean" },
        host: { type: "string" },
        "resolve-secrets": { type: "boolean" },
      },
    });
  } catch (e) {
    printErr(`${(e as Error).message}\n${USAGE}`);
    return 4;
  }
  const [file, ...extra] = a.positionals;
  if (!file || extra.length > 0 || !!a.values.list === (a.values.host !== undefined)) {
    printErr(USAGE);
    return 4;
  }
  let inv;
  try {
    inv = await loadInventory(file, { resolveSecrets: a.values["resolve-secrets"] === true });
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    for (const i of e.issues) printErr(formatIssue(i));
    return 3;
  }
  for (const w of inv.warnings ?? []) printErr(formatIssue(w));
  if (a.values.list) {
    print(JSON.stringify(inventoryList(inv), null, 2));
    return 0;
  }
  const vars = inventoryHost(inv, a.values.host!);
  if (!vars) {
    printErr(`${file}: no host '${a.values.host}' in the inventory`);
    return 3;
  }
  print(JSON.stringify(vars, null, 2));
  return 0;
}

if (import.meta.main) {
  const verbose = Deno.args.includes("-v");
  try {
    Deno.exit(await inventoryMain(Deno.args.filter((a) => a !== "-v")));
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    if (verbose && e instanceof Error) console.error(redactor.redact(e.stack ?? text));
    else console.error(`error: ${redactor.redact(text)} (re-run with -v for the stack)`);
    Deno.exit(1);
  }
}
