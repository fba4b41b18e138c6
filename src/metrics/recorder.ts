/**
 * The only writer of traffic figures. Takes finished RequestRecords (and live
 * token arrivals) and writes them once into the Prometheus registry and the
 * HDR windows. Keeps no per-request object after recording.
 */
import type { Counter, Histogram, Registry } from 'prom-client';

type L = 'scenario' | 'endpoint' | 'model';
type BoundHistogram = Histogram.Internal<L>;
type BoundCounter = Counter.Internal;
import type { SloConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import type { Endpoint, ErrorClass, Outcome, RequestRecord } from '../types.js';
import { TrafficMetrics } from './traffic-metrics.js';
import { HdrWindow, HdrTotal } from './hdr-window.js';

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
  private readonly outcomes = new Map<Outcome, BoundCounter>();
  private readonly errors = new Map<ErrorClass, BoundCounter>();
  private readonly sources = new Map<string, BoundCounter>();

  constructor(private readonly m: TrafficMetrics, readonly scenario: string, readonly endpoint: Endpoint, readonly model: string) {
    const l = { scenario, endpoint, model };
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

/** Percentile windows kept for the analyzer, /api/status and reports. */
export const WINDOWED = ['ttft', 'itl', 'tpot', 'e2e', 'corrected', 'scheduleLag'] as const;
export type WindowedFigure = (typeof WINDOWED)[number];

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

  constructor(registry: Registry, opts: { slo: SloConfig; windowMs: number; clock: Clock }) {
    this.metrics = new TrafficMetrics(registry, opts.slo);
    this.sloTtft = opts.slo.ttftMs / 1000;
    this.sloTpot = opts.slo.tpotMs / 1000;
    this.sloE2e = opts.slo.e2eMs / 1000;
    const now = () => opts.clock.wallMs();
    const mk = () => new HdrWindow({ windowMs: opts.windowMs, slices: 6, now });
    this.windows = { ttft: mk(), itl: mk(), tpot: mk(), e2e: mk(), corrected: mk(), scheduleLag: mk() };
    this.totalsHdr = { ttft: new HdrTotal(), itl: new HdrTotal(), tpot: new HdrTotal(), e2e: new HdrTotal(), corrected: new HdrTotal(), scheduleLag: new HdrTotal() };
    this.metrics.inFlight.set(0);
  }

  /** Bind (once) the label children of a scenario. */
  scenario(name: string, endpoint: Endpoint, model: string): ScenarioSeries {
    const key = `${name}\u0000${endpoint}\u0000${model}`;
    let s = this.series.get(key);
    if (!s) {
      s = new ScenarioSeries(this.metrics, name, endpoint, model);
      this.series.set(key, s);
    }
    return s;
  }

  setTargetRate(rps: number): void {
    this.metrics.targetRate.set(rps);
  }

  started(): void {
    this.inFlight++;
    this.metrics.inFlight.set(this.inFlight);
  }

  /** Output tokens seen as their chunks arrive (throughput counts tokens when they arrive). */
  tokensArrived(s: ScenarioSeries, n: number): void {
    s.outputTokens.inc(n);
    this.totals.outputTokens += n;
  }

  dropped(s: ScenarioSeries): void {
    s.dropped.inc();
    this.totals.dropped++;
  }

  /**
   * A finished request. `liveTokens` is what tokensArrived() already counted
   * for it; the difference to the final count is added now.
   */
  record(s: ScenarioSeries, r: RequestRecord, liveTokens: number): void {
    this.inFlight--;
    this.metrics.inFlight.set(this.inFlight);
    this.totals.requests++;
    s.outcome(r.outcome).inc();

    const lag = Number(r.sentAt - r.scheduledAt) / 1e9;
    s.scheduleLag.observe(lag);
    this.observe('scheduleLag', lag);

    s.inputTokens.inc(r.inputTokens);
    this.totals.inputTokens += r.inputTokens;
    const missing = r.outputTokens - liveTokens;
    if (missing > 0) this.tokensArrived(s, missing);
    if (r.outputTokens > 0 || r.outcome === 'ok') s.source(r.tokenSource).inc();
    if (r.tokenizerOutputTokens !== undefined && r.outputTokens > 0) {
      this.metrics.tokenizerError.labels({ scenario: s.scenario, endpoint: s.endpoint, model: s.model }).set((r.tokenizerOutputTokens - r.outputTokens) / r.outputTokens);
    }

    if (r.outcome !== 'ok') {
      s.error(r.outcome).inc();
      this.totals.errors[r.outcome] = (this.totals.errors[r.outcome] ?? 0) + 1;
      return;
    }
    this.totals.ok++;

    const end = r.lastTokenAt ?? r.endedAt;
    const e2e = Number(end - r.sentAt) / 1e9;
    s.e2e.observe(e2e);
    this.observe('e2e', e2e);
    const corrected = Number(end - r.scheduledAt) / 1e9;
    s.corrected.observe(corrected);
    this.observe('corrected', corrected);

    let ttft: number | undefined;
    if (r.firstTokenAt !== undefined) {
      ttft = Number(r.firstTokenAt - r.sentAt) / 1e9;
      s.ttft.observe(ttft);
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

    const good = e2e <= this.sloE2e && (ttft === undefined || ttft <= this.sloTtft) && (tpot === undefined || tpot <= this.sloTpot);
    if (good) {
      s.good.inc();
      this.totals.good++;
    }
  }

  private observe(fig: WindowedFigure, seconds: number): void {
    this.windows[fig].record(seconds);
    this.totalsHdr[fig].record(seconds);
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
