/**
 * Live progress on a terminal: one status line under the normal log lines, redrawn as hosts
 * move through connect → probe → apply → done. Off when stdout is not a TTY (plain lines only).
 * @module
 */

/** Phases a host goes through. */
export type Phase = "connecting" | "probing" | "applying" | "done" | "failed";

/** A status-line renderer; a no-op when disabled. */
export class Progress {
  private phases = new Map<string, Phase>();
  private last = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly write = (s: string) => {
      Deno.stdout.writeSync(new TextEncoder().encode(s));
    },
  ) {}

  /** Whether the status line is drawn. */
  get active(): boolean {
    return this.enabled;
  }

  /** Record a host's phase and redraw (at most every 100 ms, always on done/failed). */
  set(host: string, phase: Phase): void {
    if (!this.enabled) return;
    this.phases.set(host, phase);
    const now = performance.now();
    if (phase !== "done" && phase !== "failed" && now - this.last < 100) return;
    this.last = now;
    this.draw();
  }

  /** Print a log line above the status line. */
  line(text: string): void {
    if (!this.enabled) return;
    this.write(`\r\x1b[K${text}\n`);
    this.draw();
  }

  /** The status line text. */
  status(): string {
    const c: Record<Phase, number> = { connecting: 0, probing: 0, applying: 0, done: 0, failed: 0 };
    for (const p of this.phases.values()) c[p]++;
    const parts = (Object.keys(c) as Phase[]).filter((k) => c[k]).map((k) => `${c[k]} ${k}`);
    return `[haplay] ${this.phases.size} hosts: ${parts.join(", ")}`;
  }

  private draw(): void {
    this.write(`\r\x1b[K${this.status()}`);
  }

  /** Clear the status line. */
  end(): void {
    if (this.enabled) this.write("\r\x1b[K");
  }
}
