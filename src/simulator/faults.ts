/**
 * Fault injection of the simulator, switchable while traffic runs.
 *
 * ## Admin API
 *
 * All bodies are JSON. Every answer is the current state (below), except
 * errors, which use OpenAI's error shape `{ "error": { message, type, param, code } }`.
 *
 *   GET    /admin/faults          → 200 state
 *   POST   /admin/faults          body: { "<fault>": { ...fields } | null, ... }
 *                                 Merges: each fault named is set (replaced as a
 *                                 whole; fields left out take their defaults) or,
 *                                 when null, cleared; faults not named are kept.
 *                                 → 200 state; 400 naming every problem (nothing applied)
 *   DELETE /admin/faults          clear all faults → 200 state
 *   DELETE /admin/faults/<fault>  clear one → 200 state; 404 for an unknown name
 *
 * Faults and their fields (defaults in brackets):
 *   leak       { mbPerMinute [60] }          RSS grows at this rate (Buffers, every page written,
 *                                            kept referenced; released when cleared)
 *   slowdown   { decodeMsPerMinute [5] }     each engine step gets rate × minutes-since-set ms longer
 *   errors     { rate [0.1], status [500] }  on arrival, answer `status` with that probability
 *   stall      { rate [0.05], seconds [5] }  mid-response, nothing is sent for `seconds`
 *                                            (tokens produced meanwhile follow in a burst)
 *   reset      { rate [0.05] }               mid-response, the connection is reset (TCP RST)
 *   malformed  { rate [0.05] }               mid-stream, one SSE event whose data is not JSON
 *                                            (non-stream: a truncated JSON body)
 *   cpuBound   { msPerRequest [5] }          busy CPU per request in one frontend thread (as a slow
 *                                            tokenizer in the API server): requests pass through it
 *                                            one at a time before they reach the engine queue
 *   kvPressure { kvCacheTokens [4096] }      KV-cache budget replaced by this one
 *   quality    { rate [0.2] }                a golden prompt the simulator recognises (arithmetic,
 *                                            capitals, ...; see answers.ts) gets a wrong answer
 * Rates are probabilities per request (0–1). "Mid-response" is after a random
 * token between the first and the last, so the client has seen a 200 and
 * content first; a request with a single output token is spared.
 *
 * State:
 *   {
 *     "faults":   { "<fault>": { ...fields }, ... },      // what is on now
 *     "since":    { "<fault>": "2025-01-01T00:00:00.000Z" },// when each was set
 *     "injected": { "<fault>": <count>, ... },            // times each acted (per-request faults; leak: allocations; slowdown/kvPressure stay 0)
 *     "leakedBytes": <bytes held by the leak>,
 *     "slowdownExtraMs": <ms currently added to each step>
 *   }
 *
 * Example: curl -XPOST localhost:18000/admin/faults -d '{"errors":{"rate":0.2,"status":503}}'
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { LlmsoakError } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { FAULT_NAMES, applySchema, faultsSchema, type FaultName, type FaultsConfig, type JsonSchema } from './config.js';
import type { Rng } from './rng.js';

export type FaultsPatch = { [K in FaultName]?: FaultsConfig[K] | null };

export interface FaultState {
  faults: FaultsConfig;
  since: { [K in FaultName]?: string };
  injected: Record<FaultName, number>;
  leakedBytes: number;
  slowdownExtraMs: number;
}

/** A fault change that does not validate; `problems` name each one (`path: message`). */
export class FaultsError extends LlmsoakError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('LLMSOAK_ERR_SIMULATOR', `invalid faults: ${problems.join('; ')}`);
    this.name = 'FaultsError';
    this.problems = problems;
  }
}

/**
 * Where the mid-response faults of one request strike: the 1-based index of the
 * output token they strike before (2…tokens, so the client has had a 200 and
 * content first); undefined = not this request.
 */
export interface MidResponsePlan {
  stallBefore?: number;
  stallMs?: number;
  resetBefore?: number;
  malformedBefore?: number;
}

const MiB = 1024 * 1024;
const LEAK_TICK_MS = 200;
const LEAK_MIN_CHUNK = 64 * 1024;

function isFaultName(s: string): s is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(s);
}

