/**
 * A play's rolling options in one place: `play.rolling`, with the loose play fields of
 * playbooks written before it (`serial`, `order`, `gate`, ...) filling what it leaves out.
 * @module
 */
import type { Play, Rolling } from "./types.ts";

/** The rolling options the engine acts on. */
export function rollingOf(play: Play): Rolling {
  const r = play.rolling ?? {};
  return {
    serial: r.serial ?? play.serial,
    maxFailPercentage: r.maxFailPercentage ?? play.maxFailPercentage,
    order: r.order ?? play.order,
    orderProbe: r.orderProbe ?? play.orderProbe,
    when: r.when ?? play.rollingIf,
    gateScript: r.gateScript ?? play.gateScript,
    gate: r.gate ?? play.gate,
  };
}

/** Rolling options a play sets twice, grouped and loose ("serial", ...): an authoring error. */
export function setTwice(play: Play): string[] {
  const r = play.rolling;
  if (!r) return [];
  const loose: Array<[keyof Rolling, unknown]> = [
    ["serial", play.serial],
    ["maxFailPercentage", play.maxFailPercentage],
    ["order", play.order],
    ["orderProbe", play.orderProbe],
    ["when", play.rollingIf],
    ["gateScript", play.gateScript],
    ["gate", play.gate],
  ];
  return loose.filter(([k, v]) => v !== undefined && r[k] !== undefined).map(([k]) => k);
}

/** A play with a gate is rolling: a host whose apply fails is rolled back too. */
export function isGated(r: Rolling): boolean {
  return !!(r.gate || r.gateScript);
}
