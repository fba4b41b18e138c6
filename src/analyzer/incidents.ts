/**
 * Incidents and recovery times. For every incident the analyzer sees (an
 * error storm, the target down, a latency excursion above the baseline) it
 * records, from the series themselves:
 *   onset      the first sample where the condition held, looking back from
 *              the detection through the per-step series (not the detection)
 *   detection  when the hint fired
 *   recovery   the first sample back within the band (error ratio at or
 *              under analyzer.thresholds.errorRatio; latency median at or
 *              under baseline × (1 + latencyIncrease)) after the last one
 *              outside it, once `recoverySteps` samples in a row are inside
 * and exports llmsoak_incident_time_to_detect_seconds{kind},
 * llmsoak_incident_time_to_recover_seconds{kind} (histograms) and
 * llmsoak_incidents_total{kind}.
 *
 * It is a HintSink: the analyzer hands it every hint after each evaluation.
 * The per-step series use a short lookback (2 steps) so that onset and
 * recovery are precise to a couple of steps, unlike the rules' windows.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { IncidentEntry } from './events.js';
import type { Hint } from './hint.js';
import type { Baseline, BaselineFigure, Thresholds } from './rule.js';
import type { Sample, SeriesSource } from './source.js';
import { median } from './stats.js';

export type IncidentKind = IncidentEntry['kind'];
export const INCIDENT_KINDS: readonly IncidentKind[] = ['errors', 'target_down', 'latency'];

export const incidentsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    recoverySteps: { description: 'Samples in a row back within the band before an incident counts as recovered.', type: 'integer', minimum: 1, maximum: 1000, default: 3 },
  },
} as const;

/** The validated `analyzer.incidents` section, derived from the schema (defaults applied). */
export type IncidentsConfig = FromSchema<typeof incidentsConfigSchema>;

const FIGURE_METRIC: Record<BaselineFigure, string> = {
  ttft: 'llmsoak_time_to_first_token_seconds',
  itl: 'llmsoak_inter_token_latency_seconds',
  tpot: 'llmsoak_time_per_output_token_seconds',
};

const DOWN_CLASSES = new Set(['connect', 'timeout_connect']);
const MAX_INCIDENTS = 200;

/** Which incident a hint is, if any. */
export function incidentKind(h: Pick<Hint, 'rule' | 'cause' | 'labels'>): IncidentKind | undefined {
  if (h.rule === 'error_storm') return h.cause === 'target_unreachable' || DOWN_CLASSES.has(h.labels?.class ?? '') ? 'target_down' : 'errors';
  if (h.rule === 'degradation') return 'latency';
  return undefined;
}

interface Incident {
  kind: IncidentKind;
  cause: string;
  figure?: BaselineFigure;
  onsetMs: number;
  detectedMs: number;
  recoveredMs?: number;
  peak: number;
  band: number;
}

