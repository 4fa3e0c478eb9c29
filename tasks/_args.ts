/**
 * Argument validation shared by every primitive: zod schemas with defaults and one error
 * message naming the task and the field.
 * @module
 */
import { z } from "zod";

/** Validate `args` against `schema`, or throw `Error("<module>: <field>: <problem>")`. */
export function parseArgs<S extends z.ZodType>(
  module: string,
  schema: S,
  args: unknown,
): z.output<S> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const field = i.path.length ? i.path.map(String).join(".") : "(args)";
    return `${field}: ${i.message}`;
  });
  throw new Error(`${module}: invalid arguments: ${problems.join("; ")}`);
}

/** One line of text: no newline, no NUL. */
export const oneLine = z.string().refine((s) => !/[\n\r\0]/.test(s), "must be a single line");

/** Absolute, normalized path: starts with `/`, not `/` itself, no `.`/`..`/empty segments. */
export const absPath = z.string().refine(
  (p) =>
    p.startsWith("/") && p !== "/" && !/[\n\0]/.test(p) &&
    p.slice(1).split("/").every((s) => s !== "" && s !== "." && s !== ".."),
  "must be an absolute normalized path (no trailing slash, no . or .. segments), not /",
);

/** A user or group name, or a numeric id. */
export const principal = z.string().regex(
  /^([A-Za-z_][A-Za-z0-9_.-]*\$?|[0-9]+)$/,
  "must be a user/group name or numeric id",
);

/** File mode as an octal string ("0644", "755") or a number (0o644); normalized to "0644". */
export const fileMode = z.union([z.string(), z.number()]).transform((m, ctx) => {
  const s = typeof m === "number" ? m.toString(8) : m;
  if (!/^[0-7]{3,4}$/.test(s) || (typeof m === "number" && (m < 0 || m > 0o7777))) {
    ctx.addIssue({ code: "custom", message: 'must be an octal mode like "0644"' });
    return z.NEVER;
  }
  return s.padStart(4, "0");
});

/** Fields every factory accepts besides its own. */
export const common = {
  /** Display name; defaults to a description of the resource. */
  name: z.string().min(1).optional(),
  /** Handlers to notify on change. */
  notify: z.array(z.string().min(1)).optional(),
  /** Tags for --tags / --skip-tags. */
  tags: z.array(z.string().min(1)).optional(),
};

/** Copy the optional common fields onto a task. */
export function withCommon<T extends object>(
  task: T,
  args: { notify?: string[]; tags?: string[] },
): T & { notify?: string[]; tags?: string[] } {
  const out: T & { notify?: string[]; tags?: string[] } = { ...task };
  if (args.notify?.length) out.notify = [...args.notify];
  if (args.tags?.length) out.tags = [...args.tags];
  return out;
}
