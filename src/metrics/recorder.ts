/**
 * The only writer of traffic figures. Takes finished RequestRecords (and live
 * token arrivals) and writes them once into the Prometheus registry and the
 * HDR windows. Keeps no per-request object after recording.
 */
import type { Counter, Histogram, LabelValues, Registry } from 'prom-client';

type L = 'scenario' | 'endpoint' | 'model';
type BoundHistogram = Histogram.Internal<L>;
type BoundCounter = Counter.Internal;
import type { SloConfig } from './slo.js';
import type { Clock } from '../clock.js';
import { REQUEST_PHASES, type Endpoint, type ErrorClass, type Outcome, type RequestPhase, type RequestRecord } from '../types.js';
import { TrafficMetrics } from './traffic-metrics.js';
import { HdrWindow, HdrTotal } from './hdr-window.js';
import { BoundedLabel } from './bounded-label.js';

/** One observation carrying `{trace_id}` as its exemplar (prom-client types exemplar labels as the metric's own label names). */
function observeWithExemplar(h: Histogram<L>, labels: Record<L, string>, value: number, traceId: string): void {
  h.observe({ labels, value, exemplarLabels: { trace_id: traceId } as unknown as LabelValues<L> });
}

/** Default bound on distinct `scenario` and `model` label values (config `metrics.maxLabelValues`). */
export const DEFAULT_MAX_LABEL_VALUES = 32;

/** Label children bound once per scenario: no label hashing on the hot path. */
export class ScenarioSeries {
  readonly ttft: BoundHistogram;
  readonly itl: BoundHistogram;
  readonly tpot: BoundHistogram;
  readonly e2e: BoundHistogram;
  readonly corrected: BoundHistogram;
  readonly scheduleLag: BoundHistogram;
  readonly tokensPerChunk: BoundHistogram;
  readonly good: BoundCounter;
  readonly dropped: BoundCounter;
  readonly inputTokens: BoundCounter;
  readonly outputTokens: BoundCounter;
  /** Label values of this series (exemplar observations name them). */
  readonly labels: Record<L, string>;
  /** llmsoak_request_phase_seconds children, one per phase. */
  readonly phases: Record<RequestPhase, Histogram.Internal<'phase' | 'scenario'>>;
  private readonly outcomes = new Map<Outcome, BoundCounter>();
  private readonly errors = new Map<ErrorClass, BoundCounter>();
  private readonly sources = new Map<string, BoundCounter>();

  constructor(
    private readonly m: TrafficMetrics,
    readonly scenario: string,
    readonly endpoint: Endpoint,
    readonly model: string,
  ) {
    const l = { scenario, endpoint, model };
    this.labels = l;
    this.phases = Object.fromEntries(REQUEST_PHASES.map((phase) => [phase, m.phase.labels({ phase, scenario })])) as Record<RequestPhase, Histogram.Internal<'phase' | 'scenario'>>;
    this.ttft = m.ttft.labels(l);
    this.itl = m.itl.labels(l);
    this.tpot = m.tpot.labels(l);
    this.e2e = m.e2e.labels(l);
    this.corrected = m.corrected.labels(l);
    this.scheduleLag = m.scheduleLag.labels(l);
    this.tokensPerChunk = m.tokensPerChunk.labels(l);
    this.good = m.good.labels(l);
    this.dropped = m.dropped.labels(l);
    this.inputTokens = m.inputTokens.labels(l);
    this.outputTokens = m.outputTokens.labels(l);
    // Zero-initialise so rate() works from the first scrape and absent != zero.
    this.outcome('ok');
    this.good.inc(0);
    this.dropped.inc(0);
    this.inputTokens.inc(0);
    this.outputTokens.inc(0);
  }

  outcome(o: Outcome): BoundCounter {
    let c = this.outcomes.get(o);
    if (!c) {
      c = this.m.requests.labels({ scenario: this.scenario, endpoint: this.endpoint, model: this.model, outcome: o });
      this.outcomes.set(o, c);
    }
    return c;
  }

  error(cls: ErrorClass): BoundCounter {
    let c = this.errors.get(cls);
    if (!c) {
      c = this.m.errors.labels({ scenario: this.scenario, endpoint: this.endpoint, model: this.model, class: cls });
      this.errors.set(cls, c);
    }
    return c;
  }

  source(s: 'usage' | 'tokenizer'): BoundCounter {
    let c = this.sources.get(s);
    if (!c) {
      c = this.m.tokenSource.labels({ scenario: this.scenario, endpoint: this.endpoint, model: this.model, source: s });
      this.sources.set(s, c);
    }
    return c;
  }
}

