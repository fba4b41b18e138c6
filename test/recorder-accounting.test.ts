/**
 * What the recorder counts for each finished request:
 *  - corrected latency (end − intended send) for every request that ends,
 *    failed and timed out included, from its end;
 *  - goodput: a request with no TTFT (not streamed) is judged by E2E alone;
 *    a failed request is never good.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { Recorder } from '../src/metrics/recorder.js';
import type { Outcome, RequestRecord } from '../src/types.js';

const SLO = { ttftMs: 1000, tpotMs: 100, e2eMs: 2000, maxErrorRate: 0.01, minGoodRatio: 0.9, minAchievedRatio: 0.9 };
const MS = 1_000_000n;

function record(outcome: Outcome, over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: 'r',
    scenario: 's',
    endpoint: 'chat',
    model: 'm',
    stream: true,
    scheduledAt: 0n,
    sentAt: 100n * MS,
    endedAt: 900n * MS,
    tokenGapsNs: [],
    contentChunks: 0,
    inputTokens: 1,
    outputTokens: 0,
    tokenSource: 'tokenizer',
    outcome,
    ...over,
  };
}

/** Observations in a histogram, all label sets, from the exposition text. */
async function histogramCount(registry: Registry, name: string): Promise<number> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}_count{`))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

t.test('corrected latency for every request that ends, failed ones from their end', async (t) => {
  const registry = new Registry();
  const rec = new Recorder(registry, { slo: SLO, windowMs: 60_000, clock: systemClock });
  const s = rec.scenario('s', 'chat', 'm');
  const outcomes: Outcome[] = ['ok', 'timeout_total', 'http_5xx', 'stream_cut', 'cancelled'];
  for (const o of outcomes) {
    rec.started();
    const ok = o === 'ok';
    rec.record(s, record(o, ok ? { firstTokenAt: 200n * MS, lastTokenAt: 700n * MS, contentChunks: 2, outputTokens: 2, tokenGapsNs: [500_000_000] } : {}), 0);
  }
  t.equal(await histogramCount(registry, 'llmsoak_request_corrected_duration_seconds'), outcomes.length, 'one corrected observation per request that ended');
  t.equal(rec.totalsHdr.e2e.snapshot().count, 1, 'E2E (service latency) only for the one that succeeded');
  t.equal(rec.totalsHdr.corrected.snapshot().count, outcomes.length, 'and the all-time corrected figures hold them all');
  const corrected = rec.totalsHdr.corrected.snapshot();
  t.ok(Math.abs(corrected.max - 0.9) < 0.01, `a failure counts from its intended send to its end (max ${corrected.max.toFixed(3)} s = 0.9 s)`);
  t.ok(Math.abs(corrected.min - 0.7) < 0.01, `a success to its last token (min ${corrected.min.toFixed(3)} s = 0.7 s)`);
});

t.test('goodput: no TTFT means judged by E2E alone; a failure is never good', async (t) => {
  const rec = new Recorder(new Registry(), { slo: SLO, windowMs: 60_000, clock: systemClock });
  const s = rec.scenario('s', 'chat', 'm');
  const plain = (endMs: bigint) => record('ok', { stream: false, lastTokenAt: endMs * MS, endedAt: endMs * MS, contentChunks: 1, outputTokens: 50 });
  rec.started();
  rec.record(s, plain(1500n), 0);
  t.equal(rec.totals.good, 1, 'not streamed, E2E 1.4 s within 2 s: good');
  rec.started();
  rec.record(s, plain(2500n), 0);
  t.equal(rec.totals.good, 1, 'not streamed, E2E 2.4 s past 2 s: not good');
  rec.started();
  rec.record(s, record('http_5xx', { endedAt: 150n * MS }), 0);
  t.equal(rec.totals.good, 1, 'a fast failure is not good');
  t.equal(rec.totals.ok, 2);
});
