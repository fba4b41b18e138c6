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

/**
 * Timers, injected where a loop's timing is logic worth testing (the analyzer's
 * aligned evaluations): tests drive them with a fake clock instead of waiting.
 */
export interface TimerHandle {
  unref?(): unknown;
}
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
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