export interface RecorderTotals {
  requests: number;
  ok: number;
  good: number;
  dropped: number;
  errors: Partial<Record<ErrorClass, number>>;
  inputTokens: number;
  outputTokens: number;
}

/** What a checkpoint keeps of the recorder: run totals and all-time HDR histograms (compressed base64). */
export interface RecorderSnapshot {
  v: 1;
  totals: RecorderTotals;
  hdr: Record<WindowedFigure, string>;
}

/** Percentile windows kept for the analyzer, /api/status and reports. */
export const WINDOWED = ['ttft', 'itl', 'tpot', 'e2e', 'corrected', 'scheduleLag'] as const;
export type WindowedFigure = (typeof WINDOWED)[number];

function zeroTotals(): RecorderTotals {
  return { requests: 0, ok: 0, good: 0, dropped: 0, errors: {}, inputTokens: 0, outputTokens: 0 };
}

/**
 * The figures of one period (a ramp step, a whole mode run, a slice of a
 * spike): counts and all-time HDR histograms, fed by the recorder while the
 * meter is open, alongside the run totals (which it never touches). About
 * 1 MB of histograms each: open one per period and reuse it with reset(),
 * rather than one per second.
 */
export class Meter {
  readonly hdr: Record<WindowedFigure, HdrTotal>;
  totals: RecorderTotals = zeroTotals();
  /** Requests sent while attached (whether or not they have ended). */
  sent = 0;
  /** Wall-clock ms when opened or last reset. */
  startedAtMs: number;

  constructor(nowMs: number) {
    this.hdr = { ttft: new HdrTotal(), itl: new HdrTotal(), tpot: new HdrTotal(), e2e: new HdrTotal(), corrected: new HdrTotal(), scheduleLag: new HdrTotal() };
    this.startedAtMs = nowMs;
  }

  /** Start counting afresh from `nowMs` (memory is kept). */
  reset(nowMs: number): void {
    for (const f of WINDOWED) this.hdr[f].reset();
    this.totals = zeroTotals();
    this.sent = 0;
    this.startedAtMs = nowMs;
  }

  /** JSON-safe copy for a checkpoint (src/state/): a report in progress survives a restart. */
  toSnapshot(): MeterSnapshot {
    const hdr = {} as Record<WindowedFigure, string>;
    for (const f of WINDOWED) hdr[f] = this.hdr[f].encode();
    return { v: 1, totals: structuredClone(this.totals), hdr, sent: this.sent, startedAtMs: this.startedAtMs };
  }

  /** Put back what toSnapshot() saved (replacing what this meter holds). */
  restore(snap: MeterSnapshot): void {
    if (snap.v !== 1 || !snap.totals || !snap.hdr) throw new RangeError('Meter: not a meter snapshot');
    const decoded = WINDOWED.map((f) => [f, HdrTotal.decode(snap.hdr[f])] as const);
    for (const [f, h] of decoded) {
      this.hdr[f].reset();
      this.hdr[f].add(h);
    }
    this.totals = structuredClone(snap.totals);
    this.sent = snap.sent;
    this.startedAtMs = snap.startedAtMs;
  }
}

/** What a checkpoint keeps of a Meter. */
export interface MeterSnapshot {
  v: 1;
  totals: RecorderTotals;
  hdr: Record<WindowedFigure, string>;
  sent: number;
  startedAtMs: number;
}

export class Recorder {
  readonly metrics: TrafficMetrics;
  private readonly series = new Map<string, ScenarioSeries>();
  private readonly sloTtft: number;
  private readonly sloTpot: number;
  private readonly sloE2e: number;
  readonly windows: Record<WindowedFigure, HdrWindow>;
  readonly totalsHdr: Record<WindowedFigure, HdrTotal>;
  readonly totals: RecorderTotals = { requests: 0, ok: 0, good: 0, dropped: 0, errors: {}, inputTokens: 0, outputTokens: 0 };
  private inFlight = 0;
  /** Open meters (steps, mode runs); each sees every figure recorded while it is open. */
  private meters: Meter[] = [];
  private readonly clock: Clock;
  /** Scenario names come from config or a replay file, models from the target: bounded (extra values → `other`). */
  private readonly scenarioLabel: BoundedLabel;
  private readonly modelLabel: BoundedLabel;

