/**
 * `template`: a {@link file} whose content is rendered from variables.
 * @module
 */
import type { z } from "zod";
import type { Task } from "../engine/types.ts";
import { parseArgs } from "./_args.ts";
import { FileArgs, fileTask } from "./file.ts";

/** A template: a function of the variables, or a string with `{{ name }}` placeholders. */
export type Template = string | ((vars: Record<string, unknown>) => string);

/** Arguments of {@link template}: those of `file` with `template` + `vars` instead of `content`. */
export type TemplateInput = Omit<z.input<typeof FileArgs>, "content"> & {
  template: Template;
  vars?: Record<string, unknown>;
};

/**
 * Render a template. String templates replace `{{ name }}` (dotted paths allowed) with the
 * variable's value; a placeholder naming an undefined variable is an error.
 */
export function render(t: Template, vars: Record<string, unknown>): string {
  if (typeof t === "function") return t(vars);
  return t.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g, (_m, key: string) => {
    let v: unknown = vars;
    for (const part of key.split(".")) {
      v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
    }
    if (v === undefined) throw new Error(`undefined variable ${key}`);
    return String(v);
  });
}

/**
 * A file rendered from a template.
 *
 * @example
 * template({ path: "/etc/default/keepalived", template: "DAEMON_ARGS=\"{{ args }}\"\n",
 *            vars: { args: "--snmp" } })
 */
export function template(args: TemplateInput): Task {
  return fileTask("template", templateArgs(args));
}

/** Validated file arguments of a template: rendered content; errors name the template's path. */
export function templateArgs(args: TemplateInput): z.output<typeof FileArgs> {
  const { template: t, vars, ...rest } = args ?? ({} as TemplateInput);
  if (typeof t !== "string" && typeof t !== "function") {
    throw new Error("template: invalid arguments: template: must be a string or a function");
  }
  let content: string;
  try {
    content = render(t, vars ?? {});
  } catch (e) {
    throw new Error(`template ${rest.path}: ${e instanceof Error ? e.message : e}`);
  }
  return parseArgs("template", FileArgs, { ...rest, content });
}
