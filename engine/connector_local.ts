/**
 * A connector that runs the engine's scripts on this machine under `sh`, each host in a
 * directory of its own under one temp root: the engine's state directory (`/var/lib/haplay`:
 * lock, generation, journal, pending handlers) is mapped into `<root>/<host>/`, so probes,
 * applies, journals and rollbacks run for real, without root or SSH. Tasks keep their own
 * paths: give them paths under {@link LocalConnectors.rootOf} (the run loop's unit suite does).
 * @module
 */
import { STATE_DIR } from "./script.ts";
import type { Connector, ConnectorFactory, ExecResult } from "./connector.ts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** One local "host": a directory standing in for its root. */
export class LocalConnector implements Connector {
  /** Scripts run so far. */
  execs = 0;
  private closed = false;
  constructor(
    /** The host's root directory. */
    readonly root: string,
  ) {}

  /** Run a script under `sh -s` with the engine's state directory inside {@link root}. */
  async runScript(script: string): Promise<ExecResult> {
    this.execs++;
    if (this.closed) throw new Error("connection closed");
    const child = new Deno.Command("sh", {
      args: ["-s"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PATH, HAPLAY_HOST_ROOT: this.root },
      clearEnv: true,
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(script.replaceAll(STATE_DIR, this.root + STATE_DIR)));
    await w.close();
    const out = await child.output();
    const d = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal ?? undefined,
      stdout: d.decode(out.stdout),
      stderr: d.decode(out.stderr),
    };
  }

  /** Refuse further scripts. */
  close(): void {
    this.closed = true;
  }
}

/** Local hosts under one temp root, one directory per inventory host. */
export class LocalConnectors {
  private constructor(
    /** The temp root holding every host's directory. */
    readonly root: string,
  ) {}

  /** A fresh temp root (remove it with {@link remove}). */
  static async create(): Promise<LocalConnectors> {
    return new LocalConnectors(await Deno.makeTempDir({ prefix: "haplay-local-" }));
  }

  /** The directory standing in for host `name`'s `/`. */
  rootOf(name: string): string {
    return `${this.root}/${name}`;
  }

  /** The factory to pass as `RunOptions.connector`. */
  readonly factory: ConnectorFactory = async (host) => {
    const dir = this.rootOf(host.name);
    await Deno.mkdir(dir, { recursive: true });
    return new LocalConnector(dir);
  };

  /** Delete the temp root and everything in it. */
  async remove(): Promise<void> {
    await Deno.remove(this.root, { recursive: true });
  }
}