  constructor(registry: Registry, opts: { slo: SloConfig; windowMs: number; clock: Clock; maxLabelValues?: number; onLabelFold?: (label: string, value: string, max: number) => void }) {
    const maxLabels = opts.maxLabelValues ?? DEFAULT_MAX_LABEL_VALUES;
    this.scenarioLabel = new BoundedLabel('scenario', maxLabels, undefined, opts.onLabelFold);
    this.modelLabel = new BoundedLabel('model', maxLabels, undefined, opts.onLabelFold);
    this.metrics = new TrafficMetrics(registry, opts.slo);
    this.sloTtft = opts.slo.ttftMs / 1000;
    this.sloTpot = opts.slo.tpotMs / 1000;
    this.sloE2e = opts.slo.e2eMs / 1000;
    this.clock = opts.clock;
    const now = () => opts.clock.wallMs();
    const mk = () => new HdrWindow({ windowMs: opts.windowMs, slices: 6, now });
    this.windows = { ttft: mk(), itl: mk(), tpot: mk(), e2e: mk(), corrected: mk(), scheduleLag: mk() };
    this.totalsHdr = { ttft: new HdrTotal(), itl: new HdrTotal(), tpot: new HdrTotal(), e2e: new HdrTotal(), corrected: new HdrTotal(), scheduleLag: new HdrTotal() };
    this.metrics.inFlight.set(0);
  }

  /** Bind (once) the label children of a scenario. Names and models past the label bound share the `other` series. */
  scenario(scenarioName: string, endpoint: Endpoint, modelName: string): ScenarioSeries {
    const name = this.scenarioLabel.value(scenarioName);
    const model = this.modelLabel.value(modelName);
    const key = `${name}\u0000${endpoint}\u0000${model}`;
    let s = this.series.get(key);
    if (!s) {
      s = new ScenarioSeries(this.metrics, name, endpoint, model);
      this.series.set(key, s);
    }
    return s;
  }

  /** Open a meter: from now on it sees every request recorded, until closeMeter(). */
  openMeter(): Meter {
    const m = new Meter(this.clock.wallMs());
    this.attachMeter(m);
    return m;
  }

  /** Attach a meter (again) after closeMeter(); idempotent. */
  attachMeter(m: Meter): void {
    if (!this.meters.includes(m)) this.meters = [...this.meters, m];
  }

  closeMeter(m: Meter): void {
    this.meters = this.meters.filter((x) => x !== m);
  }

  /**
   * The run's totals and all-time histograms, JSON-safe, for a checkpoint
   * (src/state/). Prometheus counters are NOT part of it: after a restart they
   * start at zero, which Prometheus reads as a process restart (a restored
   * value a few minutes older than the last scrape would read as a reset and
   * count everything again).
   */
  toSnapshot(): RecorderSnapshot {
    const hdr = {} as Record<WindowedFigure, string>;
    for (const f of WINDOWED) hdr[f] = this.totalsHdr[f].encode();
    return { v: 1, totals: structuredClone(this.totals), hdr };
  }

  /** Adds a snapshot's totals and histograms to this recorder's (call before traffic starts). */
  restore(snap: RecorderSnapshot): void {
    if (snap.v !== 1 || !snap.totals || !snap.hdr) throw new RangeError('Recorder: not a recorder snapshot');
    const decoded = WINDOWED.map((f) => [f, HdrTotal.decode(snap.hdr[f])] as const);
    const t = this.totals;
    const s = snap.totals;
    t.requests += s.requests;
    t.ok += s.ok;
    t.good += s.good;
    t.dropped += s.dropped;
    t.inputTokens += s.inputTokens;
    t.outputTokens += s.outputTokens;
    for (const [k, n] of Object.entries(s.errors) as [ErrorClass, number][]) t.errors[k] = (t.errors[k] ?? 0) + n;
    for (const [f, h] of decoded) this.totalsHdr[f].add(h);
  }

  setTargetRate(rps: number): void {
    this.metrics.targetRate.set(rps);
  }

  started(): void {
    this.inFlight++;
    this.metrics.inFlight.set(this.inFlight);
    for (const m of this.meters) m.sent++;
  }

  /** Requests started that will never be recorded (a traffic worker that died with them in flight): out of the in-flight gauge. */
  abandoned(n: number): void {
    this.inFlight = Math.max(0, this.inFlight - n);
    this.metrics.inFlight.set(this.inFlight);
  }

  /** Output tokens seen as their chunks arrive (throughput counts tokens when they arrive). */
  tokensArrived(s: ScenarioSeries, n: number): void {
    s.outputTokens.inc(n);
    this.totals.outputTokens += n;
    for (const m of this.meters) m.totals.outputTokens += n;
  }

  dropped(s: ScenarioSeries): void {
    s.dropped.inc();
    this.totals.dropped++;
    for (const m of this.meters) m.totals.dropped++;
  }

  /**
   * A finished request. `liveTokens` is what tokensArrived() already counted
   * for it; the difference to the final count is added now.
   */
  record(s: ScenarioSeries, r: RequestRecord, liveTokens: number): void {
    this.inFlight--;
    this.metrics.inFlight.set(this.inFlight);
    this.totals.requests++;
    for (const m of this.meters) m.totals.requests++;
    s.outcome(r.outcome).inc();

