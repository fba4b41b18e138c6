/**
 * Issue 5's acceptance, in compressed time (1 s steps, 2 s evaluations, 12 s
 * windows): each fault injected into the simulator produces the right top
 * cause within two evaluation windows, and clearing it resolves the hint.
 */
import t from 'tap';
import { ANALYZER, startScenario } from './hints-harness.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;

t.test('KV pressure: kv_cache_pressure', async (t) => {
  const s = await startScenario(t, { traffic: { rate: 10 } });
  await s.waitBaseline();
  await s.setFaults({ kvPressure: { kvCacheTokens: 1500 } });
  const { hint, afterSec } = await s.waitTopCause('kv_cache_pressure', TWO_WINDOWS);
  t.ok(Number(hint.evidence.preemptions) > 0, `preemptions in evidence (${hint.evidence.preemptions})`);
  t.ok(Number(hint.evidence.kv_usage_ratio_max) >= 0.9);
  t.pass(`found after ${afterSec.toFixed(1)} s`);
  await s.clearFaults();
  await s.waitResolved('kv_cache_pressure', TWO_WINDOWS + 4);
});
