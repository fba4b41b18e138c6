/**
 * A fake clock with timers for unit tests of loops whose timing is logic:
 * time moves only when the test advances it, and due timers run in time order,
 * each with the clock set to its due time, with pending promises settled
 * between them (so async work a timer starts finishes before the next one).
 */
import type { Clock, TimerHandle, Timers } from '../src/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock, Timers {
  private nowMs: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  wallMs(): number {
    return this.nowMs;
  }

  monoNs(): bigint {
    return BigInt(Math.round(this.nowMs * 1e6));
  }

  setTimeout(fn: () => void, ms: number): TimerHandle & { id: number } {
    const id = ++this.seq;
    this.pending.set(id, { at: this.nowMs + Math.max(0, ms), seq: id, fn });
    return { id, unref: () => undefined };
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete((handle as { id: number }).id);
  }

  /** Timers waiting. */
  get timersPending(): number {
    return this.pending.size;
  }

  /** Move time forward by `ms`, running every timer that comes due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    for (;;) {
      await settle();
      const next = [...this.pending.values()].filter((p) => p.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending.delete(next.seq);
      this.nowMs = next.at;
      next.fn();
    }
    this.nowMs = until;
    await settle();
  }
}

/** Let promise chains started by a timer run to completion (they do no real I/O in these tests). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
