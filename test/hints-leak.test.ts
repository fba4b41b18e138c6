/**
 * Issue 5's acceptance for leaks, in compressed time: an injected leak in the
 * simulator's process is the top cause within two evaluation windows of a
 * full leak window, its reported slope is within 20% of the injected rate,
 * and clearing the fault (the memory is freed) resolves the hint.
 */
import t from 'tap';
import { ANALYZER, startScenario } from './hints-harness.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;
const LEAK_WINDOW = 30;

t.test('leak: the slope is within 20% of the injected rate', async (t) => {
  const s = await startScenario(t, { analyzer: { leakWindowSec: LEAK_WINDOW } });
  // A leak is a trend of its own gauge, judged without the baseline: the fault goes in once the rules run.
  await s.waitEvaluating();
  const mibPerMinute = 240;
  await s.setFaults({ leak: { mbPerMinute: mibPerMinute } });
  const { afterSec } = await s.waitTopCause('leak', LEAK_WINDOW + TWO_WINDOWS);
  t.pass(`found after ${afterSec.toFixed(1)} s`);
  // Once the whole trend window lies inside the leak, the robust slope is the leak's rate.
  await new Promise((r) => setTimeout(r, LEAK_WINDOW * 1000));
  const hint = s.snapshot().hints.find((h) => h.cause === 'leak' && h.state === 'firing' && h.labels?.series === 'target_process_resident_memory_bytes');
  t.ok(
    hint,
    `the target RSS leak is firing (hints: ${s
      .snapshot()
      .hints.map((h) => `${h.rule}${JSON.stringify(h.labels ?? {})}`)
      .join(', ')})`,
  );
  const slopeMiBPerMin = Number(hint?.evidence.slope_per_hour) / 60 / (1024 * 1024);
  t.ok(Math.abs(slopeMiBPerMin - mibPerMinute) / mibPerMinute <= 0.2, `slope ${slopeMiBPerMin.toFixed(1)} MiB/min vs injected ${mibPerMinute}`);
  await s.clearFaults();
  // Clearing frees the memory: a step down starts a new segment, and the trend ends.
  await s.waitResolved('leak', LEAK_WINDOW + TWO_WINDOWS);
});
