/**
 * The incident tracker's onset and recovery search, on promtool-style series
 * and a fixed evaluation time (no wall clock): the onset is the first sample
 * whose per-step error ratio is above the band, the time to detect is the
 * detection less that onset (above 0 here, exactly), and recovery is the
 * first sample back inside the band once `recoverySteps` samples in a row are
 * inside. The end-to-end test (incidents.test.ts) shows the same on real
 * traffic, where sampling on a loaded machine can make the onset sample the
 * detecting one; this one pins the search itself.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { loadSeries } from '../src/analyzer/series-notation.js';
import { DEFAULT_THRESHOLDS } from '../src/analyzer/rule.js';
import { IncidentTracker } from '../src/analyzer/incidents.js';
import type { Hint } from '../src/analyzer/hint.js';
import { silentLogger } from '../src/log.js';

const START = Date.UTC(2026, 0, 1);
const at = (sec: number): Date => new Date(START + sec * 1000);

/**
 * 1 s steps. 8 ok requests a second throughout; from t = 21 s to t = 41 s two
 * errors a second (ratio 0.2 against a 0.05 band), then none.
 * Per-step ratio (2.5 s lookback): above the band from 21 s through 43 s.
 */
function tracker(): { tracker: IncidentTracker; registry: Registry } {
  const store = new SeriesStore({ stepSec: 1 });
  loadSeries(
    store,
    [
      { series: 'llmsoak_requests_total{scenario="a",outcome="ok"}', values: '0+8x60' },
      { series: 'llmsoak_requests_total{scenario="a",outcome="http_5xx"}', values: '0x20 2+2x20 42x19' },
      { series: 'llmsoak_request_errors_total{scenario="a",class="http_5xx"}', values: '0x20 2+2x20 42x19' },
    ],
    { startMs: START, intervalSec: 1 },
  );
  const registry = new Registry();
  const tr = new IncidentTracker({
    src: new LocalSource(store),
    thresholds: DEFAULT_THRESHOLDS,
    baseline: () => undefined,
    windowSec: 12,
    cfg: { recoverySteps: 3 },
    registry,
    logger: silentLogger(),
  });
  return { tracker: tr, registry };
}

function stormHint(firedSec: number): Hint {
  return {
    rule: 'error_storm',
    severity: 'critical',
    cause: 'server_errors',
    summary: 'errors',
    suggestion: '',
    confidence: 0.9,
    evidence: {},
    labels: { class: 'http_5xx' },
    state: 'firing',
    activeAt: at(firedSec - 2),
    firedAt: at(firedSec),
    lastEvalAt: at(firedSec),
  };
}

t.test('onset is the first sample above the band; time to detect = detection − onset', async (t) => {
  const { tracker: tr, registry } = tracker();
  await tr.send([stormHint(25)], at(25));
  const [inc] = tr.entries();
  if (!inc) throw new Error('no incident');
  t.equal(inc.kind, 'errors');
  t.equal(inc.onsetAt, at(21).toISOString(), 'onset at the first errored sample (21 s), not at the detection');
  t.equal(inc.detectedAt, at(25).toISOString());
  t.equal(inc.timeToDetectSec, 4, 'time to detect 4 s: above 0');
  t.equal(inc.recoveredAt, undefined, 'still open');
  t.match(await registry.metrics(), /llmsoak_incident_time_to_detect_seconds_sum\{kind="errors"\} 4\n/);
});

t.test('recovery: the first sample back in the band, once recoverySteps samples are in it', async (t) => {
  const { tracker: tr } = tracker();
  await tr.send([stormHint(25)], at(25));
  // 44 s is the first sample inside again; 44, 45 are two samples: not yet recovered.
  await tr.send([], at(45));
  t.equal(tr.entries()[0]?.recoveredAt, undefined, 'two samples inside are not a recovery');
  await tr.send([], at(46));
  const inc = tr.entries()[0];
  t.equal(inc?.recoveredAt, at(44).toISOString(), 'recovered at 44 s, the first sample back inside');
  t.equal(inc?.timeToRecoverSec, 23, 'time to recover = 44 s − 21 s');
  t.equal(tr.entries().length, 1, 'one incident');
});

t.test('a hint that fires again after recovery is a second incident', async (t) => {
  const { tracker: tr } = tracker();
  await tr.send([stormHint(25)], at(25));
  await tr.send([], at(50));
  t.ok(tr.entries()[0]?.recoveredAt);
  // Same hint still reported (fired before the recovery): not a new incident.
  await tr.send([stormHint(25)], at(52));
  t.equal(tr.entries().length, 1, 'the same firing is not counted twice');
});
