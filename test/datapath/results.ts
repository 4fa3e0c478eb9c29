/**
 * The data-path results table (printed by the test and written to `results.md`).
 * @module
 */

/** What one mode showed (a column is "FAILED: why" when its step failed). */
export interface ModeResult {
  mode: string;
  /** "web1 10 / web2 10, alternating". */
  balanced: string;
  /** "web2 out in 3.1 s → web1 10/10; back in 2.4 s". */
  health: string;
  /** "lb1 → lb2: 1 of 52 failed, gap 1.3 s". */
  failover: string;
  /** "snapshot equal" or what differed. */
  rollback: string;
  /** Long-lived TCP connections through a failover, without and with connection sync ("—": not run). */
  connections?: string;
  /** Further data-path features proven in this mode (UDP check, sorry server, drain, ...). */
  features?: { name: string; result: string; ok: boolean }[];
  /** Seconds: deploy, whole mode. */
  deployS: number;
  totalS: number;
  ok: boolean;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The markdown table of `rows` with a heading line about the run. */
export function resultsMarkdown(rows: ModeResult[], about: string): string {
  const head = [
    "| mode | balanced (20 requests) | health-check removal | failover (MASTER keepalived stopped) | long-lived TCP connections through the failover | rollback | deploy s | mode s |",
    "| --- | --- | --- | --- | --- | --- | ---: | ---: |",
  ];
  const body = rows.map((r) =>
    `| ${cell(r.mode)}${r.ok ? "" : " ✗"} | ${cell(r.balanced)} | ${cell(r.health)} | ${
      cell(r.failover)
    } | ${cell(r.connections ?? "—")} | ${cell(r.rollback)} | ${r.deployS} | ${r.totalS} |`
  );
  const features = rows.flatMap((r) =>
    (r.features ?? []).map((f) =>
      `| ${cell(r.mode)} | ${cell(f.name)}${f.ok ? "" : " ✗"} | ${cell(f.result)} |`
    )
  );
  const more = features.length
    ? [
      "",
      "Data-path features (NAT: on the second deploy, with connection sync; DR: drain and maintenance on the first deploy, before the failover):",
      "",
      "| mode | feature | observed |",
      "| --- | --- | --- |",
      ...features,
    ]
    : [];
  return [
    "# Data-path results (real IPVS in QEMU guests)",
    "",
    "Written by `deno task test:datapath` (test/datapath/datapath_test.ts); see docs/datapath.md.",
    "",
    about,
    "",
    ...head,
    ...body,
    ...more,
    "",
  ].join("\n");
}

/** What one guest's reboot under load showed (reboot_vm_suite.ts). */
export interface RebootRow {
  mode: string;
  /** "lb2 (BACKUP)". */
  host: string;
  /** "power cut" or "graceful (systemctl reboot)". */
  how: string;
  /** Seconds from power-off to the guest booted (console marker), and to its SSH login. */
  bootedS: number;
  sshUpS: number;
  /** "0 of 412 failed". */
  requests: string;
  /** "4.1 s (3 failed), 1.2 s (1 failed)" or "none". */
  outages: string;
  /** Seconds from the guest booted to `deno task verify` exiting 0 ("FAILED: ..." otherwise). */
  verify: string;
  ok: boolean;
}

/** The markdown section of reboot_vm_suite.ts. */
export function rebootMarkdown(rows: RebootRow[], about: string): string {
  return [
    "## Reboots under load (test/datapath/reboot_vm_suite.ts)",
    "",
    about,
    "",
    "| mode | rebooted | how | booted s | SSH login s | requests through the VIP (every 0.1 s) | outages (gap) | verify green after boot |",
    "| --- | --- | --- | ---: | ---: | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${cell(r.mode)}${r.ok ? "" : " ✗"} | ${cell(r.host)} | ${
        cell(r.how)
      } | ${r.bootedS} | ${r.sshUpS} | ${cell(r.requests)} | ${cell(r.outages)} | ${
        cell(r.verify)
      } |`
    ),
    "",
  ].join("\n");
}

/**
 * Writes `md` as section `id` of the results file (between `<!-- results:ID -->` markers; the
 * other sections are kept; a missing section is appended), then `deno fmt`s the file.
 */
export async function writeResultsSection(file: string, id: string, md: string): Promise<void> {
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch { /* new file */ }
  const open = `<!-- results:${id} -->`, close = `<!-- /results:${id} -->`;
  const block = `${open}\n\n${md.trim()}\n\n${close}`;
  const a = text.indexOf(open), b = text.indexOf(close);
  text = a >= 0 && b > a
    ? text.slice(0, a) + block + text.slice(b + close.length)
    : (text.trim() ? text.trimEnd() + "\n\n" : "") + block + "\n";
  await Deno.writeTextFile(file, text);
  // keep the committed file `deno fmt` clean (tables are aligned by the formatter)
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", file] }).output();
}
