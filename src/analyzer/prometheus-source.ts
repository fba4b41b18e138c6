/**
 * SeriesSource over the Prometheus HTTP API, so the analyzer can read a whole
 * fleet (N llmsoak replicas scraped by one Prometheus) instead of its own
 * in-process store. Each method sends the PromQL expression it is defined by
 * (source.ts) to `/api/v1/query` (instant) or `/api/v1/query_range` (one
 * point per step), with the window written in milliseconds.
 *
 *   range(sel, w)             sel[w]                                  instant query, raw points
 *   rate(sel, w)              rate(sel[r])                            range query, steps aligned to multiples of step in (now − w, now]
 *   increase(sel, w)          sum(increase(sel[w]))
 *   quantile(q, m, w)         histogram_quantile(q, sum by (le) (increase(m_bucket{…}[w])))
 *   quantileOverTime(q, m, w) histogram_quantile(q, sum by (le) (rate(m_bucket{…}[r])))  range query
 *   instant(sel)              sel[lookback] (newest point, its own timestamp) ∩ series of `sel` (not stale)
 *   last(sel, agg)            agg(last_over_time(sel[lookback]) and sel)
 *   avgOverTime(sel, w)       avg(avg_over_time(sel[w]))
 *   maxOverTime(sel, w)       max(max_over_time(sel[w]))
 *
 * Prometheus 3 ranges are left-open `(now − w, now]`, as the interface says;
 * Prometheus 2 also includes a sample exactly at `now − w` (a 1-in-a-million
 * coincidence with millisecond timestamps); range() drops it client-side.
 *
 * Absence is never an error, and neither is an unreachable Prometheus: each
 * failure (connection, timeout, HTTP status, `status: "error"`, a response over
 * `maxResponseBytes`, malformed JSON) gives `[]` or `undefined`, which rules
 * report as "insufficient data". One log line when a failure streak starts and
 * one when queries succeed again, never one per query. Only a malformed
 * selector throws (a bug in the rule), exactly as LocalSource does.
 */
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { parseSelector } from './selector.js';
import { withMatchers } from './local-source.js';
import type { Aggregation, Sample, Series, SeriesSource, StepOptions } from './source.js';

