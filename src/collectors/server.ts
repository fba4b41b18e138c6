/**
 * Target-server collector: scrapes the inference server's own /metrics
 * (undici, timeout, size limit), parses it with a real parser, detects the
 * dialect by metric names (the registered dialects, ./server-dialects.ts) and
 * normalises what it finds. Labels: dialect, and model (from the server's
 * model label where it has one; at most `maxModels` distinct values, the rest
 * pooled as model="other"). Where a server exposes several label sets per
 * model (vLLM per engine, Triton per version), counts are summed, ratios take
 * the fullest (max).
 *
 *   llmsoak_server_info{dialect}                         1 for the detected dialect
 *   llmsoak_server_requests_waiting / _running            gauges (sum)
 *   llmsoak_server_kv_cache_usage_ratio                   gauge 0–1 (max)
 *   llmsoak_server_preemptions_total                      counter
 *   llmsoak_server_prompt_tokens_total / _generation_tokens_total   counters
 *   llmsoak_server_time_to_first_token_mean_seconds       gauge: mean server-side TTFT of the
 *   llmsoak_server_inter_token_latency_mean_seconds       requests observed during the last scrape
 *                                                         interval, Δsum/Δcount of the server's
 *                                                         histogram; ABSENT when none was observed
 *                                                         (never a stale or invented value)
 *   llmsoak_server_prefix_cache_hit_ratio                 Δhits/Δqueries over the interval (vLLM),
 *                                                         or the server's own hit-rate gauge (SGLang)
 * Counters are fed by per-series increments with reset detection: when the
 * server restarts, ours keep growing from where they were (the first scrape
 * mirrors the server's totals). Unknown dialect: nothing is normalised,
 * last_success 0, one log line. A failed scrape removes the gauges (no stale
 * queue or KV figure while the server is unreachable); counters stay.
 */
import type { Counter } from 'prom-client';
import { Agent } from 'undici';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';
import { DeltaTracker, MonotonicCounter, SnapshotGauge, getOrCreateCounter, getOrCreateGauge, labelKey } from './metrics-util.js';
import { fetchExposition, parseExposition, type Sample } from './prom-text.js';
import { isIdentityName, serverIdentity, type ServerIdentity } from './server-identity.js';
import { BoundedLabel } from '../metrics/bounded-label.js';
import { DIALECTS, DIALECT_SPECS, WANTED_NAMES, detectDialect, type Dialect, type MeanSource, type RatioSource, type Source } from './server-dialects.js';

export interface ServerCollectorOptions extends PeriodicOptions {
  url: string;
  maxBytes: number;
  maxModels: number;
  /** 'auto' detects by metric names; a dialect name forces it. */
  dialect: 'auto' | Dialect;
  /** After every successful scrape: the server's start time and version labels (target-change detection). */
  onIdentity?: (id: ServerIdentity) => void;
}

type L = 'dialect' | 'model';
type Labels = Partial<Record<L, string>>;

const MODEL_LABEL_MAX = 128;

/** The server's model label values, bounded (first `max` kept, the rest `other`); absent stays absent. */
class ModelLimiter {
  private readonly bound: BoundedLabel;
  constructor(max: number) {
    this.bound = new BoundedLabel('model', max, MODEL_LABEL_MAX);
  }
  label(v: string | undefined): string | undefined {
    if (v === undefined || v === '') return undefined;
    return this.bound.value(v);
  }
  clear(): void {
    this.bound.clear();
  }
}

function matches(s: Sample, src: Source): boolean {
  if (src.match === undefined) return true;
  for (const [k, v] of Object.entries(src.match)) if (s.labels[k] !== v) return false;
  return true;
}

