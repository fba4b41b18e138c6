/**
 * Hints that fired, kept after the tracker forgets them (it keeps a resolved
 * hint for 15 minutes only): a bounded journal fed with the tracker's
 * transitions, so that a report over a longer period (a daily soak report)
 * still lists every hint that fired in it. Not checkpointed: after a restart
 * it starts with what the restored tracker holds.
 */
import { hintKey, type Hint } from './hint.js';
import type { Transition } from './tracker.js';

/** One occurrence of a hint: its identity and when it became active (a hint that comes back is a new one). */
function occurrence(h: Hint): string {
  return `${hintKey(h)}\u0000${h.activeAt.getTime()}`;
}

export class HintJournal {
  /** Occurrence → latest snapshot, oldest first (Map keeps insertion order). */
  private readonly entries = new Map<string, Hint>();

  constructor(private readonly capacity = 1000) {}

  /** Keep what fired and what resolved; the oldest occurrences go beyond `capacity`. */
  record(transitions: readonly Transition[]): void {
    for (const tr of transitions) {
      if (tr.to !== 'firing' && tr.to !== 'resolved') continue;
      const id = occurrence(tr.hint);
      this.entries.delete(id);
      this.entries.set(id, tr.hint);
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(id);
    }
  }

  /**
   * Hints that fired and were firing at some time in [fromMs, toMs], oldest
   * first. `current` (the tracker's hints now) wins over the journal for the
   * same occurrence: its summary and evidence are the freshest.
   */
  firedBetween(fromMs: number, toMs: number, current: readonly Hint[]): Hint[] {
    const all = new Map(this.entries);
    for (const h of current) if (h.firedAt !== undefined) all.set(occurrence(h), h);
    return [...all.values()]
      .filter((h) => h.firedAt !== undefined && h.firedAt.getTime() <= toMs && (h.resolvedAt === undefined || h.resolvedAt.getTime() >= fromMs))
      .sort((a, b) => (a.firedAt?.getTime() ?? 0) - (b.firedAt?.getTime() ?? 0));
  }
}