/** Validate a patch (POST /admin/faults body); returns it with defaults filled in, or the problems. */
export function validateFaultsPatch(body: unknown): { patch: FaultsPatch; problems: string[] } {
  const problems: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { patch: {}, problems: ['body: must be a JSON object of faults, e.g. {"errors":{"rate":0.1,"status":503}}'] };
  }
  const props: Readonly<Record<string, JsonSchema>> = faultsSchema.properties;
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const schema = props[key];
    if (!isFaultName(key) || schema === undefined) {
      problems.push(`faults: unknown fault '${key}' (known: ${FAULT_NAMES.join(', ')})`);
      continue;
    }
    if (value === null) {
      patch[key] = null;
      continue;
    }
    patch[key] = applySchema(schema, structuredClone(value), `faults.${key}`, problems);
  }
  return { patch: patch as FaultsPatch, problems };
}

/** Runtime state of the faults; what the admin API and `RunningSimulator.faults` control. */
/** One worker thread that burns CPU for each job in turn (a single-threaded frontend). */
class FrontendThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, () => void>();
  private seq = 0;
  constructor() {
    this.worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.on('message', ({ id, ms }) => {
         const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
         let x = 0;
         while (process.hrtime.bigint() < end) { for (let i = 0; i < 200; i++) x = (x * 1103515245 + 12345) % 2147483647; }
         parentPort.postMessage({ id, x });
       });`,
      { eval: true },
    );
    this.worker.on('message', (m: { id: number }) => {
      const done = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      done?.();
    });
    this.worker.unref();
  }
  burn(ms: number): Promise<void> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ id, ms });
    });
  }
  close(): void {
    for (const done of this.waiting.values()) done();
    this.waiting.clear();
    void this.worker.terminate();
  }
}

export class FaultController {
  private frontend: FrontendThread | undefined;
  private active: FaultsConfig = {};
  private readonly sinceNs: { [K in FaultName]?: bigint } = {};
  private readonly sinceWall: { [K in FaultName]?: string } = {};
  private readonly injected: Record<FaultName, number>;
  private leakChunks: Buffer[] = [];
  private leakedBytes = 0;
  private leakOwed = 0;
  private leakLastNs = 0n;
  private leakTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(initial: FaultsConfig, opts: { logger: Logger; clock?: Clock }) {
    this.log = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.injected = Object.fromEntries(FAULT_NAMES.map((n) => [n, 0])) as Record<FaultName, number>;
    const { patch, problems } = validateFaultsPatch(initial);
    if (problems.length > 0) throw new FaultsError(problems);
    this.apply(patch);
  }

  /** Current state (a copy). */
  state(): FaultState {
    return {
      faults: structuredClone(this.active),
      since: { ...this.sinceWall },
      injected: { ...this.injected },
      leakedBytes: this.leakedBytes,
      slowdownExtraMs: this.decodeExtraMs(this.clock.monoNs()),
    };
  }

  /** Merge a patch: named faults are set (or cleared when null). Validates first; throws FaultsError and changes nothing on a problem. */
  set(patch: FaultsPatch): FaultState {
    const checked = validateFaultsPatch(patch);
    if (checked.problems.length > 0) throw new FaultsError(checked.problems);
    this.apply(checked.patch);
    return this.state();
  }

  /** Clear one fault, or all when no name is given. */
  clear(name?: FaultName): FaultState {
    const names = name === undefined ? FAULT_NAMES : [name];
    this.apply(Object.fromEntries(names.map((n) => [n, null])) as FaultsPatch);
    return this.state();
  }

  /** Stop the leak timer and release what it holds. */
  close(): void {
    this.frontend?.close();
    this.frontend = undefined;
    this.stopLeak();
  }

  private apply(patch: FaultsPatch): void {
    const now = this.clock.monoNs();
    const next: Record<string, unknown> = { ...this.active };
    for (const name of FAULT_NAMES) {
      if (!(name in patch)) continue;
      const value = patch[name];
      if (value === null || value === undefined) {
        if (name in next) this.log.info({ fault: name }, 'simulator fault cleared');
        delete next[name];
        delete this.sinceNs[name];
        delete this.sinceWall[name];
      } else {
        next[name] = value;
        this.sinceNs[name] = now;
        this.sinceWall[name] = new Date(this.clock.wallMs()).toISOString();
        this.log.info({ fault: name, settings: value }, 'simulator fault set');
      }
    }
    this.active = next as FaultsConfig;
    if (this.active.leak !== undefined && this.active.leak.mbPerMinute > 0) this.startLeak(now);
    else this.stopLeak();
  }

  // --- hot-path queries -----------------------------------------------------

  /** Faults on now (do not mutate). */
  get current(): Readonly<FaultsConfig> {
    return this.active;
  }

  /** Step time the slowdown fault adds now, ms (unscaled). */
  decodeExtraMs(nowNs: bigint): number {
    const s = this.active.slowdown;
    const since = this.sinceNs.slowdown;
    if (s === undefined || since === undefined || nowNs <= since) return 0;
    return (s.decodeMsPerMinute * Number(nowNs - since)) / 60e9;
  }

  /** The KV budget in force: the kvPressure override when on, else `base`. */
  kvBudget(base: number): number {
    const p = this.active.kvPressure;
    return p === undefined ? base : p.kvCacheTokens;
  }

  /** On arrival: the error status to answer with, if the errors fault strikes this request. */
  arrivalError(rng: Rng): number | undefined {
    const e = this.active.errors;
    if (e === undefined || !rng.chance(e.rate)) return undefined;
    this.injected.errors++;
    return e.status;
  }

  /**
   * The cpuBound fault: busy CPU in a single frontend thread, requests served
   * one at a time (FIFO), as an API server's tokenizer would. The engine keeps
   * stepping meanwhile, so the queue stays short while TTFT grows and the
   * process burns about one core. Undefined when the fault is off.
   */
  frontendCpu(): Promise<void> | undefined {
    const c = this.active.cpuBound;
    if (c === undefined || c.msPerRequest <= 0) return undefined;
    this.injected.cpuBound++;
    this.frontend ??= new FrontendThread();
    return this.frontend.burn(c.msPerRequest);
  }

  /** For a recognised golden prompt: whether the quality fault makes this answer wrong. */
  wrongAnswer(rng: Rng): boolean {
    const q = this.active.quality;
    if (q === undefined || !rng.chance(q.rate)) return false;
    this.injected.quality++;
    return true;
  }

  /** Mid-response faults for a request that will produce `tokens` tokens (undefined: none strikes). */
  plan(rng: Rng, tokens: number): MidResponsePlan | undefined {
    const { stall, reset, malformed } = this.active;
    if ((stall === undefined && reset === undefined && malformed === undefined) || tokens < 2) return undefined;
    // Before token j, j in [2, tokens]: the client has had content, and more was due.
    const at = (): number => 2 + rng.int(tokens - 1);
    let plan: MidResponsePlan | undefined;
    if (stall !== undefined && rng.chance(stall.rate)) plan = { ...plan, stallBefore: at(), stallMs: stall.seconds * 1000 };
    if (reset !== undefined && rng.chance(reset.rate)) plan = { ...plan, resetBefore: at() };
    if (malformed !== undefined && rng.chance(malformed.rate)) plan = { ...plan, malformedBefore: at() };
    return plan;
  }

  /** Count that a fault acted (for the state's `injected`). */
  count(name: FaultName): void {
    this.injected[name]++;
  }

  // --- leak -------------------------------------------------------------------

  private startLeak(now: bigint): void {
    if (this.leakTimer !== undefined) return;
    this.leakLastNs = now;
    this.leakOwed = 0;
    this.leakTimer = setInterval(() => this.leakTick(), LEAK_TICK_MS);
    this.leakTimer.unref();
  }

  private stopLeak(): void {
    if (this.leakTimer !== undefined) clearInterval(this.leakTimer);
    this.leakTimer = undefined;
    if (this.leakedBytes > 0) this.log.info({ bytes: this.leakedBytes }, 'simulator leak released');
    this.leakChunks = [];
    this.leakedBytes = 0;
    this.leakOwed = 0;
  }

  private leakTick(): void {
    const leak = this.active.leak;
    if (leak === undefined) return;
    const now = this.clock.monoNs();
    const elapsedNs = Number(now - this.leakLastNs);
    this.leakLastNs = now;
    this.leakOwed += (leak.mbPerMinute * MiB * elapsedNs) / 60e9;
    if (this.leakOwed < LEAK_MIN_CHUNK) return;
    const n = Math.floor(this.leakOwed);
    this.leakOwed -= n;
    const buf = Buffer.allocUnsafeSlow(n);
    // Write every page so the memory is resident, not just reserved.
    buf.fill((this.leakChunks.length & 0xff) | 1);
    this.leakChunks.push(buf);
    this.leakedBytes += n;
    this.injected.leak++;
  }
}