export class ServerCollector extends PeriodicCollector {
  private readonly opts: ServerCollectorOptions;
  private readonly dispatcher: Agent;
  private readonly info: SnapshotGauge<'dialect'>;
  private readonly waiting: SnapshotGauge<L>;
  private readonly running: SnapshotGauge<L>;
  private readonly kv: SnapshotGauge<L>;
  private readonly ttft: SnapshotGauge<L>;
  private readonly itl: SnapshotGauge<L>;
  private readonly prefixHit: SnapshotGauge<L>;
  private readonly preemptions: MonotonicCounter<L>;
  private readonly promptTokens: MonotonicCounter<L>;
  private readonly generationTokens: MonotonicCounter<L>;
  private readonly counterDeltas = new DeltaTracker();
  private readonly meanDeltas = new DeltaTracker();
  private readonly models: ModelLimiter;
  private dialect: Dialect | undefined;

  constructor(opts: ServerCollectorOptions) {
    super('server', opts);
    this.opts = opts;
    this.models = new ModelLimiter(opts.maxModels);
    this.dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 2 });
    const r = opts.registry;
    const labels: readonly L[] = ['dialect', 'model'];
    const g = (name: string, help: string): SnapshotGauge<L> => new SnapshotGauge(getOrCreateGauge(r, name, help, labels));
    const c = (name: string, help: string): MonotonicCounter<L> => new MonotonicCounter(getOrCreateCounter(r, name, help, labels) as Counter<L>);
    this.info = new SnapshotGauge(getOrCreateGauge(r, 'llmsoak_server_info', 'The target server dialect detected from its /metrics: always 1.', ['dialect']));
    this.waiting = g('llmsoak_server_requests_waiting', 'Requests queued in the target server, waiting to be scheduled.');
    this.running = g('llmsoak_server_requests_running', 'Requests the target server is running now (in its batch).');
    this.kv = g('llmsoak_server_kv_cache_usage_ratio', 'KV-cache in use in the target server, 0-1 (the fullest engine).');
    this.ttft = g('llmsoak_server_time_to_first_token_mean_seconds', 'Mean server-side time to first token of the requests observed during the last scrape interval, seconds.');
    this.itl = g('llmsoak_server_inter_token_latency_mean_seconds', 'Mean server-side inter-token latency observed during the last scrape interval, seconds.');
    this.prefixHit = g('llmsoak_server_prefix_cache_hit_ratio', 'Share of prefix-cache lookups (tokens) that hit during the last scrape interval, 0-1.');
    this.preemptions = c('llmsoak_server_preemptions_total', 'Requests the target server preempted (vLLM) or retracted (SGLang).');
    this.promptTokens = c('llmsoak_server_prompt_tokens_total', 'Prompt (prefill) tokens the target server processed.');
    this.generationTokens = c('llmsoak_server_generation_tokens_total', 'Tokens the target server generated.');
  }

  /** Dialect detected at the last successful scrape. */
  get detectedDialect(): Dialect | undefined {
    return this.dialect;
  }

  /** Server-side generated tokens counted so far (our monotonic total). */
  generationTokensTotal(): number | undefined {
    return this.dialect === undefined ? undefined : this.generationTokens.total();
  }

  private clearGauges(): void {
    for (const g of [this.waiting, this.running, this.kv, this.ttft, this.itl, this.prefixHit]) g.clear();
    this.info.clear();
  }

  protected async collect(signal: AbortSignal): Promise<RunResult> {
    let text: string;
    try {
      text = await fetchExposition(this.opts.url, {
        signal,
        timeoutMs: this.timeoutMs,
        maxBytes: this.opts.maxBytes,
        dispatcher: this.dispatcher,
      });
    } catch (err) {
      // an unreachable server has no current queue or KV figure: drop the gauges
      // (counters and the delta state stay, so the next success continues them)
      if (!signal.aborted) this.clearGauges();
      throw err;
    }
    if (signal.aborted) return fail('aborted');
    const onIdentity = this.opts.onIdentity;
    const parsed = parseExposition(text, (n) => WANTED_NAMES.has(n) || (onIdentity !== undefined && isIdentityName(n)));
    onIdentity?.(serverIdentity(parsed.samples));
    const dialect = this.opts.dialect === 'auto' ? detectDialect(parsed.names) : this.opts.dialect;
    if (dialect === undefined) {
      if (this.dialect !== undefined) this.clearGauges();
      this.dialect = undefined;
      return fail(`no known LLM server metrics (${DIALECTS.join(', ')}) among ${parsed.names.size} metric names at ${this.opts.url}`);
    }
    if (dialect !== this.dialect) {
      if (this.dialect !== undefined) this.log.info({ from: this.dialect, to: dialect }, 'target server dialect changed');
      else this.log.debug({ dialect }, 'target server dialect detected');
      this.clearGauges();
      this.counterDeltas.clear();
      this.meanDeltas.clear();
      this.models.clear();
      this.dialect = dialect;
    }
    this.normalise(dialect, parsed.samples);
    return OK;
  }

  private labelsFor(dialect: Dialect, s: Sample): Labels {
    const modelLabel = DIALECT_SPECS[dialect].modelLabel;
    const model = this.models.label(modelLabel === undefined ? undefined : s.labels[modelLabel]);
    return model === undefined ? { dialect } : { dialect, model };
  }

  private normalise(dialect: Dialect, samples: Map<string, Sample[]>): void {
    const spec = DIALECT_SPECS[dialect];
    const pick = (src: Source): Sample[] => (samples.get(src.name) ?? []).filter((s) => matches(s, src) && Number.isFinite(s.value));
    const firstNamed = (srcs: readonly Source[]): { name: string; list: Sample[] } => {
      for (const src of srcs) {
        const got = pick(src);
        if (got.length > 0) return { name: src.name, list: got };
      }
      return { name: '', list: [] };
    };
    const first = (srcs: readonly Source[]): Sample[] => firstNamed(srcs).list;
    /** Per-model aggregation of gauge samples. */
    const aggregate = (list: Sample[], agg: 'sum' | 'max' | 'mean'): Map<string, { labels: Labels; v: number; n: number }> => {
      const out = new Map<string, { labels: Labels; v: number; n: number }>();
      for (const s of list) {
        const labels = this.labelsFor(dialect, s);
        const key = labelKey(labels);
        const cur = out.get(key);
        if (cur === undefined) out.set(key, { labels, v: s.value, n: 1 });
        else {
          cur.v = agg === 'max' ? Math.max(cur.v, s.value) : cur.v + s.value;
          cur.n++;
        }
      }
      if (agg === 'mean') for (const e of out.values()) e.v /= e.n;
      return out;
    };
    const setGauge = (g: SnapshotGauge<L>, list: Sample[], agg: 'sum' | 'max' | 'mean', clamp01 = false): void => {
      for (const e of aggregate(list, agg).values()) g.set(e.labels, clamp01 ? Math.min(1, Math.max(0, e.v)) : e.v);
    };

    this.info.set({ dialect }, 1);
    this.info.commit();

    setGauge(this.waiting, first(spec.waiting), 'sum');
    setGauge(this.running, first(spec.running), 'sum');

    for (const src of spec.kvUsage) {
      if ('name' in src) {
        const got = pick(src);
        if (got.length === 0) continue;
        setGauge(this.kv, got, 'max', true);
        break;
      }
      const ratio = this.ratio(dialect, src, pick);
      if (ratio.size === 0) continue;
      for (const e of ratio.values()) this.kv.set(e.labels, Math.min(1, Math.max(0, e.v)));
      break;
    }

    const counter = (c: MonotonicCounter<L>, srcs: readonly Source[]): void => {
      const { name, list } = firstNamed(srcs);
      if (list.length === 0) return;
      const inc = new Map<string, { labels: Labels; d: number }>();
      for (const s of list) {
        const d = this.counterDeltas.delta(`${name}/${labelKey(s.labels)}`, s.value, 'full') ?? 0;
        const labels = this.labelsFor(dialect, s);
        const key = labelKey(labels);
        const e = inc.get(key);
        if (e === undefined) inc.set(key, { labels, d });
        else e.d += d;
      }
      for (const e of inc.values()) c.add(e.labels, e.d);
    };
    counter(this.preemptions, spec.preemptions);
    counter(this.promptTokens, spec.promptTokens);
    counter(this.generationTokens, spec.generationTokens);

    this.mean(this.ttft, dialect, spec.ttft, samples, 'ttft');
    this.mean(this.itl, dialect, spec.itl, samples, 'itl');
    const hitCounters = this.mean(
      this.prefixHit,
      dialect,
      spec.prefixCache.map((p) => ({ sum: p.hits, count: p.queries })),
      samples,
      'prefix',
      true,
    );
    if (!hitCounters) {
      const gauge = first(spec.prefixCacheGauge);
      if (gauge.length > 0) setGauge(this.prefixHit, gauge, 'mean', true);
    }

    for (const g of [this.waiting, this.running, this.kv, this.ttft, this.itl, this.prefixHit]) g.commit();
    this.counterDeltas.sweep();
    this.meanDeltas.sweep();
  }

  private ratio(dialect: Dialect, src: RatioSource, pick: (s: Source) => Sample[]): Map<string, { labels: Labels; v: number }> {
    const num = new Map<string, { labels: Labels; v: number }>();
    const den = new Map<string, number>();
    for (const s of pick(src.num)) {
      const labels = this.labelsFor(dialect, s);
      const key = labelKey(labels);
      const e = num.get(key);
      if (e === undefined) num.set(key, { labels, v: s.value });
      else e.v += s.value;
    }
    for (const s of pick(src.den)) {
      const key = labelKey(this.labelsFor(dialect, s));
      den.set(key, (den.get(key) ?? 0) + s.value);
    }
    const out = new Map<string, { labels: Labels; v: number }>();
    for (const [key, e] of num) {
      const d = den.get(key);
      if (d !== undefined && d > 0) out.set(key, { labels: e.labels, v: e.v / d });
    }
    return out;
  }

  /**
   * Δsum/Δcount per model over the scrape interval, from the first source
   * present. Sum and count series are paired by their label set. Nothing is
   * set when no new observation arrived (the gauge then disappears).
   * Returns whether a source was present at all.
   */
  private mean(g: SnapshotGauge<L>, dialect: Dialect, srcs: readonly MeanSource[], samples: Map<string, Sample[]>, tag: string, clamp01 = false): boolean {
    for (const src of srcs) {
      const sums = samples.get(src.sum) ?? [];
      const counts = samples.get(src.count) ?? [];
      if (counts.length === 0) continue;
      const sumByKey = new Map<string, number>();
      for (const s of sums) sumByKey.set(labelKey(s.labels), s.value);
      const acc = new Map<string, { labels: Labels; ds: number; dc: number }>();
      for (const c of counts) {
        const k = labelKey(c.labels);
        const sv = sumByKey.get(k);
        if (sv === undefined) continue;
        const dc = this.meanDeltas.delta(`${tag}/c/${k}`, c.value, 'skip');
        const ds = this.meanDeltas.delta(`${tag}/s/${k}`, sv, 'skip');
        const labels = this.labelsFor(dialect, c);
        const key = labelKey(labels);
        let e = acc.get(key);
        if (e === undefined) acc.set(key, (e = { labels, ds: 0, dc: 0 }));
        if (dc !== undefined && ds !== undefined) {
          e.ds += ds;
          e.dc += dc;
        }
      }
      for (const e of acc.values()) {
        if (e.dc > 0) {
          const v = e.ds / e.dc;
          g.set(e.labels, clamp01 ? Math.min(1, Math.max(0, v)) : v);
        }
      }
      return true;
    }
    return false;
  }

  protected override async dispose(): Promise<void> {
    await this.dispatcher.close();
  }
}
