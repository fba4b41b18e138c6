/**
 * Reading another process' Prometheus text exposition (the target server's
 * /metrics, dcgm-exporter): a bounded HTTP GET with undici, then a real parser
 * (parse-prometheus-text-format) over the lines we need.
 *
 * Before parsing, the text is cut down to the sample lines whose metric name
 * the caller wants (a name is the run of characters before '{' or a blank;
 * no regex over values or labels). This keeps the synchronous parse small
 * (a vLLM /metrics is 100–300 kB, mostly histogram buckets we do not read), so
 * a large exposition cannot stall the event loop, and it sidesteps a defect of
 * the parser: histogram and summary families with labels are flattened into
 * one entry that loses _sum and _count. Without their # TYPE lines every kept
 * line is parsed as an untyped sample of its own name (X_sum, X_count), which
 * is exactly what we read. Types are known from the dialect tables instead.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { request, type Dispatcher } from 'undici';

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface ParsedExposition {
  /** Wanted metric name → samples (in exposition order). */
  samples: Map<string, Sample[]>;
  /** Every metric name that appeared on a sample line (for dialect detection). */
  names: Set<string>;
}

export function parseValue(v: string | undefined): number {
  if (v === undefined) return Number.NaN;
  switch (v) {
    case '+Inf':
    case 'Inf':
    case '+inf':
    case 'inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
    case '-inf':
      return Number.NEGATIVE_INFINITY;
    default:
      return Number(v);
  }
}

/** Name of a sample line: everything before '{', ' ' or '\t'. */
function sampleName(line: string): string {
  let end = 0;
  while (end < line.length) {
    const c = line.charCodeAt(end);
    if (c === 123 || c === 32 || c === 9) break;
    end++;
  }
  return line.slice(0, end);
}

export function parseExposition(text: string, wanted: (name: string) => boolean): ParsedExposition {
  const names = new Set<string>();
  const kept: string[] = [];
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    const line = text.slice(start, nl).trim();
    start = nl + 1;
    if (line === '' || line.charCodeAt(0) === 35 /* '#' */) continue;
    const name = sampleName(line);
    names.add(name);
    if (wanted(name)) kept.push(line);
  }
  const samples = new Map<string, Sample[]>();
  if (kept.length === 0) return { samples, names };
  kept.push(''); // the parser drops a last line that has no trailing newline
  for (const fam of parsePrometheusTextFormat(kept.join('\n'))) {
    let list = samples.get(fam.name);
    if (list === undefined) samples.set(fam.name, (list = []));
    for (const m of fam.metrics) {
      list.push({ labels: m.labels ?? {}, value: parseValue(m.value) });
    }
  }
  return { samples, names };
}

export interface FetchOptions {
  signal: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
  dispatcher?: Dispatcher;
}

/** GET a text exposition; throws on non-200, timeout or a body over maxBytes. */
export async function fetchExposition(url: string, opts: FetchOptions): Promise<string> {
  const res = await request(url, {
    method: 'GET',
    signal: opts.signal,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    headers: { accept: 'text/plain;version=0.0.4;q=1.0, */*;q=0.1', 'accept-encoding': 'identity' },
  });
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    throw new Error(`HTTP ${res.statusCode} from ${url}`);
  }
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    res.body.destroy();
    throw new Error(`${url}: body of ${declared} bytes exceeds the ${opts.maxBytes}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > opts.maxBytes) {
      res.body.destroy();
      throw new Error(`${url}: body exceeds the ${opts.maxBytes}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
