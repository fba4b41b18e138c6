/**
 * Small helpers over prom-client shared by the collectors:
 * - get-or-create metric objects (one object per name per registry, created once);
 * - SnapshotGauge: a gauge family whose label sets are re-declared every
 *   collection, so a series that disappeared at the source (a GPU, a model, a
 *   dead process) disappears here instead of freezing at its last value;
 * - DeltaTracker / MonotonicCounter: mirror a source's cumulative value into a
 *   prom-client Counter by increments, detecting source resets (restart,
 *   device re-created) the way Prometheus' rate() does, so ours never
 *   decreases.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type Labels<L extends string> = Partial<Record<L, string>>;

/** Stable key for a label set (order-independent). */
export function labelKey(labels: Readonly<Record<string, string | undefined>>): string {
  const keys = Object.keys(labels).sort();
  let out = '';
  for (const k of keys) {
    const v = labels[k];
    if (v === undefined) continue;
    out += `${k}\u0001${v}\u0002`;
  }
  return out;
}

export function getOrCreateGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Gauge) return existing as Gauge<L>;
    throw new Error(`metric ${name} is already registered with another type`);
  }
  const g = new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
  // prom-client shows a label-less metric as 0 from the start; ours are absent until first set
  if (labelNames.length === 0) g.remove({});
  return g;
}

export function getOrCreateCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (existing instanceof Counter) return existing as Counter<L>;
    throw new Error(`metric ${name} is already registered with another type`);
  }
  const c = new Counter<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
  if (labelNames.length === 0) c.remove({});
  return c;
}

interface GaugeChild {
  set(value: number): void;
}

/**
 * A gauge whose series are the ones `set` since the last `commit()`: commit
 * removes every label set that was not set in this round. Children are bound
 * once per label set and reused.
 */
export class SnapshotGauge<L extends string> {
  private readonly children = new Map<string, { labels: Labels<L>; child: GaugeChild }>();
  private readonly touched = new Set<string>();

  constructor(readonly gauge: Gauge<L>) {}

  /** Sets the value; undefined or NaN means "absent this round". */
  set(labels: Labels<L>, value: number | undefined): void {
    if (value === undefined || Number.isNaN(value)) return;
    const key = labelKey(labels);
    let entry = this.children.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, child: this.gauge.labels(labels) };
      this.children.set(key, entry);
    }
    entry.child.set(value);
    this.touched.add(key);
  }

  /** Removes series not set since the previous commit. */
  commit(): void {
    for (const [key, entry] of this.children) {
      if (!this.touched.has(key)) {
        this.gauge.remove(entry.labels);
        this.children.delete(key);
      }
    }
    this.touched.clear();
  }

  /** Removes every series of this family that this object created. */
  clear(): void {
    this.touched.clear();
    this.commit();
  }

  /** Label sets currently exported. */
  size(): number {
    return this.children.size;
  }
}

/**
 * Turns successive cumulative readings into increments, per key.
 * A reading below the previous one is a reset (the source restarted): the
 * increment is then the new reading itself (what was counted since the reset).
 */
export class DeltaTracker {
  private readonly prev = new Map<string, number>();
  private readonly seen = new Set<string>();

  /**
   * @param first what to return for a key seen for the first time: 'full'
   *   returns the reading itself (mirror the source's total), 'skip' returns
   *   undefined (no increment is known yet).
   */
  delta(key: string, value: number, first: 'full' | 'skip'): number | undefined {
    if (!Number.isFinite(value) || value < 0) return undefined;
    this.seen.add(key);
    const p = this.prev.get(key);
    this.prev.set(key, value);
    if (p === undefined) return first === 'full' ? value : undefined;
    if (value < p) return value;
    return value - p;
  }

  /** Forgets keys not seen since the previous sweep (bounded memory). */
  sweep(): void {
    for (const key of this.prev.keys()) if (!this.seen.has(key)) this.prev.delete(key);
    this.seen.clear();
  }

  clear(): void {
    this.prev.clear();
    this.seen.clear();
  }
}

interface CounterChild {
  inc(value?: number): void;
}

/** A Counter fed by increments, with children bound once per label set. */
export class MonotonicCounter<L extends string> {
  private readonly children = new Map<string, CounterChild>();
  /** Our own running totals per label key (what the counter shows). */
  private readonly totals = new Map<string, number>();

  constructor(readonly counter: Counter<L>) {}

  private child(labels: Labels<L>): { key: string; child: CounterChild } {
    const key = labelKey(labels);
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.counter.labels(labels);
      this.children.set(key, child);
      this.totals.set(key, 0);
    }
    return { key, child };
  }

  /** Adds a non-negative finite increment (anything else is ignored). */
  add(labels: Labels<L>, increment: number | undefined): void {
    const { key, child } = this.child(labels);
    if (increment === undefined || !Number.isFinite(increment) || increment <= 0) {
      child.inc(0);
      return;
    }
    child.inc(increment);
    this.totals.set(key, (this.totals.get(key) ?? 0) + increment);
  }

  /** Sum of our totals over every label set. */
  total(): number {
    let s = 0;
    for (const v of this.totals.values()) s += v;
    return s;
  }
}
