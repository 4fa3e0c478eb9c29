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

/** A play with a gate is rolling: a host whose apply fails is rolled back too. */
export function isGated(r: Rolling): boolean {
  return !!(r.gate || r.gateScript);
}
