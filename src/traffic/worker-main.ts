/**
 * A traffic worker thread: its own pacer, connection pool, client, SSE
 * parsing and per-request timing, away from the main thread's HTTP server,
 * collectors, analyzer and reports. What it measures goes to the main thread
 * in batches (BatchSink); prom-client is never called here.
 */
import { SecretScrubber } from '../security/secrets.js';
import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { systemClock } from '../clock.js';
import type { Endpoint, RequestRecord } from '../types.js';
import { TrafficEngine } from './engine.js';
import { onTokenizerLoaded, tokenizerLoaded } from '../tokenizer.js';
import { PromptBuilder } from './prompts.js';
import { createRng } from './random.js';
import { RateProfile } from './rate-profile.js';
import { createTargetPool } from './target-pool.js';
import type { TrafficSink } from './traffic.js';
import { buildWorkload, WorkloadCache } from './workload-spec.js';
import type { Batch, BatchRecord, FromWorker, ProfileSpec, SeriesDef, ToWorker, WorkerInit } from './worker-protocol.js';

/** The worker's heap figures go to the main thread this often, ms (a scrape reads the last ones). */
const HEAP_REPORT_MS = 5000;
/** Batches posted at most this many records apart, whatever the interval. */
const MAX_BATCH_RECORDS = 512;

class BatchSink implements TrafficSink<number> {
  private series: SeriesDef[] = [];
  private nextIdx = 0;
  private readonly known = new Map<string, number>();
  private startedCount = 0;
  private tokens = new Map<number, number>();
  private droppedIdx: number[] = [];
  private records: BatchRecord[] = [];
  private lastInFlight = -1;
  private lastSent = -1;

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly keepBodies: boolean,
  ) {}

  scenario(name: string, endpoint: Endpoint, model: string): number {
    const key = `${name}\u0000${endpoint}\u0000${model}`;
    let idx = this.known.get(key);
    if (idx === undefined) {
      idx = this.nextIdx++;
      this.known.set(key, idx);
      this.series.push({ idx, name, endpoint, model });
    }
    return idx;
  }

  /** The main thread keeps the asked-rate gauge itself (TrafficWorkers), right the moment a rate is set. */
  setTargetRate(): void {}

  started(): void {
    this.startedCount++;
  }

  tokensArrived(s: number, n: number): void {
    this.tokens.set(s, (this.tokens.get(s) ?? 0) + n);
  }

  dropped(s: number): void {
    this.droppedIdx.push(s);
  }

  record(s: number, r: RequestRecord, live: number, body?: string): void {
    const rec: BatchRecord = { s, r, live };
    if (this.keepBodies && body !== undefined) rec.body = body;
    this.records.push(rec);
    if (this.records.length >= MAX_BATCH_RECORDS) this.flush(-1, -1);
  }

  /** Post what accumulated (nothing when nothing changed). */
  flush(inFlight: number, sent: number): void {
    const changed =
      this.series.length > 0 || this.startedCount > 0 || this.tokens.size > 0 || this.droppedIdx.length > 0 || this.records.length > 0 || inFlight !== this.lastInFlight || sent !== this.lastSent;
    if (!changed) return;
    const tokens: number[] = [];
    for (const [s, n] of this.tokens) tokens.push(s, n);
    const batch: Batch = {
      type: 'batch',
      series: this.series,
      started: this.startedCount,
      tokens,
      dropped: this.droppedIdx,
      records: this.records,
      inFlight: inFlight < 0 ? this.lastInFlight : inFlight,
      sent: sent < 0 ? this.lastSent : sent,
    };
    this.post(batch);
    if (inFlight >= 0) this.lastInFlight = inFlight;
    if (sent >= 0) this.lastSent = sent;
    this.series = [];
    this.startedCount = 0;
    this.tokens = new Map();
    this.droppedIdx = [];
    this.records = [];
  }
}

function profileOf(p: ProfileSpec | undefined | null): RateProfile | undefined {
  return p ? new RateProfile(p.points, p.shape, p.timeScale, p.startHour) : undefined;
}

/** The OS thread's name (Linux), so top -H and /proc show which thread sends the traffic. */
function nameThread(index: number): void {
  try {
    writeFileSync('/proc/thread-self/comm', `llmsoak-traf-${index}`.slice(0, 15));
  } catch {
    // Not Linux, or /proc not mounted: the name is only a convenience.
  }
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker-main.js runs as a worker thread');
  const init = workerData as WorkerInit;
  nameThread(init.index);
  const post = (m: FromWorker) => port.postMessage(m);
  // Log lines go to the main thread's logger (its destination, level and secret scrubbing).
  const logger = pino({ level: init.logLevel, base: { worker: init.index } }, { write: (line: string) => post({ type: 'log', line }) });
  const clock = systemClock;
  const rng = createRng(init.seed);
  const prompts = new PromptBuilder(rng);
  const pool = createTargetPool(init.pool, clock);
  const scrubber = new SecretScrubber(init.secrets);
  const sink = new BatchSink(post, init.keepBodies);
  const cache = new WorkloadCache((spec) => buildWorkload(spec, rng, prompts));
  const profile = profileOf(init.profile);
  const engine = new TrafficEngine<number>({
    traffic: init.traffic,
    workload: init.workload,
    buildWorkload: (spec) => cache.get(spec),
    ...(profile ? { profile } : {}),
    recorder: sink,
    rng,
    clock,
    logger,
    model: init.model,
    client: {
      dispatcher: pool,
      headers: init.headers,
      clock,
      totalTimeoutMs: init.totalTimeoutMs,
      maxBodyBytes: init.maxBodyBytes,
      countTokens: (s) => prompts.countTokens(s),
      scrub: (text) => scrubber.scrub(text),
    },
  });
  const ticker = setInterval(() => sink.flush(engine.inFlightCount, engine.requestsSent), init.batchMs);
  const reportHeap = (): void => {
    const h = getHeapStatistics();
    post({ type: 'heap', used: h.used_heap_size, total: h.total_heap_size, tokenizer: tokenizerLoaded() });
  };
  reportHeap();
  // The tokenizer's ~14 MB shows at once (a target that stops reporting usage loads it mid-run).
  onTokenizerLoaded(reportHeap);
  const heapTicker = setInterval(reportHeap, HEAP_REPORT_MS);
  heapTicker.unref();
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'start':
        engine.start();
        post({ type: 'started', originNs: Number(process.hrtime.bigint()) });
        break;
      case 'setRate':
        engine.setRate(m.rps);
        break;
      case 'setUsers':
        engine.setUsers(m.users, m.thinkTimeMs);
        break;
      case 'setProfile':
        engine.setProfile(profileOf(m.profile));
        break;
      case 'setWorkload':
        engine.setWorkload(m.spec);
        break;
      case 'setModel':
        engine.setModel(m.model);
        break;
      case 'stop':
        void engine.stop(m.drainMs).then(async (r) => {
          clearInterval(ticker);
          clearInterval(heapTicker);
          sink.flush(engine.inFlightCount, engine.requestsSent);
          await pool.close().catch(() => undefined);
          post({ type: 'stopped', ...r });
          port.close();
        });
        break;
    }
  });
  post({ type: 'ready' });
}

main();
