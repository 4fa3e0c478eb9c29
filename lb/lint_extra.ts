/**
 * Lint of the raw keepalived lines (`extra:`): each statement is listed as a warning "not
 * checked by haplay: <keyword>" (only `keepalived -t` on the host checks it, before the file
 * lands), and a single statement that repeats one haplay already renders in the same block
 * (`priority` in a vrrp_instance's extra) is an error: set it through haplay's own field.
 * Brace balance and quoting are schema errors (see `Extra` in schema.ts).
 * @module
 */
import type { Finding } from "./_locate.ts";
import type { Cluster } from "./cluster.ts";
import {
  renderGlobalDefs,
  renderHealthCheck,
  renderInstance,
  renderSyncGroup,
  renderVirtualServer,
  renderVrrpScript,
} from "./keepalived_conf.ts";
import { type KaNode, parseKeepalivedConf } from "./keepalived_parse.ts";
import { checkersOf, extraLines } from "./schema.ts";

/** One place that takes `extra`, with the block haplay renders there without it. */
interface ExtraSite {
  path: (string | number)[];
  extra: readonly string[];
  /** The statements haplay itself renders in that block (undefined: not known). */
  rendered: () => string[] | undefined;
}

/** Keywords of the single statements inside a rendered block (its first line is the head). */
function leafKeys(block: () => string[]): () => string[] | undefined {
  return () => {
    try {
      const [top] = parseKeepalivedConf(block().join("\n"), { file: "rendered" }).nodes;
      return (top?.children ?? []).filter((n) => !n.children).map((n) => n.key);
    } catch {
      return undefined; // a block haplay cannot render reports its own problem elsewhere
    }
  };
}

function sites(c: Cluster): ExtraSite[] {
  const cfg = c.cfg;
  const out: ExtraSite[] = [];
  const add = (
    path: (string | number)[],
    extra: readonly string[] | undefined,
    r: ExtraSite["rendered"],
  ) => {
    if (extra?.length) out.push({ path: ["haplay_lb", ...path, "extra"], extra, rendered: r });
  };
  add(
    ["global_defs"],
    cfg.global_defs?.extra,
    leafKeys(() => renderGlobalDefs({ ...c, cfg: { ...cfg, global_defs: undefined } }, c.owner)),
  );
  add([], cfg.extra, () => undefined);
  cfg.vrrp_scripts.forEach((s, i) =>
    add(["vrrp_scripts", i], s.extra, leafKeys(() => renderVrrpScript({ ...s, extra: undefined })))
  );
  const m = c.members[0];
  cfg.vrrp_instances.forEach((inst, i) =>
    add(
      ["vrrp_instances", i],
      inst.extra,
      leafKeys(() => (m ? renderInstance(c, m, { ...inst, extra: undefined }) : [])),
    )
  );
  cfg.sync_groups.forEach((g, i) =>
    add(["sync_groups", i], g.extra, leafKeys(() => renderSyncGroup({ ...g, extra: undefined })))
  );
  for (const s of c.services) {
    const base = ["services", s.index];
    const bare = { ...s, cfg: { ...s.cfg, extra: undefined }, realServers: [] };
    add(base, s.cfg.extra, leafKeys(() => renderVirtualServer(bare)));
    for (const { check, path } of checkersOf(s.cfg.health_check)) {
      add(
        [...base, "health_check", ...path],
        check.extra,
        leafKeys(() => renderHealthCheck({ ...check, extra: undefined })),
      );
    }
    s.cfg.real_servers?.forEach((r, j) => {
      if (typeof r === "object") {
        const inhibit = r.inhibit_on_failure ?? s.cfg.inhibit_on_failure;
        add([...base, "real_servers", j], r.extra, () => [
          "weight",
          ...(inhibit ? ["inhibit_on_failure"] : []),
        ]);
      }
    });
  }
  return out;
}

/** The top-level statements of an extra list, each with the index of the entry it starts in. */
function statements(extra: readonly string[]): { node: KaNode; entry: number }[] {
  const entryOfLine: number[] = [];
  extra.forEach((e, i) => extraLines([e]).forEach(() => entryOfLine.push(i)));
  const { nodes } = parseKeepalivedConf(extraLines(extra).join("\n"), { file: "extra" });
  return nodes.map((node) => ({ node, entry: entryOfLine[node.line - 1] ?? 0 }));
}

/** Every raw statement, as "not checked by haplay", and raw repeats of rendered statements. */
export function ruleExtras(c: Cluster): Finding[] {
  const out: Finding[] = [];
  for (const site of sites(c)) {
    const rendered = site.rendered();
    for (const { node, entry } of statements(site.extra)) {
      const path = [...site.path, entry];
      if (!node.children && rendered?.includes(node.key)) {
        out.push({
          host: c.owner,
          path,
          message: `extra repeats ${node.key}, which haplay already renders in this block: ` +
            `set it through haplay's own field instead`,
          severity: "error",
        });
        continue;
      }
      out.push({
        host: c.owner,
        path,
        message: `not checked by haplay: ${node.key}`,
        severity: "warning",
      });
    }
  }
  return out;
}
