/**
 * The run's connections: at most one per host, opened on first use through the run's
 * {@link ConnectorFactory}, closed as soon as the host is done with the run (which keeps a big
 * run's memory down), with the round trips of closed connections still counted.
 * @module
 */
import type { Connector, ConnectorFactory } from "./connector.ts";
import type { InventoryHost } from "./inventory.ts";

/** Connections of one run, by host name. */
export class SessionPool {
  private opening = new Map<string, Promise<Connector>>();
  private live = new Map<string, Connector>();
  private closedExecs = new Map<string, number>();
  private closing: Promise<void>[] = [];

  constructor(private readonly connect: ConnectorFactory) {}

  /** The host's connection, opened now if it has none (again after {@link close}). */
  get(host: InventoryHost): Promise<Connector> {
    let s = this.opening.get(host.name);
    if (!s) {
      s = this.connect(host);
      s.then((x) => this.live.set(host.name, x), () => {});
      this.opening.set(host.name, s);
    }
    return s;
  }

  /** Round trips made on the host so far in the run, over all its connections. */
  execs(host: string): number {
    return (this.closedExecs.get(host) ?? 0) + (this.live.get(host)?.execs ?? 0);
  }

  /** Close the host's connection (once it is open); a later {@link get} opens a new one. */
  close(host: string): void {
    const s = this.opening.get(host);
    if (!s) return;
    this.opening.delete(host);
    this.closing.push(s.then((x) => {
      this.closedExecs.set(host, (this.closedExecs.get(host) ?? 0) + x.execs);
      this.live.delete(host);
      x.close();
    }, () => {}));
  }

  /** Close every connection and wait until all are closed. */
  async closeAll(): Promise<void> {
    for (const host of [...this.opening.keys()]) this.close(host);
    await Promise.all(this.closing);
  }
}
