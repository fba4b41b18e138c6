/**
 * Quality checks end to end, in compressed time (golden suite every 2 s; 1 s
 * steps, 2 s evaluations, 12 s windows): the daemon scores the example suite
 * against the simulator at 1, the baseline captures it, the simulator's
 * `quality` fault at rate 1 makes `quality_drift` the top cause within two
 * evaluation windows, and clearing it resolves the hint.
 */
import t from 'tap';
import { join } from 'node:path';
import { request } from 'undici';
import { ANALYZER, startScenario, unexpectedHints } from './hints-harness.js';
import { ROOT, waitFor } from './helpers.js';
import type { QualitySnapshot } from '../src/quality/index.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;

t.test('quality fault: quality_drift is the top cause, and resolves when cleared', async (t) => {
  const s = await startScenario(t, {
    quality: { intervalSec: 2, timeoutMs: 5000, suites: [{ name: 'golden', file: join(ROOT, 'examples/quality/golden.yaml') }] },
  });
  await s.waitBaseline();
  t.equal(s.daemon.hintAnalyzer?.baseline?.quality.golden, 1, 'baseline captured with score 1');
  t.same(unexpectedHints(s.snapshot().hints), [], 'no hint before the fault (see unexpectedHints: as in hints-errors and prometheus-e2e)');
  const status = (await (await request(`${s.daemon.listenUrl}/api/status`)).body.json()) as { quality: QualitySnapshot };
  t.equal(status.quality.intervalSec, 2);
  t.same(
    status.quality.suites.map((x) => x.name),
    ['golden'],
  );
  t.equal(status.quality.lastRun?.suites[0]?.score, 1, '/api/status shows the last run');
  t.ok(status.quality.runs.ok >= 5, `runs so far: ${JSON.stringify(status.quality.runs)}`);
  const metrics = await (await request(`${s.daemon.listenUrl}/metrics`)).body.text();
  t.match(metrics, /llmsoak_quality_score\{suite="golden"\} 1\n/);
  t.match(metrics, /llmsoak_quality_checks_total\{suite="golden",outcome="error"\} 0\n/, 'no check errored');

  await s.setFaults({ quality: { rate: 1 } });
  const faultAt = Date.now();
  const { hint, afterSec } = await s.waitTopCause('quality_drift', TWO_WINDOWS);
  t.equal(hint.rule, 'quality_drift');
  t.equal(hint.labels?.suite, 'golden');
  // The run under way when the fault was set may still score a few right answers.
  t.ok(Number(hint.evidence.score) < 0.9, `the score fell (${hint.evidence.score})`);
  t.equal(hint.evidence.baseline_score, 1);
  t.ok(afterSec <= TWO_WINDOWS, `found after ${afterSec.toFixed(1)} s`);
  // The first run that started with the fault on answers every golden prompt wrong.
  const runner = s.daemon.qualityChecks?.runner;
  const faulted = await waitFor(
    async () => {
      const r = runner?.lastReport;
      return r && Date.parse(r.startedAt) >= faultAt ? r : undefined;
    },
    20_000,
    200,
  );
  t.equal(faulted.suites[0]?.score, 0, 'every golden answer is wrong in a run under the fault');

  await s.clearFaults();
  const clearedAt = Date.now();
  const resolvedAfter = await s.waitResolved('quality_drift', TWO_WINDOWS + 4);
  t.pass(`resolved ${resolvedAfter.toFixed(1)} s after clearing`);
  // A run that started before the fault was cleared may end after the hint resolved (on a busy machine): judge the first
  // run that started after clearing.
  const after = await waitFor(
    async () => {
      const r = runner?.lastReport;
      return r && Date.parse(r.startedAt) >= clearedAt ? r : undefined;
    },
    20_000,
    200,
  );
  t.equal(after.suites[0]?.score, 1, 'score back to 1');
});