export class IncidentTracker {
  private readonly log: Logger;
  private readonly open = new Map<IncidentKind, Incident>();
  private readonly list: Incident[] = [];
  /** Recovery time of the last closed incident of each kind: a hint that fired before it is that incident's. */
  private readonly closedUntil = new Map<IncidentKind, number>();
  private readonly ttd: Histogram<'kind'>;
  private readonly ttr: Histogram<'kind'>;
  private readonly count: Counter<'kind'>;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: {
      src: SeriesSource;
      thresholds: Thresholds;
      baseline: () => Baseline | undefined;
      /** The rules' window, s: how far back an onset is looked for (twice this). */
      windowSec: number;
      cfg: IncidentsConfig;
      registry: Registry;
      logger: Logger;
    },
  ) {
    this.log = o.logger.child({ component: 'incidents' });
    const buckets = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
    const registers = [o.registry];
    this.ttd = new Histogram({
      name: 'llmsoak_incident_time_to_detect_seconds',
      help: 'Incidents: time from the onset (first sample where the condition held) to the hint firing.',
      labelNames: ['kind'],
      buckets,
      registers,
    });
    this.ttr = new Histogram({
      name: 'llmsoak_incident_time_to_recover_seconds',
      help: 'Incidents: time from the onset to the first sample back within the baseline band.',
      labelNames: ['kind'],
      buckets,
      registers,
    });
    this.count = new Counter({ name: 'llmsoak_incidents_total', help: 'Incidents the analyzer saw (error storm, target down, latency excursion).', labelNames: ['kind'], registers });
    for (const k of INCIDENT_KINDS) this.count.labels(k).inc(0);
  }

  /** HintSink: every hint after each evaluation. Work is queued (it reads the source) and never throws. */
  send(hints: Hint[], now: Date): Promise<void> {
    this.queue = this.queue
      .then(() => this.update(hints, now))
      .catch((err: unknown) => {
        this.log.warn(`incident bookkeeping failed: ${errorMessage(err)}`);
      });
    return this.queue;
  }

  /** Waits for queued work (tests, shutdown). */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async update(hints: Hint[], now: Date): Promise<void> {
    for (const h of hints) {
      if (h.state !== 'firing') continue;
      const kind = incidentKind(h);
      if (kind === undefined || this.open.has(kind)) continue;
      const firedMs = (h.firedAt ?? h.activeAt).getTime();
      if (firedMs <= (this.closedUntil.get(kind) ?? -Infinity)) continue;
      await this.begin(kind, h, firedMs);
    }
    for (const inc of [...this.open.values()]) await this.checkRecovery(inc, now.getTime());
  }

  private async begin(kind: IncidentKind, h: Hint, firedMs: number): Promise<void> {
    const figure = kind === 'latency' ? (h.labels?.figure as BaselineFigure | undefined) : undefined;
    const band = this.band(kind, figure);
    if (band === undefined) return;
    const inc: Incident = { kind, cause: h.cause, onsetMs: firedMs, detectedMs: firedMs, peak: 0, band, ...(figure ? { figure } : {}) };
    const step = this.o.src.stepSec;
    const points = await this.series(inc, firedMs - (2 * this.o.windowSec + 4 * step) * 1000, firedMs);
    // The run of samples outside the band that ends at (or just before) the detection; one sample inside is a gap, not an end.
    let i = points.length - 1;
    while (i >= 0 && !((points[i] as Sample).v > band)) i--;
    let onset = i;
    for (let j = i; j >= 0; j--) {
      const p = points[j] as Sample;
      if (p.v > band) {
        onset = j;
        inc.peak = Math.max(inc.peak, p.v);
      } else if (!(j > 0 && (points[j - 1] as Sample).v > band)) break;
    }
    if (onset >= 0) inc.onsetMs = (points[onset] as Sample).t;
    this.open.set(kind, inc);
    this.list.push(inc);
    if (this.list.length > MAX_INCIDENTS) this.list.shift();
    const ttd = (inc.detectedMs - inc.onsetMs) / 1000;
    this.count.labels(kind).inc();
    this.ttd.labels(kind).observe(ttd);
    this.log.warn(
      { kind, cause: inc.cause, onset: new Date(inc.onsetMs).toISOString(), timeToDetectSec: ttd },
      `incident ${kind} (${inc.cause}): onset ${new Date(inc.onsetMs).toISOString()}, detected after ${ttd.toFixed(1)} s`,
    );
  }

  private async checkRecovery(inc: Incident, nowMs: number): Promise<void> {
    const points = await this.series(inc, inc.onsetMs - 1, nowMs);
    let last = -1;
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as Sample;
      if (p.v > inc.band) {
        last = i;
        inc.peak = Math.max(inc.peak, p.v);
      }
    }
    const inside = points.length - 1 - last;
    if (inside < this.o.cfg.recoverySteps) return;
    inc.recoveredMs = (points[last + 1] as Sample).t;
    this.open.delete(inc.kind);
    this.closedUntil.set(inc.kind, nowMs);
    const ttr = (inc.recoveredMs - inc.onsetMs) / 1000;
    this.ttr.labels(inc.kind).observe(ttr);
    this.log.info({ kind: inc.kind, cause: inc.cause, timeToRecoverSec: ttr }, `incident ${inc.kind} (${inc.cause}) recovered ${ttr.toFixed(1)} s after its onset`);
  }

  /** Upper edge of the band the figure must return under; undefined without a baseline (latency). */
  private band(kind: IncidentKind, figure: BaselineFigure | undefined): number | undefined {
    if (kind !== 'latency') return this.o.thresholds.errorRatio;
    const base = figure ? this.o.baseline()?.samples[figure] : undefined;
    if (base === undefined || base.length === 0) return undefined;
    return median(base) * (1 + this.o.thresholds.latencyIncrease);
  }

  /** The incident's figure per step in (fromMs, toMs]: error ratio, or the latency median. */
  private async series(inc: Incident, fromMs: number, toMs: number): Promise<Sample[]> {
    const src = this.o.src;
    const windowSec = Math.max(src.stepSec, (toMs - fromMs) / 1000);
    const now = new Date(toMs);
    const opts = { rateWindowSec: 2 * src.stepSec + src.stepSec / 2 };
    if (inc.kind === 'latency') {
      return src.quantileOverTime(0.5, FIGURE_METRIC[inc.figure ?? 'ttft'], windowSec, now, undefined, opts);
    }
    // Increases over the lookback at each step instant, from the raw counters: unlike PromQL's
    // rate(), a series born inside the lookback (an error class's first error) counts from 0,
    // so the first errors of a burst are seen at the first sample, not the second.
    const lookMs = opts.rateWindowSec * 1000;
    const rangeSec = windowSec + opts.rateWindowSec + 2 * src.stepSec;
    const totals = await src.range('llmsoak_requests_total', rangeSec, now);
    const errs = await src.range('llmsoak_request_errors_total{class!="cancelled"}', rangeSec, now);
    const stepMs = src.stepSec * 1000;
    const out: Sample[] = [];
    for (let t = Math.floor(toMs / stepMs) * stepMs; t > fromMs; t -= stepMs) {
      const n = increaseAt(totals, t, lookMs);
      if (n > 0) out.unshift({ t, v: Math.min(1, increaseAt(errs, t, lookMs) / n) });
    }
    return out;
  }

  /** Incidents overlapping [fromMs, toMs], oldest first. */
  entries(fromMs = -Infinity, toMs = Infinity): IncidentEntry[] {
    return this.list
      .filter((i) => i.onsetMs <= toMs && (i.recoveredMs === undefined || i.recoveredMs >= fromMs))
      .map((i) => {
        const what =
          i.kind === 'latency'
            ? `${i.figure ?? 'ttft'} median > ${fmt(i.band)} s (baseline + ${Math.round(this.o.thresholds.latencyIncrease * 100)}%), peak ${fmt(i.peak)} s`
            : `error ratio > ${fmt(i.band)}, peak ${fmt(i.peak)}`;
        return {
          kind: i.kind,
          cause: i.cause,
          onsetAt: new Date(i.onsetMs).toISOString(),
          detectedAt: new Date(i.detectedMs).toISOString(),
          ...(i.recoveredMs !== undefined ? { recoveredAt: new Date(i.recoveredMs).toISOString(), timeToRecoverSec: round3((i.recoveredMs - i.onsetMs) / 1000) } : {}),
          timeToDetectSec: round3((i.detectedMs - i.onsetMs) / 1000),
          detail: what,
        };
      });
  }
}

/** Sum over series of the counter's increase in (t − lookMs, t]; resets count from 0, as does a series born inside the lookback. */
function increaseAt(series: { points: Sample[] }[], t: number, lookMs: number): number {
  let sum = 0;
  for (const s of series) {
    const a = lastAt(s.points, t);
    if (a === undefined) continue;
    const b = lastAt(s.points, t - lookMs);
    sum += b === undefined || a < b ? a : a - b;
  }
  return sum;
}

function lastAt(points: Sample[], t: number): number | undefined {
  let v: number | undefined;
  for (const p of points) {
    if (p.t > t) break;
    v = p.v;
  }
  return v;
}

const round3 = (x: number): number => Number(x.toFixed(3));
const fmt = (x: number): string => String(Number(x.toPrecision(3)));
