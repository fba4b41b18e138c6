/**
 * Bounded label values: a misbehaving target (or a replay file with ten
 * thousand scenario names) must not be able to blow up Prometheus. A
 * BoundedLabel keeps the first `max` distinct values it is asked about, in
 * the order they come, and folds every later one into `other`. Values are
 * also cut to `maxLength` characters, so one absurd model name cannot make
 * a series key megabytes long.
 *
 * Use one instance per label (per metric family or per collector) wherever a
 * label value comes from configuration or from a target: scenario names,
 * model names, the target's dialect model label, the target process label.
 * Lookups of known values are one Map hit; nothing here allocates after the
 * first `max` values.
 */

/** The value every value past the bound becomes. */
export const OTHER_LABEL_VALUE = 'other';

/** Default longest label value kept, characters. */
export const DEFAULT_LABEL_MAX_LENGTH = 128;

export class BoundedLabel {
  private readonly known = new Map<string, string>();
  private folded = 0;
  private readonly foldedValues = new Set<string>();

  /**
   * @param name label name (for messages)
   * @param max distinct values kept (≥ 1); later ones become `other`
   * @param maxLength longest value kept, characters (longer values are cut)
   * @param onFirstFold called once, the first time a value is folded into `other` (one log line)
   */
  constructor(
    readonly name: string,
    readonly max: number,
    private readonly maxLength = DEFAULT_LABEL_MAX_LENGTH,
    private readonly onFirstFold?: (label: string, value: string, max: number) => void,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`BoundedLabel ${name}: max must be an integer ≥ 1, got ${max}`);
  }

  /** The label value to export for `v`: itself (cut to maxLength) while within the bound, else `other`. */
  value(v: string): string {
    const have = this.known.get(v);
    if (have !== undefined) return have;
    const cut = v.length > this.maxLength ? v.slice(0, this.maxLength) : v;
    if (this.known.size < this.max || cut === OTHER_LABEL_VALUE) {
      this.known.set(v, cut);
      return cut;
    }
    // Count distinct folded values, up to a bound (the set itself must not grow without end).
    if (this.foldedValues.size < 10_000 && !this.foldedValues.has(v)) {
      this.foldedValues.add(v);
      this.folded++;
      if (this.folded === 1) this.onFirstFold?.(this.name, cut, this.max);
    }
    return OTHER_LABEL_VALUE;
  }

  /** Distinct values folded into `other` so far (counted up to 10,000). */
  get foldedCount(): number {
    return this.folded;
  }

  /** Distinct values kept. */
  get size(): number {
    return this.known.size;
  }

  /** Forget every value (e.g. when a target's dialect changes and its old series are removed). */
  clear(): void {
    this.known.clear();
    this.foldedValues.clear();
    this.folded = 0;
  }
}
