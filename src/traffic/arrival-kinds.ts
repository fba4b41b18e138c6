/**
 * The arrival process kinds: one file each, registered here. The config
 * schema's `traffic.arrival` list and fields, the CLI help and the docs'
 * kind table derive from this list.
 */
import type { ArrivalKind, IntegratedRate } from './arrival-kind.js';
import type { ArrivalSpec } from './arrivals.js';
import { constantArrival } from './arrival-constant.js';
import { gammaArrival } from './arrival-gamma.js';
import { poissonArrival } from './arrival-poisson.js';
import { stepArrival } from './arrival-step.js';

export const ARRIVAL_KINDS = [constantArrival, poissonArrival, gammaArrival, stepArrival] as const;

type Registered = (typeof ARRIVAL_KINDS)[number];
export type ArrivalKindName = Registered['kind'];
/** The fields kind K reads. */
export type ArrivalParams<K extends ArrivalKindName> = Extract<Registered, { kind: K }> extends ArrivalKind<K, infer P> ? P : never;

type ParamsOf<D> = D extends ArrivalKind<string, infer P> ? P : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** Every kind's fields, as the `traffic` section has them (each only where its kind reads it). */
export type ArrivalConfigFields = Partial<Intersection<ParamsOf<Registered>>>;

export const ARRIVAL_KIND_NAMES: readonly ArrivalKindName[] = ARRIVAL_KINDS.map((k) => k.kind);

/** A kind by name (the schema admits only registered names). */
export function arrivalKind(kind: ArrivalKindName): ArrivalKind<ArrivalKindName, object> {
  const def = ARRIVAL_KINDS.find((k) => k.kind === kind);
  if (def === undefined) throw new RangeError(`arrivals: unknown kind "${kind}" (one of ${ARRIVAL_KIND_NAMES.join(', ')})`);
  return def as ArrivalKind<ArrivalKindName, object>;
}

/** Every kind's fields, for the `traffic` section of the config schema. */
export function arrivalFieldSchemas(): Record<string, Readonly<Record<string, unknown>>> {
  const out: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const k of ARRIVAL_KINDS) Object.assign(out, k.fields);
  return out;
}

/**
 * The spec of the configured kind at `rate`: its fields taken from the
 * `traffic` section (the schema and the kind's check have vouched for them).
 */
export function arrivalSpecOf(traffic: { arrival: ArrivalKindName } & ArrivalConfigFields, rate: number, integrated?: IntegratedRate): ArrivalSpec {
  const fields: Record<string, unknown> = {};
  for (const f of Object.keys(arrivalKind(traffic.arrival).fields)) fields[f] = (traffic as Record<string, unknown>)[f];
  return { ...fields, kind: traffic.arrival, rate, ...(integrated !== undefined ? { integrated } : {}) } as ArrivalSpec;
}