    const lag = Number(r.sentAt - r.scheduledAt) / 1e9;
    s.scheduleLag.observe(lag);
    this.observe('scheduleLag', lag);

    s.inputTokens.inc(r.inputTokens);
    this.totals.inputTokens += r.inputTokens;
    for (const m of this.meters) m.totals.inputTokens += r.inputTokens;
    const missing = r.outputTokens - liveTokens;
    if (missing > 0) this.tokensArrived(s, missing);
    if (r.outputTokens > 0 || r.outcome === 'ok') s.source(r.tokenSource).inc();
    if (r.tokenizerOutputTokens !== undefined && r.outputTokens > 0) {
      this.metrics.tokenizerError.labels({ scenario: s.scenario, endpoint: s.endpoint, model: s.model }).set((r.tokenizerOutputTokens - r.outputTokens) / r.outputTokens);
    }

    const phases = r.phases;
    if (phases) {
      for (const p of REQUEST_PHASES) {
        const v = phases[p];
        if (v !== undefined) s.phases[p].observe(v / 1e9);
      }
    }
    // A sampled request (in the request log) carries its trace id into the TTFT and E2E buckets as an exemplar.
    const exemplar = r.sampled ? r.traceId : undefined;

    // Corrected latency (intended send time to the end) for every request that ends, failed and timed out too:
    // a failure is time the user waited, and leaving it out would hide coordinated omission behind errors.
    const end = r.outcome === 'ok' ? (r.lastTokenAt ?? r.endedAt) : r.endedAt;
    const corrected = Number(end - r.scheduledAt) / 1e9;
    s.corrected.observe(corrected);
    this.observe('corrected', corrected);

    if (r.outcome !== 'ok') {
      s.error(r.outcome).inc();
      this.totals.errors[r.outcome] = (this.totals.errors[r.outcome] ?? 0) + 1;
      for (const m of this.meters) m.totals.errors[r.outcome] = (m.totals.errors[r.outcome] ?? 0) + 1;
      return;
    }
    this.totals.ok++;
    for (const m of this.meters) m.totals.ok++;

    const e2e = Number(end - r.sentAt) / 1e9;
    if (exemplar) observeWithExemplar(this.metrics.e2e, s.labels, e2e, exemplar);
    else s.e2e.observe(e2e);
    this.observe('e2e', e2e);

    let ttft: number | undefined;
    if (r.firstTokenAt !== undefined) {
      ttft = Number(r.firstTokenAt - r.sentAt) / 1e9;
      if (exemplar) observeWithExemplar(this.metrics.ttft, s.labels, ttft, exemplar);
      else s.ttft.observe(ttft);
      this.observe('ttft', ttft);
    }
    for (const gap of r.tokenGapsNs) {
      const g = gap / 1e9;
      s.itl.observe(g);
      this.observe('itl', g);
    }
    let tpot: number | undefined;
    if (ttft !== undefined && r.outputTokens > 1) {
      tpot = (e2e - ttft) / (r.outputTokens - 1);
      s.tpot.observe(tpot);
      this.observe('tpot', tpot);
    }
    if (r.stream && r.contentChunks > 0 && r.outputTokens > 0) s.tokensPerChunk.observe(r.outputTokens / r.contentChunks);

    // Goodput: a request with no TTFT (not streamed, embeddings, moderations) has no TPOT either and is judged by
    // E2E alone; a failed request is never good (it returned above).
    const good = e2e <= this.sloE2e && (ttft === undefined || ttft <= this.sloTtft) && (tpot === undefined || tpot <= this.sloTpot);
    if (good) {
      s.good.inc();
      this.totals.good++;
      for (const m of this.meters) m.totals.good++;
    }
  }

  private observe(fig: WindowedFigure, seconds: number): void {
    this.windows[fig].record(seconds);
    this.totalsHdr[fig].record(seconds);
    for (const m of this.meters) m.hdr[fig].record(seconds);
  }

  get inFlightNow(): number {
    return this.inFlight;
  }

  /** Rolling-window percentiles and run totals, JSON-safe. */
  snapshot(): { window: Record<WindowedFigure, ReturnType<HdrWindow['snapshot']>>; totals: RecorderTotals; inFlight: number } {
    const window = {} as Record<WindowedFigure, ReturnType<HdrWindow['snapshot']>>;
    for (const f of WINDOWED) window[f] = this.windows[f].snapshot();
    return { window, totals: structuredClone(this.totals), inFlight: this.inFlight };
  }
}