/** Where and how to reach Prometheus (config `analyzer.prometheus`). */
export interface PrometheusSourceConfig {
  /** Base URL, e.g. `http://prometheus:9090` (a path prefix such as `/prometheus` is kept). */
  url: string;
  /** Whole-request timeout of one query, ms (also sent as the query's `timeout`). Default 10 000. */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer …`. A secret; never logged. */
  bearerToken?: string;
  /** HTTP basic auth. A secret; never logged. Not together with bearerToken. */
  basicAuth?: { username: string; password: string };
  /** Largest response body read, bytes; a larger one is abandoned (and counted as a failure). Default 16 MiB. */
  maxResponseBytes?: number;
}

export interface PrometheusSourceOptions extends PrometheusSourceConfig {
  /** Resolution of the data: Prometheus' scrape interval for llmsoak, s. Default 15. */
  stepSec?: number;
  /** Default lookback of rate() and quantileOverTime(), s. Default max(60, 4 × stepSec). */
  rateWindowSec?: number;
  /** Lookback of instant(), last(), s. Default 2 × stepSec. */
  lookbackSec?: number;
  /** Most points one range query may return per series (Prometheus refuses more than 11 000). Default 11 000. */
  maxPointsPerSeries?: number;
  logger?: Logger;
  /** undici dispatcher (tests; a proxy agent). Default: undici's global one. */
  dispatcher?: Dispatcher;
}

export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 10_000;
export const DEFAULT_PROMETHEUS_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** What one query cost and how it ended; for /api/status and tests. */
export interface PrometheusSourceStats {
  queries: number;
  failures: number;
  /** Failing since this query (unix ms); undefined while healthy. */
  failingSinceMs: number | undefined;
  lastError: string | undefined;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JObj = { [k: string]: Json };

function isObj(v: Json | undefined): v is JObj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Prometheus sample value: "1.5", "NaN", "+Inf", "-Inf". */
export function parsePromValue(v: Json | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** `[<unix s float>, "<value>"]` → Sample, undefined when malformed. */
function parsePair(p: Json | undefined): Sample | undefined {
  if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number') return undefined;
  return { t: Math.round(p[0] * 1000), v: parsePromValue(p[1]) };
}

function parseLabels(m: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(m)) return out;
  for (const [k, v] of Object.entries(m)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * The `data` of a successful answer as series: a vector gives one point per
 * series, a matrix its points, a scalar one series without labels.
 */
export function parseQueryData(data: Json | undefined): Series[] {
  if (!isObj(data)) throw new Error('answer without data');
  const type = data.resultType;
  const result = data.result;
  if (type === 'scalar') {
    const p = parsePair(result);
    return p ? [{ labels: {}, points: [p] }] : [];
  }
  if (type !== 'vector' && type !== 'matrix') throw new Error(`unexpected result type ${String(type)}`);
  if (!Array.isArray(result)) throw new Error(`result of type ${type} is not a list`);
  const out: Series[] = [];
  for (const s of result) {
    if (!isObj(s)) continue;
    const labels = parseLabels(s.metric);
    const points: Sample[] = [];
    if (type === 'vector') {
      const p = parsePair(s.value);
      if (p) points.push(p);
    } else {
      for (const raw of Array.isArray(s.values) ? s.values : []) {
        const p = parsePair(raw);
        if (p) points.push(p);
      }
    }
    out.push({ labels, points });
  }
  return out;
}

/** A window in seconds as a PromQL duration in whole milliseconds (`300000ms`). */
export function promDuration(sec: number): string {
  return `${Math.max(1, Math.round(sec * 1000))}ms`;
}

/** Unix seconds with millisecond precision, as the API takes them. */
function promTime(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** The Prometheus implementation of SeriesSource. */
export class PrometheusSource implements SeriesSource {
  readonly stepSec: number;
  readonly rateWindowSec: number;
  readonly lookbackSec: number;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxPoints: number;
  private readonly headers: Record<string, string>;
  private readonly log: Logger | undefined;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly st: PrometheusSourceStats = { queries: 0, failures: 0, failingSinceMs: undefined, lastError: undefined };

  constructor(opts: PrometheusSourceOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RangeError(`PrometheusSource: url must be http(s), got ${opts.url}`);
    this.base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    this.stepSec = opts.stepSec ?? 15;
    this.rateWindowSec = opts.rateWindowSec ?? Math.max(60, 4 * this.stepSec);
    this.lookbackSec = opts.lookbackSec ?? 2 * this.stepSec;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;
    this.maxBytes = opts.maxResponseBytes ?? DEFAULT_PROMETHEUS_MAX_RESPONSE_BYTES;
    this.maxPoints = opts.maxPointsPerSeries ?? 11_000;
    for (const [k, v] of Object.entries({
      stepSec: this.stepSec,
      rateWindowSec: this.rateWindowSec,
      lookbackSec: this.lookbackSec,
      timeoutMs: this.timeoutMs,
      maxResponseBytes: this.maxBytes,
      maxPointsPerSeries: this.maxPoints,
    })) {
      if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`PrometheusSource: ${k} must be > 0, got ${v}`);
    }
    this.headers = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
    if (opts.bearerToken !== undefined) this.headers.authorization = `Bearer ${opts.bearerToken}`;
    else if (opts.basicAuth !== undefined) {
      this.headers.authorization = `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}`;
    }
    this.log = opts.logger?.child({ component: 'prometheus-source' });
    this.dispatcher = opts.dispatcher;
  }

  /** Query counts and the current failure streak. */
  stats(): PrometheusSourceStats {
    return { ...this.st };
  }

  async range(selector: string, windowSec: number, now: Date): Promise<Series[]> {
    parseSelector(selector);
    const nowMs = now.getTime();
    const startMs = nowMs - windowSec * 1000;
    const out: Series[] = [];
    for (const s of await this.query(`${selector}[${promDuration(windowSec)}]`, nowMs)) {
      const points = s.points.filter((p) => p.t > startMs && p.t <= nowMs && !Number.isNaN(p.v));
      if (points.length > 0) out.push({ labels: s.labels, points });
    }
    return out;
  }

  async rate(selector: string, windowSec: number, now: Date, opts?: StepOptions): Promise<Series[]> {
    parseSelector(selector);
    const r = opts?.rateWindowSec ?? this.rateWindowSec;
    const step = opts?.stepSec ?? this.stepSec;
    const out: Series[] = [];
    for (const s of await this.queryRange(`rate(${selector}[${promDuration(r)}])`, now.getTime(), windowSec, step)) {
      const points = s.points.filter((p) => Number.isFinite(p.v));
      if (points.length > 0) out.push({ labels: s.labels, points });
    }
    return out;
  }

  async increase(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    parseSelector(selector);
    return this.scalar(`sum(increase(${selector}[${promDuration(windowSec)}]))`, now.getTime());
  }

  async quantile(q: number, metric: string, windowSec: number, now: Date, matchers?: string): Promise<number | undefined> {
    const sel = withMatchers(`${metric}_bucket`, matchers);
    parseSelector(sel);
    return this.scalar(`histogram_quantile(${q}, sum by (le) (increase(${sel}[${promDuration(windowSec)}])))`, now.getTime());
  }

  async quantileOverTime(q: number, metric: string, windowSec: number, now: Date, matchers?: string, opts?: StepOptions): Promise<Sample[]> {
    const sel = withMatchers(`${metric}_bucket`, matchers);
    parseSelector(sel);
    const r = opts?.rateWindowSec ?? this.rateWindowSec;
    const step = opts?.stepSec ?? this.stepSec;
    const series = await this.queryRange(`histogram_quantile(${q}, sum by (le) (rate(${sel}[${promDuration(r)}])))`, now.getTime(), windowSec, step);
    return (series[0]?.points ?? []).filter((p) => !Number.isNaN(p.v));
  }

  async instant(selector: string, now: Date): Promise<Series[]> {
    parseSelector(selector);
    const nowMs = now.getTime();
    const startMs = nowMs - this.lookbackSec * 1000;
    // Newest raw point within the lookback (with its own timestamp), kept only
    // for series that Prometheus does not consider stale at now.
    const [raw, live] = await Promise.all([this.query(`${selector}[${promDuration(this.lookbackSec)}]`, nowMs), this.query(selector, nowMs)]);
    const alive = new Set(live.map((s) => labelKey(s.labels)));
    const out: Series[] = [];
    for (const s of raw) {
      if (!alive.has(labelKey(s.labels))) continue;
      const pts = s.points.filter((p) => p.t > startMs && p.t <= nowMs);
      const p = pts[pts.length - 1];
      if (p) out.push({ labels: s.labels, points: [p] });
    }
    return out;
  }

  async last(selector: string, now: Date, agg: Aggregation = 'sum'): Promise<number | undefined> {
    parseSelector(selector);
    return this.scalar(`${agg}(last_over_time(${selector}[${promDuration(this.lookbackSec)}]) and ${selector})`, now.getTime());
  }

  async avgOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    parseSelector(selector);
    return this.scalar(`avg(avg_over_time(${selector}[${promDuration(windowSec)}]))`, now.getTime());
  }

  async maxOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    parseSelector(selector);
    return this.scalar(`max(max_over_time(${selector}[${promDuration(windowSec)}]))`, now.getTime());
  }

  /** One aggregated value at `nowMs`; undefined when empty or NaN. */
  private async scalar(expr: string, nowMs: number): Promise<number | undefined> {
    const v = (await this.query(expr, nowMs))[0]?.points[0]?.v;
    return v === undefined || Number.isNaN(v) ? undefined : v;
  }

  /** Instant query at nowMs. */
  private query(expr: string, nowMs: number): Promise<Series[]> {
    return this.send('/api/v1/query', { query: expr, time: promTime(nowMs) });
  }

  /**
   * Range query at every multiple of step in (now − window, now]: absolute
   * alignment, as Prometheus aligns subqueries and LocalSource aligns rate().
   * A window needing more than maxPointsPerSeries steps keeps the newest ones.
   */
  private queryRange(expr: string, nowMs: number, windowSec: number, stepSec: number): Promise<Series[]> {
    const stepMs = Math.max(1, Math.round(stepSec * 1000));
    const endMs = Math.floor(nowMs / stepMs) * stepMs;
    let startMs = (Math.floor((nowMs - windowSec * 1000) / stepMs) + 1) * stepMs;
    if ((endMs - startMs) / stepMs + 1 > this.maxPoints) startMs = endMs - (this.maxPoints - 1) * stepMs;
    if (startMs > endMs) return Promise.resolve([]);
    return this.send('/api/v1/query_range', { query: expr, start: promTime(startMs), end: promTime(endMs), step: `${stepMs / 1000}` });
  }

  /** POST one query; every failure becomes [] plus one log line per failure streak. */
  private async send(path: string, params: Record<string, string>): Promise<Series[]> {
    this.st.queries++;
    const body = new URLSearchParams({ ...params, timeout: `${this.timeoutMs / 1000}s` }).toString();
    try {
      const res = await request(`${this.base}${path}`, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      const text = await readBounded(res, this.maxBytes);
      let doc: Json;
      try {
        doc = JSON.parse(text) as Json;
      } catch {
        throw new Error(`HTTP ${res.statusCode}, body is not JSON`);
      }
      if (!isObj(doc) || doc.status !== 'success') {
        const what = isObj(doc) ? `${String(doc.errorType ?? 'error')}: ${String(doc.error ?? '')}` : 'not an object';
        throw new Error(`HTTP ${res.statusCode}, ${what}`);
      }
      const series = parseQueryData(doc.data);
      this.ok();
      return series;
    } catch (err) {
      this.fail(`${path} ${JSON.stringify(params.query)}: ${errorMessage(err)}`);
      return [];
    }
  }

  private ok(): void {
    if (this.st.failingSinceMs !== undefined) {
      this.log?.info({ failures: this.st.failures }, `Prometheus queries succeed again at ${this.base}`);
      this.st.failingSinceMs = undefined;
    }
  }

  private fail(message: string): void {
    this.st.failures++;
    this.st.lastError = message;
    if (this.st.failingSinceMs === undefined) {
      this.st.failingSinceMs = Date.now();
      this.log?.warn(`Prometheus query failed at ${this.base} (${message}); rules read it as insufficient data until queries succeed`);
    }
  }
}

/** The body as text, abandoned past maxBytes (declared or actual). */
async function readBounded(res: Dispatcher.ResponseData, maxBytes: number): Promise<string> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new Error(`response of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      res.body.destroy();
      throw new Error(`response exceeds the ${maxBytes}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
