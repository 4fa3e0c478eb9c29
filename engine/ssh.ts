/**
 * SSH transport: one connection per host per run, host keys checked against known_hosts,
 * scripts run as root (directly, or through `sudo -n` / `sudo -S`), exit code, stdout and
 * stderr kept apart and untrimmed (node-ssh's `exec()` rejects on stderr and trims; we use
 * the underlying ssh2 channel instead).
 * @module
 */
import { NodeSSH } from "node-ssh";
import {
  fingerprint,
  keysFor,
  keyType,
  knownHostsLine,
  parseKnownHosts,
  verifyHostKey,
} from "./known_hosts.ts";
import { resolveSshConfig } from "./ssh_config.ts";
import type { Connector } from "./connector.ts";

/** Where and how to reach one host. */
export interface SshTarget {
  /** Inventory name (also tried as a known_hosts name and as an ssh_config alias). */
  name: string;
  host: string;
  port: number;
  user: string;
  keyFile?: string;
  knownHosts?: string;
  become: boolean;
  becomePassword?: string;
  /** Which of user/port/key were set explicitly by the inventory (they win over ssh_config). */
  explicit?: { user?: boolean; port?: boolean; keyFile?: boolean };
}

/** Transport options of a run. */
export interface SshOptions {
  acceptNewHostKeys?: boolean;
  /** ssh_config file (default ~/.ssh/config when it exists). */
  sshConfigFile?: string;
  timeoutMs?: number;
}

/** Result of one exec. */
export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

// ssh2 ships no types: the few shapes we use.
interface Stream {
  on(event: string, cb: (...args: never[]) => void): Stream;
  stderr: { on(event: "data", cb: (d: Uint8Array) => void): void };
  end(data?: string): void;
}
interface Client {
  exec(cmd: string, cb: (err: Error | undefined, stream: Stream) => void): void;
  forwardOut(
    srcIp: string,
    srcPort: number,
    dstIp: string,
    dstPort: number,
    cb: (err: Error | undefined, stream: Stream) => void,
  ): void;
}
type ConnectConfig = Record<string, unknown> & {
  privateKey?: string;
  agent?: string;
  sock?: unknown;
  algorithms?: unknown;
};

/** The host presented a key that known_hosts does not accept. */
export class HostKeyError extends Error {}

const SUDO_ASKPASS_WRAPPER = `/bin/sh -c 'IFS= read -r HAPLAY_PW; export HAPLAY_PW; ` +
  `a=$(mktemp) || exit 1; printf "%s\\n" "#!/bin/sh" "printf \\"%s\\\\n\\" \\"\\$HAPLAY_PW\\"" > "$a"; ` +
  `chmod 700 "$a"; SUDO_ASKPASS="$a" sudo -A -p "" -- /bin/sh -s; rc=$?; rm -f "$a"; exit $rc'`;

const home = () => Deno.env.get("HOME") ?? "/root";
let knownHostsWrites: Promise<void> = Promise.resolve();

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** One live SSH connection to a host; counts the exec round trips it makes. */
export class SshSession implements Connector {
  /** Exec channels opened so far (the round trips of this run). */
  execs = 0;
  /** The last connection-level error (reset, timeout), if any. */
  lastError?: Error;
  private constructor(
    readonly target: SshTarget,
    private readonly ssh: NodeSSH,
    private readonly jump?: NodeSSH,
  ) {}

