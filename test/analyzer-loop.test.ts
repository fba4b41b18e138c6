/**
 * The analyzer's evaluation loop on a fake clock (no waiting): evaluations
 * fall on multiples of the interval (aligned, as Prometheus evaluates), none
 * during warm-up, a finding with `for` becomes firing after exactly that long,
 * each evaluation reaches the sinks, and stop() ends the loop.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { Analyzer } from '../src/analyzer/engine.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { DEFAULT_THRESHOLDS, ok, type Rule } from '../src/analyzer/rule.js';
import type { Hint } from '../src/analyzer/hint.js';
import { silentLogger } from '../src/log.js';
import { FakeClock } from './fake-clock.js';

// 12:00:00.300 UTC: not on a multiple of the interval, so alignment shows.
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0) + 300;

t.test('aligned evaluations, warm-up skipped, `for` honoured, stop ends the loop', async (t) => {
  const clock = new FakeClock(T0);
  const registry = new Registry();
  const evaluatedAt: number[] = [];
  let firing = false;
  const rule: Rule = {
    id: 'test_rule',
    severity: 'warning',
    forSec: 10,
    description: 'fires while the test says so',
    evaluate: async (ctx) => {
      evaluatedAt.push(ctx.now.getTime());
      return ok(firing ? [{ rule: 'test_rule', severity: 'warning', cause: 'test', summary: 'on', suggestion: '', confidence: 0.9, evidence: {} }] : []);
    },
  };
  const delivered: { at: number; hints: Hint[] }[] = [];
  const analyzer = new Analyzer({
    cfg: { enabled: true, stepSec: 1, intervalSec: 5, windowSec: 60, leakWindowSec: 600, warmupSec: 20, baselineSec: 1e9, thresholds: DEFAULT_THRESHOLDS },
    rules: [rule],
    src: new LocalSource(new SeriesStore({ stepSec: 1 })),
    tracker: new HintTracker({ registry }),
    sinks: [{ send: (hints: Hint[], now: Date) => delivered.push({ at: now.getTime(), hints }) }],
    registry,
    logger: silentLogger(),
    clock,
    timers: clock,
    runStartMs: T0,
  });
  analyzer.start();

  await clock.advance(60_000);
  const base = Date.UTC(2026, 0, 1, 12, 0, 0);
  // Warm-up 20 s plus two steps: the first evaluation at or after T0 + 22 s, on the 5 s grid.
  const expected = [25, 30, 35, 40, 45, 50, 55, 60].map((s) => base + s * 1000);
  t.same(evaluatedAt, expected, 'evaluated at 12:00:25, :30 … :60: multiples of 5 s, none in warm-up');
  t.same(
    delivered.map((d) => d.at),
    expected,
    'each evaluation reaches the sinks',
  );

  firing = true;
  await clock.advance(5_000); // :65 the finding appears: pending
  const pendingAt = delivered.at(-1)?.hints.find((h) => h.rule === 'test_rule');
  t.equal(pendingAt?.state, 'pending', 'pending at first sight');
  await clock.advance(5_000); // :70, 5 s in: still pending
  t.equal(delivered.at(-1)?.hints.find((h) => h.rule === 'test_rule')?.state, 'pending', 'still pending after 5 s of a 10 s `for`');
  await clock.advance(5_000); // :75, 10 s in: firing
  const fired = delivered.at(-1)?.hints.find((h) => h.rule === 'test_rule');
  t.equal(fired?.state, 'firing', 'firing once the condition held for 10 s');
  t.equal(fired?.firedAt?.getTime(), base + 75_000);
  t.equal(fired?.activeAt.getTime(), base + 65_000);

  await analyzer.stop();
  const n = evaluatedAt.length;
  await clock.advance(60_000);
  t.equal(evaluatedAt.length, n, 'no evaluation after stop()');
  t.equal(clock.timersPending, 0, 'no timer left behind');
});
