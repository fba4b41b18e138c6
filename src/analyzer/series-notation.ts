/**
 * promtool's `input_series` notation, so rule tests read like
 * `promtool test rules` files (Prometheus promql/parser grammar, series_item):
 *
 *   'a'        one sample                      '1 2 3'   three samples
 *   'a+bxn'    a, a+b, …, a+n·b (n+1 samples)   '0+10x5' → 0 10 20 30 40 50
 *   'a-bxn'    a, a−b, …, a−n·b (n+1 samples)   '1-2x4'  → 1 -1 -3 -5 -7
 *   'axn'      a repeated n+1 times ('a+0xn')  '1x4'    → 1 1 1 1 1
 *   '_'        one missing sample (a missed scrape; lookback sees past it)
 *   '_xn'      n missing samples (n, not n+1: promtool's grammar)
 *   'stale'    a staleness marker (the series ended; lookback stops here)
 *   'stalexn'  n+1 staleness markers
 *
 * Numbers take Go float syntax as PromQL does (1.5, -2, 1e3, Inf, -Inf, NaN).
 * Increments accumulate by repeated addition, as promtool does (so
 * '0.1+0.1x2' ends at 0.30000000000000004). Native-histogram `{{…}}` values
 * are not supported.
 *
 * loadSeries() writes such series into a SeriesStore: sample i of every series
 * at `startMs + i × intervalSec`, like promtool's `interval` (series shorter
 * than the longest are missing, not stale, after their last value).
 */
import type { SeriesKind, SeriesStore } from './series-store.js';
import { parseSelector } from './selector.js';

/** One expanded value: a number, a staleness marker, or missing (undefined). */
export type NotationValue = number | 'stale' | undefined;

/** One input series, as in a promtool test file. */
export interface InputSeries {
  /** `metric{label="value", …}` (only `=` matchers). */
  series: string;
  /** Values in expanding notation. */
  values: string;
  /** Downsampling kind; default: counter for *_total, *_count, *_sum, *_bucket, else gauge. */
  kind?: SeriesKind;
}

const NUM = String.raw`[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)`;
const UNUM = String.raw`(?:[iI][nN][fF]|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)`;
const ITEM_RE = new RegExp(`^(${NUM})(?:([+-])(${UNUM}))?(?:x(\\d+))?$`);
const STALE_RE = /^stale(?:x(\d+))?$/;
const BLANK_RE = /^_(?:x(\d+))?$/;

function parseNumber(s: string): number {
  const l = s.toLowerCase();
  const sign = l.startsWith('-') ? -1 : 1;
  const body = l.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body === 'nan') return NaN;
  return Number(s);
}

/**
 * Expand a values string into one entry per sample. Throws SyntaxError on a
 * malformed item (a bug in the test, reported with the item).
 */
export function expandSeriesValues(text: string): NotationValue[] {
  const out: NotationValue[] = [];
  for (const item of text.trim().split(/\s+/)) {
    if (item === '') continue;
    let m = BLANK_RE.exec(item);
    if (m) {
      const n = m[1] === undefined ? 1 : Number(m[1]);
      for (let i = 0; i < n; i++) out.push(undefined);
      continue;
    }
    m = STALE_RE.exec(item);
    if (m) {
      const n = m[1] === undefined ? 0 : Number(m[1]);
      for (let i = 0; i <= n; i++) out.push('stale');
      continue;
    }
    m = ITEM_RE.exec(item);
    if (!m) throw new SyntaxError(`series values: cannot parse ${JSON.stringify(item)} in ${JSON.stringify(text)}`);
    let a = parseNumber(m[1] as string);
    const op = m[2];
    const times = m[4];
    if (op !== undefined && times === undefined) {
      throw new SyntaxError(`series values: ${JSON.stringify(item)} needs xN after the increment`);
    }
    if (times === undefined) {
      out.push(a);
      continue;
    }
    const n = Number(times);
    const b = op === undefined ? 0 : (op === '-' ? -1 : 1) * parseNumber(m[3] as string);
    for (let i = 0; i <= n; i++) {
      out.push(a);
      a += b;
    }
  }
  return out;
}

/** Parse `metric{l="v",…}` into a name and labels (only `=` matchers allowed). */
export function parseSeriesDescription(series: string): { name: string; labels: Record<string, string> } {
  const sel = parseSelector(series);
  if (sel.name === undefined) throw new SyntaxError(`series ${JSON.stringify(series)}: no metric name`);
  const labels: Record<string, string> = {};
  for (const m of sel.matchers) {
    if (m.op !== '=') throw new SyntaxError(`series ${JSON.stringify(series)}: only = is allowed in a series description`);
    if (m.name !== '__name__') labels[m.name] = m.value;
  }
  return { name: sel.name, labels };
}

/** Default kind from the name: Prometheus counter-like suffixes are counters. */
export function kindOf(name: string): SeriesKind {
  return /(_total|_count|_sum|_bucket)$/.test(name) ? 'counter' : 'gauge';
}

/** Where a load started and ended. */
export interface LoadResult {
  /** Time of the first sample, unix ms. */
  startMs: number;
  /** Time of the last sample, unix ms. */
  endMs: number;
  /** Samples (instants) written. */
  samples: number;
}

/**
 * Write promtool-style input series into `store`: sample i of every series at
 * `startMs + i × intervalSec × 1000`. Missing values (`_`, or past a
 * series' end) are absent without a staleness marker; `stale` writes one.
 * The store must be empty of later samples (timestamps must increase).
 */
export function loadSeries(store: SeriesStore, input: readonly InputSeries[], opts: { startMs: number; intervalSec: number }): LoadResult {
  const parsed = input.map((s) => {
    const { name, labels } = parseSeriesDescription(s.series);
    const id = store.ref(name, labels, s.kind ?? kindOf(name));
    if (id < 0) throw new RangeError(`loadSeries: the store refused ${s.series} (series cap reached)`);
    return { id, values: expandSeriesValues(s.values) };
  });
  const len = Math.max(0, ...parsed.map((p) => p.values.length));
  const step = opts.intervalSec * 1000;
  for (let i = 0; i < len; i++) {
    const t = opts.startMs + i * step;
    if (!store.beginSample(t)) throw new RangeError(`loadSeries: sample time ${t} is not after the store's last sample`);
    for (const p of parsed) {
      const v = p.values[i];
      if (v === 'stale') store.markStale(p.id);
      else if (v === undefined) store.markAbsent(p.id);
      else store.setById(p.id, v);
    }
    store.commitSample();
  }
  return { startMs: opts.startMs, endMs: opts.startMs + Math.max(0, len - 1) * step, samples: len };
}
