/**
 * The one top-level wrapper of every CLI entry (engine/cli.ts, lab/cli.ts, vmlab/cli.ts,
 * demo/demo.ts, bench/bench.ts): no stack trace reaches a user. Known errors become one line
 * naming what to do; anything else one line plus "re-run with -v for the stack", and `-v`
 * (or `--verbose`) prints the stack.
 * @module
 */
import { PACKAGES } from "./_packages.ts";

/** Programs of the VM lab (`.ci/run`'s extra packages). */
const VMLAB_PACKAGES: Record<string, string> = {
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  debootstrap: "debootstrap",
  "mkfs.ext4": "e2fsprogs",
  xz: "xz-utils",
};

/** Package that provides `program` (undefined when not one the project uses). */
export function packageOf(program: string): string | undefined {
  return PACKAGES.find((p) => p.needs.includes(program))?.pkg ?? VMLAB_PACKAGES[program];
}

/** One line for a known error, or undefined. Exported for unit tests. */
export function knownError(e: unknown): string | undefined {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split("\n")[0];
  const prog = /missing program '([^']+)'/.exec(msg)?.[1] ??
    new RegExp(
      `Failed to spawn '([^']+)'|cannot run (\\S+): .*(?:No such file|not found)|` +
        `failed to execute (\\S+): No such file|exec of "([^"]+)" failed: No such file`,
    ).exec(msg)
      ?.slice(1).find(Boolean);
  if (prog) {
    const pkg = packageOf(prog.split("/").pop()!);
    return `missing program '${prog}'` +
      (pkg
        ? ` (Debian package ${pkg}): install it with apt-get install ${pkg}` +
          (PACKAGES.some((p) => p.pkg === pkg)
            ? `, or let deno task demo / deno task test install what is missing`
            : "")
        : ": install it and re-run");
  }
  if (/No space left on device|os error 28\b/.test(msg)) {
    const path = /'([^']+)'/.exec(msg)?.[1];
    return `no space left on device${path ? ` writing ${path}` : ""}: free space on that ` +
      `filesystem and re-run (labs keep their state under HAPLAY_LAB_DIR, default /tmp/haplay-lab)`;
  }
  if (/\bin use\b|already up|is in use by running process/.test(first)) {
    return /lab down/.test(first)
      ? first
      : `${first} (pick another --name, or take it down with deno task lab down --name NAME)`;
  }
  if (/needs root|must be root|Operation not permitted|os error 1\b/.test(msg)) {
    return /root/.test(first) ? first : `${first}: this needs root; run it as root`;
  }
  if (e instanceof Deno.errors.PermissionDenied || /Permission denied|os error 13\b/.test(msg)) {
    return `${first}: permission denied; run as a user that may read and write it (root for labs)`;
  }
  // the project's own user-facing errors carry a message written for the user
  if (e instanceof Error && /^(Lab|Vmlab|Inventory|HostKey)Error$/.test(e.name)) return msg;
  return undefined;
}

/** Whether the user asked for stacks (`-v`, `--verbose`, env HAPLAY_DEBUG). */
function verbose(argv: string[]): boolean {
  return argv.includes("-v") || argv.includes("--verbose") || !!Deno.env.get("HAPLAY_DEBUG");
}

/** Print one error the way every entry does; returns the exit code to use. */
export function reportError(tool: string, e: unknown, argv: string[]): number {
  const known = knownError(e);
  const v = verbose(argv);
  if (known) console.error(`${tool}: ${known}`);
  else {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0] || String(e);
    console.error(`${tool}: unexpected error: ${msg}${v ? "" : " (re-run with -v for the stack)"}`);
  }
  if (v && e instanceof Error && e.stack) console.error(e.stack);
  return 1;
}

/**
 * Run `main(argv)` and exit with its code; any thrown error or unhandled rejection becomes one
 * line (see {@link reportError}). `-v` / `--verbose` are taken out of argv unless `keepVerbose`
 * (engine/cli.ts has its own -v).
 */
export async function runMain(
  tool: string,
  main: (argv: string[]) => Promise<number>,
  o: { argv?: string[]; keepVerbose?: boolean } = {},
): Promise<never> {
  const argv = o.argv ?? Deno.args;
  const args = o.keepVerbose ? argv : argv.filter((a) => a !== "-v" && a !== "--verbose");
  globalThis.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    Deno.exit(reportError(tool, ev.reason, argv));
  });
  globalThis.addEventListener("error", (ev) => {
    ev.preventDefault();
    Deno.exit(reportError(tool, ev.error, argv));
  });
  let code: number;
  try {
    code = await main(args);
  } catch (e) {
    code = reportError(tool, e, argv);
  }
  Deno.exit(code);
}
