/**
 * The namespace lab (`@haplay/haplay/lab`): N simulated Debian hosts on this machine (network,
 * mount and PID namespaces, real sshd), for trying a playbook or testing against real hosts.
 * Needs root. See `lab/README.md` and `deno task lab up|down|status`.
 *
 * @example
 * ```ts
 * import { labDown, labExec, labUp } from "./mod.ts";
 * async function tryIt() {
 *   const lab = await labUp({ name: "try1", hosts: 2, subnet: "198.18.99.0/24" });
 *   try {
 *     // deploy to lab.inventory, then look at a host
 *     console.log((await labExec(lab, "h1", ["hostname"])).stdout);
 *   } finally {
 *     await labDown(lab.name);
 *   }
 * }
 * ```
 * @module
 */
import * as lab from "./lab.ts";
import * as snap from "./snapshot.ts";
import * as inventory from "./inventory.ts";

/**
 * Bring a lab up: hosts `h1`..`hN` at `.11`, `.12`, ... of `subnet`, each with its own sshd,
 * host keys, a `known_hosts`, and an inventory (`lab.inventory`) to deploy to.
 * @example
 * ```ts
 * import { labUp } from "./mod.ts";
 * const up = () => labUp({ name: "demo1", hosts: 3, subnet: "198.18.98.0/24", aptRepo: true });
 * ```
 */
export const labUp: typeof lab.labUp = lab.labUp;

/**
 * Tear a lab down (hosts, links, mounts, state directory).
 * @example
 * ```ts
 * import { labDown } from "./mod.ts";
 * const down = () => labDown("demo1");
 * ```
 */
export const labDown: typeof lab.labDown = lab.labDown;

/**
 * A lab that is up, from its state directory (undefined when it is not).
 * @example
 * ```ts
 * import { labLoad } from "./mod.ts";
 * const inventoryOf = async (name: string) => (await labLoad(name))?.inventory;
 * ```
 */
export const labLoad: typeof lab.labLoad = lab.labLoad;

/**
 * Run a command inside a lab host (by nsenter, not SSH), as root; never throws for a non-zero
 * exit.
 * @example
 * ```ts
 * import { labExec, type Lab } from "./mod.ts";
 * const conf = async (lab: Lab) => (await labExec(lab, "h1", ["cat", "/etc/keepalived/keepalived.conf"])).stdout;
 * ```
 */
export const labExec: typeof lab.labExec = lab.labExec;

/**
 * Power-cycle lab hosts (`"all"` or names): every process killed, network namespace, NIC and
 * mounts re-created, the host boots again from its own disk; `graceful` shuts down cleanly
 * first. Returns per host the milliseconds from power-off to its sshd accepting a connection.
 * @example
 * ```ts
 * import { type Lab, labReboot } from "./mod.ts";
 * const powerCut = (lab: Lab) => labReboot(lab, ["h1"]);
 * const rebootAll = (lab: Lab) => labReboot(lab, "all", { graceful: true });
 * ```
 */
export const labReboot: typeof lab.labReboot = lab.labReboot;

/**
 * Options of {@link labReboot}.
 * @example
 * ```ts
 * import type { RebootOptions } from "./mod.ts";
 * const o: RebootOptions = { graceful: true };
 * ```
 */
export type RebootOptions = lab.RebootOptions;

/**
 * Each host of a lab with `up`: whether its init is still running.
 * @example
 * ```ts
 * import { type Lab, labStatus } from "./mod.ts";
 * const allUp = async (lab: Lab) => (await labStatus(lab)).every((h) => h.up);
 * ```
 */
export const labStatus: typeof lab.labStatus = lab.labStatus;

/**
 * Names of the labs with a state directory.
 * @example
 * ```ts
 * import { labList } from "./mod.ts";
 * const names = () => labList();
 * ```
 */
export const labList: typeof lab.labList = lab.labList;

/**
 * A running lab: its hosts, key, known_hosts, ssh_config and inventory.
 * @example
 * ```ts
 * import type { Lab } from "./mod.ts";
 * const ips = (lab: Lab) => lab.hosts.map((h) => h.ip);
 * ```
 */
export type Lab = lab.Lab;

/**
 * Options of {@link labUp}.
 * @example
 * ```ts
 * import type { LabOptions } from "./mod.ts";
 * const o: LabOptions = { name: "sd1", hosts: 2, subnet: "198.18.97.0/24", init: "systemd" };
 * ```
 */
export type LabOptions = lab.LabOptions;

/**
 * One host of a lab.
 * @example
 * ```ts
 * import type { LabHost } from "./mod.ts";
 * const label = (h: LabHost) => `${h.name} ${h.ip} (netns ${h.netns})`;
 * ```
 */
export type LabHost = lab.LabHost;

/**
 * A lab operation failed (a clear message, no stack trace for users).
 * @example
 * ```ts
 * import { LabError } from "./mod.ts";
 * const isLab = (e: unknown) => e instanceof LabError;
 * ```
 */
export const LabError: typeof lab.LabError = lab.LabError;

/**
 * The type of a {@link LabError}.
 * @example
 * ```ts
 * import { LabError } from "./mod.ts";
 * const message = (e: LabError) => e.message;
 * ```
 */
export type LabError = lab.LabError;

/**
 * A text snapshot of a host's state (files under /etc and /usr/local with owner, mode and
 * hash, net sysctls, iptables, ip rules and routes, addresses, users): equal before and after
 * means nothing changed.
 * @example
 * ```ts
 * import { type Lab, snapshot } from "./mod.ts";
 * const same = async (lab: Lab, before: string) => (await snapshot(lab, "h1")) === before;
 * ```
 */
export const snapshot: typeof snap.snapshot = snap.snapshot;

/**
 * {@link snapshot} of several hosts, by name.
 * @example
 * ```ts
 * import { type Lab, snapshots } from "./mod.ts";
 * const all = (lab: Lab) => snapshots(lab, lab.hosts.map((h) => h.name));
 * ```
 */
export const snapshots: typeof snap.snapshots = snap.snapshots;

/**
 * The lines that differ between two snapshots.
 * @example
 * ```ts
 * import { snapshotDiff } from "./mod.ts";
 * console.assert(snapshotDiff("a\nb", "a\nc") === "- b\n+ c");
 * ```
 */
export const snapshotDiff: typeof snap.snapshotDiff = snap.snapshotDiff;

/**
 * SSH exec sessions a lab host's sshd logged so far: the round trips a run really made.
 * @example
 * ```ts
 * import { type Lab, sshdSessions } from "./mod.ts";
 * const execs = (lab: Lab) => sshdSessions(lab, "h1");
 * ```
 */
export const sshdSessions: typeof snap.sshdSessions = snap.sshdSessions;

/**
 * An example inventory's text moved onto a lab (addresses rewritten, lab connection added).
 * @example
 * ```ts
 * import { type Lab, labInventoryText } from "./mod.ts";
 * const onLab = (lab: Lab) =>
 *   labInventoryText(Deno.readTextFileSync("inventory/examples/001-dr-pair-redirect.yaml"), lab);
 * ```
 */
export const labInventoryText: typeof inventory.labInventoryText = inventory.labInventoryText;

/**
 * {@link labInventoryText} written into the lab's state directory; returns its path.
 * @example
 * ```ts
 * import { type Lab, writeLabInventory } from "./mod.ts";
 * const path = (lab: Lab) => writeLabInventory("inventory/examples/001-dr-pair-redirect.yaml", lab);
 * ```
 */
export const writeLabInventory: typeof inventory.writeLabInventory = inventory.writeLabInventory;
