import t from 'tap';
import { createArrivals } from '../src/traffic/arrivals.js';
import { StepRate } from '../src/traffic/arrival-step.js';
import { createRng } from '../src/traffic/random.js';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';

const S = 1e9;
const RATE = 50;
// 100 s at 1×, 100 s at 4×, 100 s paused, then 0.5× for ever.
const STEPS = [
  { atSec: 0, multiple: 1 },
  { atSec: 100, multiple: 4 },
  { atSec: 200, multiple: 0 },
  { atSec: 300, multiple: 0.5 },
];

function offsets(seed: number, horizonNs: number): number[] {
  const a = createArrivals({ kind: 'step', rate: RATE, steps: STEPS }, createRng(seed));
  const out: number[] = [];
  for (let x = a.next(); x < horizonNs; x = a.next()) out.push(x);
  return out;
}

t.test('step: each level holds its rate over many arrivals, the pause holds none', async (t) => {
  const xs = offsets(11, 500 * S);
  t.equal(xs[0], 0, 'first arrival at 0');
  t.ok(
    xs.every((x, i) => i === 0 || x >= (xs[i - 1] as number)),
    'non-decreasing',
  );
  const levels = [
    { from: 0, to: 100, multiple: 1 },
    { from: 100, to: 200, multiple: 4 },
    { from: 300, to: 500, multiple: 0.5 },
  ];
  for (const l of levels) {
    const n = xs.filter((x) => x >= l.from * S && x < l.to * S).length;
    const expected = RATE * l.multiple * (l.to - l.from);
    // Poisson counts: 5,000 to 20,000 arrivals, a standard deviation of 0.7–1.4 %; 4 % is about 3 of them.
    t.ok(Math.abs(n / expected - 1) < 0.04, `${l.from}–${l.to} s at ${l.multiple}×: ${n} arrivals, ${expected} expected`);
  }
  t.equal(xs.filter((x) => x >= 200 * S && x < 300 * S).length, 0, 'no arrival while the multiple is 0');
});

t.test('step: deterministic with a seed, another seed another schedule', async (t) => {
  t.same(offsets(5, 150 * S), offsets(5, 150 * S), 'same seed, same offsets');
  t.not(offsets(5, 150 * S).join(), offsets(6, 150 * S).join(), 'another seed differs');
});

t.test('step: the integral inverts exactly at the edges', async (t) => {
  const r = new StepRate(STEPS, 10);
  t.equal(r.offsetAt(0), 0);
  t.equal(r.offsetAt(500), 50 * S, 'half way through the first level');
  t.equal(r.offsetAt(1000), 100 * S, 'the end of the first level is the start of the second');
  t.equal(r.offsetAt(1000 + 4000), 300 * S, 'the end of the second jumps over the pause');
  t.equal(r.offsetAt(5000 + 50), 310 * S, 'then 5/s');
  const paused = new StepRate(
    [
      { atSec: 0, multiple: 0 },
      { atSec: 20, multiple: 2 },
    ],
    1,
  );
  t.equal(paused.offsetAt(0), 20 * S, 'a schedule starting paused: the first arrival where the rate turns positive');
  t.equal(
    new StepRate(
      [
        { atSec: 0, multiple: 1 },
        { atSec: 5, multiple: 0 },
      ],
      1,
    ).offsetAt(6),
    Infinity,
    'ending paused: Infinity past the last work',
  );
});

t.test('step: bad schedules are refused, by the process and by the config', async (t) => {
  t.throws(() => createArrivals({ kind: 'step', rate: 1, steps: [{ atSec: 5, multiple: 1 }] }, createRng(1)), RangeError);
  t.throws(() => createArrivals({ kind: 'step', rate: 1, steps: [{ atSec: 0, multiple: 0 }] }, createRng(1)), RangeError);
  const load = (traffic: Record<string, unknown>) => () => loadConfig({ document: { traffic }, env: {} });
  t.doesNotThrow(load({ arrival: 'step', steps: STEPS }), 'a good schedule loads');
  t.throws(load({ arrival: 'step' }), ConfigError, 'steps are required');
  try {
    load({
      arrival: 'step',
      steps: [
        { atSec: 0, multiple: 1 },
        { atSec: 0, multiple: 2 },
      ],
      profile: { points: [{ hour: 0, multiple: 1 }] },
    })();
    t.fail('should throw');
  } catch (err) {
    t.match(String((err as Error).message), /traffic\.steps\[1\]\.atSec: must be after/);
    t.match(String((err as Error).message), /traffic\.profile: arrival step has its own schedule/);
  }
  t.throws(load({ arrival: 'bursty' }), ConfigError, 'an unregistered kind is refused by the schema');
});
