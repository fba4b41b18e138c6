/**
 * Time, injected. Durations use the monotonic clock (ns, bigint); wall-clock
 * milliseconds are only for timestamps shown to people or sent to Alertmanager.
 */
export interface Clock {
  /** Monotonic nanoseconds (process.hrtime.bigint()). */
  monoNs(): bigint;
  /** Wall-clock milliseconds since the epoch. */
  wallMs(): number;
}

export const systemClock: Clock = {
  monoNs: () => process.hrtime.bigint(),
  wallMs: () => Date.now(),
};

export const NS_PER_MS = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;

/** Nanoseconds (bigint) to seconds (number), for exporting in base units. */
export function nsToSeconds(ns: bigint): number {
  return Number(ns) / 1e9;
}

export function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}
