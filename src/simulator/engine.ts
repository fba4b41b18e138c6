/**
 * The simulated inference engine: one continuous-batching scheduler loop for
 * the whole server, in the manner of vLLM v1.
 *
 * State: a FIFO waiting queue, a running batch (≤ maxNumSeqs sequences) and a
 * KV-cache budget in tokens; a running sequence holds prompt + generated
 * tokens of it.
 *
 * One step:
 *  1. Make room for this step's growth: each running sequence will hold one
 *     more token at the end of the step. While that would overflow the KV
 *     budget, preempt the most recently admitted sequence (vLLM's recompute
 *     preemption): its KV is freed, it goes back to the FRONT of the waiting
 *     queue and must prefill prompt + generated tokens again when readmitted.
 *  2. Chunked prefill (vLLM v1's default): each step prefills at most
 *     maxPrefillTokensPerStep prompt tokens. Sequences admitted earlier whose
 *     prompt is not fully prefilled continue first; then admit from the head
 *     of the waiting queue (strict FIFO) while a slot is free, the KV cache
 *     has room for the whole prompt (and the step's growth) and prefill budget
 *     is left. A prompt longer than the budget is prefilled over several steps.
 *  3. Duration = timeScale × (prefilled tokens / prefillTokensPerSec
 *     + decodeStepBaseMs + decodeStepPerSeqMs × sequences producing a token)
 *     + the slowdown fault. So TTFT grows with prompt length and with how many
 *     prompts are prefilled together, ITL grows with the batch, and long
 *     prompts slow everyone's decode a little while they prefill.
 *     With prefix caching on (prefix-cache.ts), an admitted prompt's leading
 *     blocks already in the cache are not prefilled: only the rest counts
 *     against the budget and the step time (a cache hit shortens TTFT).
 *     Blocks are inserted when a prompt's prefill completes.
 *  4. At the step's end every sequence that is decoding emits one token, and
 *     every sequence whose prefill completed emits its first; finished ones
 *     leave and free their KV. A prefill-only sequence (embeddings) finishes
 *     when its prefill completes.
 *
 * Timing: steps run against the monotonic clock with absolute deadlines. The
 * next step starts at the previous step's scheduled end, not when its timer
 * happened to fire, so timer lateness does not accumulate. When the process
 * falls behind by more than CATCH_UP_LIMIT_MS (the event loop was blocked),
 * the schedule re-anchors to now rather than bursting through a long backlog.
 * Steps that are already due run from setImmediate, so with zero step times
 * the loop still lets the event loop do its I/O between steps; with nothing
 * to do the loop stops (no timer, no spinning) until a request arrives.
 */
import type { EngineConfig } from './config.js';
import type { EngineSnapshot } from './metrics.js';
import type { PrefixCache } from './prefix-cache.js';

/** What the engine tells the owner of a sequence. */
export interface SeqHandler {
  /** The sequence was scheduled for the first time (its queue time ends now). */
  onScheduled(seq: Seq, nowNs: bigint): void;
  /** One token was produced (seq.generated counts it). `last`: it was the final one; the engine has dropped the sequence. */
  onToken(seq: Seq, last: boolean, stepEndNs: bigint): void;
  /** A prefill-only sequence (target 0) finished its prefill. */
  onPrefilled(seq: Seq, stepEndNs: bigint): void;
  /** The engine cannot serve the sequence (it can never fit in the KV cache). */
  onFail(seq: Seq, message: string): void;
}

/** Hooks for counters the engine alone knows. */
export interface EngineObserver {
  preempted(): void;
  generated(tokens: number): void;
}

/** Dynamic inputs of the model that faults change at runtime. */
export interface EngineModifiers {
  /** The KV budget in force. */
  kvBudget(base: number): number;
  /** Extra step time now, ms (not scaled by timeScale). */
  decodeExtraMs(nowNs: bigint): number;
}

type SeqState = 'new' | 'waiting' | 'running' | 'done';

export class Seq {
  /** Tokens generated so far. */
  generated = 0;
  /** KV-cache tokens held now. */
  kv = 0;
  preemptions = 0;
  /** When first scheduled (0n: never yet). */
  firstScheduledNs = 0n;
  state: SeqState = 'new';
  /** Prompt (+ recomputed) tokens still to prefill since its admission; 0 = decoding. */
  prefillLeft = 0;
  /** Prefill tokens this sequence gets in the step now running. */
  chunk = 0;
  /** Prompt tokens found in the prefix cache at its first admission (not prefilled). */
  cachedTokens = 0;
  /** Chained hashes of the prompt's full blocks (prefix-cache.ts); absent: never cached (embeddings). */
  blocks: readonly string[] | undefined;

