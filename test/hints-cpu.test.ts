/**
 * Issue 5's acceptance, in compressed time (1 s steps, 2 s evaluations, 12 s
 * windows): each fault injected into the simulator produces the right top
 * cause within two evaluation windows, and clearing it resolves the hint.
 */
import t from 'tap';
import { ANALYZER, startScenario } from './hints-harness.js';
import { DEFAULT_THRESHOLDS } from '../src/analyzer/rule.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;

t.test('CPU-bound server: cpu_bound', async (t) => {
  // The frontend thread burns at most one core: the default 'near one core' (cpuBoundCores 0.8) holds
  // because npm test runs this file alone (scripts/test.sh, serial phase), with no other test on the cores.
  // With a baseline, as a real soak has one by the time a fault comes: degradation then fires with the
  // fault too, and cpu_bound must outrank it. 10 s of baseline (60 requests) instead of the harness's 20.
  const s = await startScenario(t, { traffic: { rate: 6 }, analyzer: { baselineSec: 10, thresholds: { alpha: 0.01 } } });
  await s.waitBaseline();
  await s.setFaults({ cpuBound: { msPerRequest: 250 } });
  const { hint, afterSec } = await s.waitTopCause('cpu_bound', TWO_WINDOWS);
  t.ok(Number(hint.evidence.process_cpu_cores) >= DEFAULT_THRESHOLDS.cpuBoundCores, `process CPU in evidence (${hint.evidence.process_cpu_cores})`);
  t.pass(`found after ${afterSec.toFixed(1)} s`);
  await s.clearFaults();
  await s.waitResolved('cpu_bound', TWO_WINDOWS + 4);
});