  /** Connect, verifying the host key; throws {@link HostKeyError} or a connection error. */
  static async open(target: SshTarget, opts: SshOptions = {}): Promise<SshSession> {
    const cfgFile = opts.sshConfigFile ?? `${home()}/.ssh/config`;
    const cfg = resolveSshConfig(readText(cfgFile), target.host, home());
    const ex = target.explicit ?? {};
    const host = cfg.hostName ?? target.host;
    const port = ex.port ? target.port : (cfg.port ?? target.port);
    const user = ex.user ? target.user : (cfg.user ?? target.user);
    const keyFiles = target.keyFile && ex.keyFile !== false
      ? [target.keyFile]
      : cfg.identityFiles.length
      ? cfg.identityFiles
      : [target.keyFile].filter((k): k is string => !!k);
    const khFile = target.knownHosts ?? `${home()}/.ssh/known_hosts`;
    const known = parseKnownHosts(readText(khFile));
    const names = [...new Set([host, target.host, target.name])];
    const types = [...new Set(keysFor(known, names, port).map((k) => k.type))];
    let rejection: Error | undefined;
    const hostVerifier = (key: Uint8Array, done: (ok: boolean) => void): void => {
      const verdict = verifyHostKey(known, names, port, key);
      if (verdict === "match") return done(true);
      if (verdict === "unknown" && opts.acceptNewHostKeys) {
        const line = knownHostsLine([target.name, host], port, key);
        knownHostsWrites = knownHostsWrites.then(() =>
          Deno.writeTextFile(khFile, line, { append: true, create: true, mode: 0o600 })
        );
        return done(true);
      }
      fingerprint(key).then((fp) => {
        const who = `host key of ${target.name} (${host}:${port}, ${keyType(key)} ${fp})`;
        rejection = new HostKeyError(
          verdict === "unknown"
            ? `${who} is not in ${khFile}; check it and add it, or run with --accept-new-host-keys`
            : verdict === "revoked"
            ? `${who} is REVOKED in ${khFile}; refusing`
            : `${who} does NOT match ${khFile}: possible man-in-the-middle, or the host was ` +
              `reinstalled; refusing`,
        );
        done(false);
      });
    };
    const base: ConnectConfig = {
      username: user,
      readyTimeout: opts.timeoutMs ?? 15000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      hostVerifier,
      agent: Deno.env.get("SSH_AUTH_SOCK"),
    };
    // Ask for the key types we have on record, as OpenSSH does, so the comparison is fair.
    if (types.length) base.algorithms = { serverHostKey: types };
    const key = keyFiles.map(readText).find((k) => k);
    if (key) base.privateKey = key;
    if (!base.agent) delete base.agent;
    let jump: NodeSSH | undefined;
    try {
      if (cfg.proxyJump) {
        const [jUserHost, jPort] = cfg.proxyJump.split(",")[0].split(/:(?=\d+$)/);
        const [jUser, jHost] = jUserHost.includes("@") ? jUserHost.split("@") : [user, jUserHost];
        const jcfg = resolveSshConfig(readText(cfgFile), jHost, home());
        jump = new NodeSSH();
        const jumpHost = jcfg.hostName ?? jHost;
        const jumpPort = Number(jPort ?? jcfg.port ?? 22);
        const jumpNames = [jumpHost, jHost];
        await jump.connect({
          ...base,
          host: jumpHost,
          port: jumpPort,
          username: jcfg.user ?? jUser,
          hostVerifier: (k: Uint8Array) => {
            const v = verifyHostKey(known, jumpNames, jumpPort, k);
            if (v === "match") return true;
            rejection = new HostKeyError(`host key of jump host ${jHost} not accepted (${v})`);
            return false;
          },
        } as never);
        base.sock = await new Promise((resolve, reject) =>
          (jump!.connection as Client).forwardOut(
            "127.0.0.1",
            0,
            host,
            port,
            (e, s) => e ? reject(e) : resolve(s),
          )
        );
      }
      const ssh = new NodeSSH();
      await ssh.connect({ ...base, host, port } as never);
      // A reset after connect (host gone, sshd killed) must fail the pending exec, not the
      // process: the exec's stream reports it; the connection-level event is only noted.
      const session = new SshSession({ ...target, host, port, user }, ssh, jump);
      (ssh.connection as unknown as { on(e: string, f: (err: Error) => void): void })
        .on("error", (err) => session.lastError = err);
      (jump?.connection as unknown as { on(e: string, f: (err: Error) => void): void } | null)
        ?.on("error", (err) => session.lastError = err);
      return session;
    } catch (e) {
      jump?.dispose();
      if (rejection) throw rejection;
      throw e;
    }
  }

  /** Run one command on a fresh exec channel, feeding `stdin`. */
  exec(command: string, stdin?: string): Promise<ExecResult> {
    this.execs++;
    const conn = this.ssh.connection as Client | null;
    if (!conn) return Promise.reject(this.lastError ?? new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const ev = conn as unknown as {
        once(e: string, f: () => void): void;
        removeListener(e: string, f: () => void): void;
      };
      const onGone = () => reject(this.lastError ?? new Error("connection closed during exec"));
      ev.once("close", onGone);
      conn.exec(command, (err, stream) => {
        if (err) return reject(err);
        const out: Uint8Array[] = [];
        const errs: Uint8Array[] = [];
        let code = -1;
        let signal: string | undefined;
        stream.on("data", (d: Uint8Array) => out.push(d));
        stream.stderr.on("data", (d: Uint8Array) => errs.push(d));
        stream.on("exit", (c: number | null, sig?: string | null) => {
          code = c ?? -1;
          signal = sig ?? undefined;
        });
        stream.on("close", () => {
          ev.removeListener("close", onGone);
          const dec = (parts: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(parts));
          resolve({ code, signal, stdout: dec(out), stderr: dec(errs) });
        });
        stream.on("error", reject);
        stream.end(stdin ?? "");
      });
    });
  }

  /** Run a POSIX sh script as root (through sudo when the login user is not root). */
  runScript(script: string): Promise<ExecResult> {
    const t = this.target;
    if (t.user === "root" || !t.become) return this.exec("/bin/sh -s", script);
    if (t.becomePassword !== undefined) {
      // The password travels as the first stdin line, is read by the login shell and handed to
      // sudo through an askpass helper (never on a command line, never on disk), so sudo
      // consumes it only when it really asks: with NOPASSWD it cannot leak into `sh -s`.
      return this.exec(SUDO_ASKPASS_WRAPPER, t.becomePassword + "\n" + script);
    }
    return this.exec("sudo -n -- /bin/sh -s", script);
  }

  /** Close the connection (and the jump host's). */
  close(): void {
    this.ssh.dispose();
    this.jump?.dispose();
  }
}