  constructor(
    readonly promptTokens: number,
    /** Tokens to generate (0 = prefill only). */
    readonly target: number,
    readonly arrivalNs: bigint,
    readonly handler: SeqHandler,
  ) {}
}

/** When the loop is behind its schedule by more than this, it re-anchors to now. */
export const CATCH_UP_LIMIT_MS = 50;
const CATCH_UP_LIMIT_NS = BigInt(CATCH_UP_LIMIT_MS * 1e6);

export class Engine {
  private readonly waiting: Seq[] = [];
  private running: Seq[] = [];
  private kvUsed = 0;
  /** A step is scheduled or in progress. */
  private busy = false;
  private stepEndNs = 0n;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private steps = 0;

  constructor(
    private readonly cfg: EngineConfig,
    private readonly mods: EngineModifiers,
    private readonly obs: EngineObserver,
    /** Automatic prefix caching; absent = off. */
    private readonly cache?: PrefixCache,
  ) {}

  /**
   * Queue a sequence. False when the waiting queue is full (the caller answers
   * 429): maxQueue counts the requests that must wait for a slot, so arrivals
   * that free slots will take at the next step are never refused.
   */
  submit(seq: Seq): boolean {
    if (this.closed) return false;
    const freeSlots = Math.max(0, this.cfg.maxNumSeqs - this.running.length);
    if (this.waiting.length - freeSlots >= this.cfg.maxQueue) return false;
    seq.state = 'waiting';
    this.waiting.push(seq);
    if (!this.busy) {
      // Start on the next turn of the loop, so arrivals read in the same I/O
      // phase are admitted together.
      this.busy = true;
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.beginStep(process.hrtime.bigint());
      });
    }
    return true;
  }

  /** Drop a sequence (client gone, or the owner gave up on it). Idempotent. */
  abort(seq: Seq): void {
    if (seq.state === 'waiting') {
      const i = this.waiting.indexOf(seq);
      if (i >= 0) this.waiting.splice(i, 1);
    } else if (seq.state === 'running') {
      this.kvUsed -= seq.kv;
      seq.kv = 0;
      // Removed from `running` lazily at the end of the step (state 'done').
    }
    seq.state = 'done';
  }

  snapshot(): EngineSnapshot {
    const budget = this.mods.kvBudget(this.cfg.kvCacheTokens);
    return {
      waiting: this.waiting.length,
      running: this.running.length,
      kvUsage: budget > 0 ? Math.min(1, this.kvUsed / budget) : 0,
    };
  }

  /** Steps run so far (for tests and benches). */
  get stepCount(): number {
    return this.steps;
  }

  /** Stop the loop; sequences are dropped without callbacks. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    for (const s of this.waiting) s.state = 'done';
    for (const s of this.running) s.state = 'done';
    this.waiting.length = 0;
    this.running = [];
    this.kvUsed = 0;
    this.busy = false;
  }

  private preempt(victim: Seq): void {
    this.kvUsed -= victim.kv;
    victim.kv = 0;
    victim.prefillLeft = 0;
    victim.chunk = 0;
    victim.preemptions++;
    victim.state = 'waiting';
    this.waiting.unshift(victim);
    this.obs.preempted();
  }

  private beginStep(startNs: bigint): void {
    if (this.closed) return;
    const cfg = this.cfg;
    const budget = this.mods.kvBudget(cfg.kvCacheTokens);

    // 1. Room for this step's growth (one token per running sequence).
    while (this.running.length > 0 && this.kvUsed + this.running.length > budget) {
      const victim = this.running.pop();
      if (victim !== undefined) this.preempt(victim);
    }

    // 2. Chunked prefill: unfinished prompts first, then admission (strict FIFO).
    let prefillLeft = cfg.maxPrefillTokensPerStep;
    let prefillTokens = 0;
    let producing = 0;
    for (const s of this.running) {
      if (s.prefillLeft === 0) {
        s.chunk = 0;
        producing++;
        continue;
      }
      const c = Math.min(s.prefillLeft, prefillLeft);
      s.chunk = c;
      prefillLeft -= c;
      prefillTokens += c;
      if (c > 0 && c === s.prefillLeft) producing++;
    }
    while (this.waiting.length > 0 && this.running.length < cfg.maxNumSeqs && prefillLeft > 0) {
      const s = this.waiting[0];
      if (s === undefined) break;
      const need = s.promptTokens + s.generated;
      if (need + 1 > budget) {
        // Can never fit, even alone in an empty cache.
        this.waiting.shift();
        s.state = 'done';
        s.handler.onFail(s, `request needs ${need + 1} KV-cache tokens; the cache holds ${budget}`);
        continue;
      }
      if (this.kvUsed + need + this.running.length + 1 > budget) break;
      this.waiting.shift();
      s.state = 'running';
      s.kv = need;
      this.kvUsed += need;
      this.running.push(s);
      // Leading prompt blocks already cached are not computed again (at least the last token always is).
      let cached = 0;
      if (this.cache !== undefined && s.blocks !== undefined) {
        cached = this.cache.match(s.blocks, Math.floor((s.promptTokens - 1) / cfg.blockSize)) * cfg.blockSize;
      }
      s.prefillLeft = need - cached;
      const c = Math.min(s.prefillLeft, prefillLeft);
      s.chunk = c;
      prefillLeft -= c;
      prefillTokens += c;
      if (c === s.prefillLeft) producing++;
      if (s.firstScheduledNs === 0n) {
        s.cachedTokens = cached;
        s.firstScheduledNs = startNs;
        s.handler.onScheduled(s, startNs);
      }
    }

    if (this.running.length === 0) {
      // Nothing runnable (everything waiting was failed, or the queue is empty).
      this.busy = false;
      return;
    }

    // 3. Duration.
    const modelMs = (prefillTokens * 1000) / cfg.prefillTokensPerSec + cfg.decodeStepBaseMs + cfg.decodeStepPerSeqMs * producing;
    const ms = cfg.timeScale * modelMs + this.mods.decodeExtraMs(startNs);
    this.stepEndNs = startNs + BigInt(Math.round(ms * 1e6));
    this.busy = true;
    this.arm();
  }

  private arm(): void {
    const remainingMs = Number(this.stepEndNs - process.hrtime.bigint()) / 1e6;
    if (remainingMs < 0.5) {
      this.immediate = setImmediate(this.onDue);
    } else {
      this.timer = setTimeout(this.onDue, remainingMs);
    }
  }

  private readonly onDue = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    if (this.closed) return;
    // A timer can fire a little early (libuv's ms clock); wait out more than a ms.
    if (Number(this.stepEndNs - process.hrtime.bigint()) > 1e6) {
      this.arm();
      return;
    }
    this.endStep();
  };

  private endStep(): void {
    const endNs = this.stepEndNs;
    this.steps++;
    let emitted = 0;
    // Handlers may abort sequences (state → done) while we iterate.
    const batch = this.running;
    for (let i = 0; i < batch.length; i++) {
      const s = batch[i];
      if (s === undefined || s.state !== 'running') continue;
      if (s.prefillLeft > 0) {
        const c = s.chunk;
        s.chunk = 0;
        if (c === 0) continue; // no prefill budget for it this step
        s.prefillLeft -= c;
        if (s.prefillLeft > 0) continue; // more chunks to go
        if (this.cache !== undefined && s.blocks !== undefined) this.cache.insert(s.blocks);
        if (s.target === 0) {
          this.kvUsed -= s.kv;
          s.kv = 0;
          s.state = 'done';
          s.handler.onPrefilled(s, endNs);
          continue;
        }
      }
      s.generated++;
      s.kv++;
      this.kvUsed++;
      emitted++;
      const last = s.generated >= s.target;
      if (last) {
        this.kvUsed -= s.kv;
        s.kv = 0;
        s.state = 'done';
      }
      s.handler.onToken(s, last, endNs);
    }
    if (emitted > 0) this.obs.generated(emitted);
    if (this.closed) return;
    // Drop finished and aborted sequences, keeping admission order.
    let w = 0;
    for (let r = 0; r < batch.length; r++) {
      const s = batch[r];
      if (s !== undefined && s.state === 'running') batch[w++] = s;
    }
    batch.length = w;

    if (this.running.length === 0 && this.waiting.length === 0) {
      this.busy = false;
      return;
    }
    const now = process.hrtime.bigint();
    const nextStart = now - endNs > CATCH_UP_LIMIT_NS ? now : endNs;
    this.beginStep(nextStart);
  }
}
