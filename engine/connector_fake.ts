/**
 * A scripted connector for tests: every script a run sends is recorded (host, kind, start and
 * end), and per host it is answered by a function, passed on to another connector (e.g. a
 * local one), or refused because the host is unreachable.
 * @module
 */
import type { Connector, ConnectorFactory, ExecResult } from "./connector.ts";

/** Which of the engine's scripts a script is. */
export type ScriptKind = "probe" | "apply" | "rollback" | "hook";

/** Tell the engine's scripts apart by the markers each one prints. */
export function scriptKind(script: string): ScriptKind {
  if (/^printf '@@HP[0-9a-f]+:engine\\n'$/m.test(script)) return "probe";
  if (/^printf '@@HP[0-9a-f]+:started\\n'/m.test(script)) return "apply";
  if (/^export HAPLAY_ROLLBACK=1 /m.test(script)) return "rollback";
  return "hook";
}

/** One recorded script. */
export interface ScriptCall {
  host: string;
  kind: ScriptKind;
  script: string;
  /** Order in which the call started and ended, over every host (0, 1, 2, ...). */
  start: number;
  end?: number;
}

/** How a fake host behaves. */
export interface FakeHost {
  /** Connecting fails with this message. */
  unreachable?: string;
  /**
   * Answer a script (the `n`th on this host, from 1); `undefined` passes it to the fallback
   * connector. Throwing fails the exec (a connection lost mid-script).
   */
  answer?(script: string, n: number): ExecResult | undefined | Promise<ExecResult | undefined>;
}

/** Fake hosts for one or more runs, and everything they were sent. */
export class ScriptedConnectors {
  /** Every script sent, in start order. */
  readonly calls: ScriptCall[] = [];
  /** Connections opened per host. */
  readonly opened = new Map<string, number>();
  private clock = 0;

  constructor(
    private readonly hosts: Record<string, FakeHost> = {},
    private readonly fallback?: ConnectorFactory,
  ) {}

  /** The scripts of one kind sent to a host. */
  sent(host: string, kind?: ScriptKind): ScriptCall[] {
    return this.calls.filter((c) => c.host === host && (!kind || c.kind === kind));
  }

  /** The factory to pass as `RunOptions.connector`. */
  readonly factory: ConnectorFactory = async (host) => {
    const fake = this.hosts[host.name] ?? {};
    if (fake.unreachable) throw new Error(fake.unreachable);
    this.opened.set(host.name, (this.opened.get(host.name) ?? 0) + 1);
    const inner = this.fallback ? await this.fallback(host) : undefined;
    let execs = 0;
    const calls = this.calls;
    const tick = () => this.clock++;
    const conn: Connector = {
      get execs() {
        return execs;
      },
      async runScript(script: string): Promise<ExecResult> {
        execs++;
        const call: ScriptCall = {
          host: host.name,
          kind: scriptKind(script),
          script,
          start: tick(),
        };
        calls.push(call);
        try {
          const got = await fake.answer?.(script, execs);
          if (got) return got;
          if (!inner) return { code: 0, stdout: "", stderr: "" };
          return await inner.runScript(script);
        } finally {
          call.end = tick();
        }
      },
      close() {
        inner?.close();
      },
    };
    return conn;
  };
}
