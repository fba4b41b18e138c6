/**
 * Issue 5's acceptance, in compressed time (1 s steps, 2 s evaluations, 12 s
 * windows): each fault injected into the simulator produces the right top
 * cause within two evaluation windows, and clearing it resolves the hint.
 */
import t from 'tap';
import { ANALYZER, startScenario, unexpectedHints } from './hints-harness.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;

t.test('error burst: error_storm with the server_errors cause', async (t) => {
  const s = await startScenario(t);
  await s.waitBaseline();
  // No false positive of any rule before the fault (what unexpectedHints lets through, and why, is said there).
  t.same(unexpectedHints(s.snapshot().hints), [], 'no hint before the fault');
  await s.setFaults({ errors: { rate: 0.3, status: 500 } });
  const { hint, afterSec } = await s.waitTopCause('server_errors', TWO_WINDOWS);
  t.equal(hint.rule, 'error_storm');
  t.ok(Number(hint.evidence.error_ratio) > 0.05, `evidence carries the ratio (${hint.evidence.error_ratio})`);
  t.match(String(hint.evidence.top_message), /: 500 Internal Server Error: simulated error \(fault 'errors', status 500\)$/, "evidence quotes the server's own words");
  t.match(hint.summary, /the server says: 500 Internal Server Error: simulated error/, 'and so does the summary');
  t.ok(afterSec <= TWO_WINDOWS, `found after ${afterSec.toFixed(1)} s`);
  await s.clearFaults();
  const resolvedAfter = await s.waitResolved('server_errors', TWO_WINDOWS + 4);
  t.pass(`resolved ${resolvedAfter.toFixed(1)} s after clearing`);
});
