/**
 * Start and stop the delaying proxies (`bench/delay_proxy.ts`) as a child process.
 * @module
 */
import type { Lab } from "../lab/lab.ts";
import type { Endpoints } from "./inventories.ts";
import { REPO } from "./tools.ts";

/** A running proxy process and the endpoints it serves. */
export interface Proxies {
  endpoints: Endpoints;
  stop(): Promise<void>;
}

/** One proxy per lab host (its sshd), each chunk held `oneWayMs` per direction. */
export async function startProxies(lab: Lab, oneWayMs: number): Promise<Proxies> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `${REPO}/bench/delay_proxy.ts`,
      String(oneWayMs),
      ...lab.hosts.map((h) => `${h.ip}:22`),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("delay proxy exited before listening");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { ports } = JSON.parse(text.split("\n")[0]) as { ports: number[] };
  const endpoints: Endpoints = new Map(
    lab.hosts.map((h, i) => [h.ip, { host: "127.0.0.1", port: ports[i] }]),
  );
  return {
    endpoints,
    stop: async () => {
      await child.stdin.close().catch(() => {});
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await child.status;
      clearTimeout(t);
    },
  };
}
