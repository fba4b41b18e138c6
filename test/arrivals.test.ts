import t from 'tap';
import { createArrivals, type ArrivalSpec } from '../src/traffic/arrivals.js';
import { createRng } from '../src/traffic/random.js';

const S = 1e9;

function gaps(spec: ArrivalSpec, n: number, seed = 1): number[] {
  const a = createArrivals(spec, createRng(seed));
  let prev = a.next();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a.next();
    out.push(x - prev);
    prev = x;
  }
  return out;
}

function cv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, cv: Math.sqrt(v) / mean };
}

function countBefore(spec: ArrivalSpec, horizonNs: number, seed = 1): number {
  const a = createArrivals(spec, createRng(seed));
  let n = 0;
  while (a.next() < horizonNs) n++;
  return n;
}

t.test('first arrival at 0, offsets non-decreasing, deterministic per seed', async (t) => {
  for (const spec of [
    { kind: 'constant', rate: 5 },
    { kind: 'poisson', rate: 5 },
    { kind: 'gamma', rate: 5, burstiness: 0.3 },
    { kind: 'poisson', rate: 5, rateAt: (ns: number) => 1 + ns / S },
  ] satisfies ArrivalSpec[]) {
    const a = createArrivals(spec, createRng(3));
    t.equal(a.next(), 0, `${spec.kind}: first at 0`);
    let prev = 0;
    let bad = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = a.next();
      if (!(x >= prev)) bad++;
      prev = x;
    }
    t.equal(bad, 0, `${spec.kind}: non-decreasing`);
  }
  t.same(gaps({ kind: 'poisson', rate: 3 }, 50, 9), gaps({ kind: 'poisson', rate: 3 }, 50, 9), 'same seed, same schedule');
});

t.test('counts over a long horizon match the rate', async (t) => {
  const horizon = 2000 * S;
  for (const spec of [
    { kind: 'poisson', rate: 50 },
    { kind: 'gamma', rate: 50, burstiness: 0.5 },
    { kind: 'gamma', rate: 50, burstiness: 4 },
  ] satisfies ArrivalSpec[]) {
    const n = countBefore(spec, horizon);
    const expected = 50 * 2000;
    // Counting-process variance ~ expected * CV^2 (renewal theory).
    const sd = Math.sqrt(expected * (spec.kind === 'gamma' ? 1 / spec.burstiness : 1));
    t.ok(Math.abs(n - expected) < 4 * sd, `${spec.kind}${spec.kind === 'gamma' ? ` b=${spec.burstiness}` : ''}: ${n} vs ${expected} (4 sd = ${(4 * sd).toFixed(0)})`);
  }
  t.equal(countBefore({ kind: 'constant', rate: 50 }, horizon), 100_000, 'constant: exact count');
});

t.test('CV of gaps: poisson ~ 1, gamma ~ 1/sqrt(burstiness), constant 0', async (t) => {
  const p = cv(gaps({ kind: 'poisson', rate: 20 }, 100_000));
  t.ok(Math.abs(p.mean - S / 20) / (S / 20) < 0.01, `poisson mean gap ${p.mean}`);
  t.ok(Math.abs(p.cv - 1) < 0.02, `poisson CV ${p.cv.toFixed(3)}`);
  for (const b of [0.25, 1, 4]) {
    const g = cv(gaps({ kind: 'gamma', rate: 20, burstiness: b }, 100_000));
    t.ok(Math.abs(g.mean - S / 20) / (S / 20) < 0.02, `gamma b=${b} mean gap ${g.mean.toFixed(0)}`);
    t.ok(Math.abs(g.cv - 1 / Math.sqrt(b)) / (1 / Math.sqrt(b)) < 0.03, `gamma b=${b} CV ${g.cv.toFixed(3)} vs ${(1 / Math.sqrt(b)).toFixed(3)}`);
  }
  const c = cv(gaps({ kind: 'constant', rate: 20 }, 1000));
  t.ok(c.cv < 1e-9, 'constant CV 0');
});

t.test('constant rate: zero drift after 1e6 arrivals', async (t) => {
  const rate = 7; // 1/7 s is not representable: a running sum would drift
  const a = createArrivals({ kind: 'constant', rate }, createRng(1));
  let x = 0;
  let naive = 0;
  for (let k = 0; k <= 1_000_000; k++) {
    x = a.next();
    if (k > 0) naive += S / rate;
  }
  t.equal(x, (1_000_000 * S) / rate, 'arrival 1e6 is exactly k * 1e9 / rate');
  t.comment(`a running sum would be off by ${Math.abs(naive - x).toFixed(3)} ns`);
  const far = createArrivals({ kind: 'constant', rate: 3 }, createRng(1));
  for (let k = 0; k < 3_000_000; k++) far.next();
  t.equal(far.next(), 1e15, 'after 3e6 arrivals at 3/s: exactly 1e6 s');
});

t.test('rateAt: a step change applies from that offset on, without a jump', async (t) => {
  const step = (ns: number): number => (ns < 10 * S ? 10 : 100);
  const c = createArrivals({ kind: 'constant', rate: 10, rateAt: step }, createRng(1));
  const xs: number[] = [];
  for (let i = 0; i < 1101; i++) xs.push(c.next());
  const before = xs.filter((x) => x < 10 * S).length;
  const between = xs.filter((x) => x >= 10 * S && x < 20 * S).length;
  t.equal(before, 100, 'constant: 100 arrivals in the 10 s at 10/s');
  t.ok(Math.abs(between - 1000) <= 1, `constant: ~1000 arrivals in the next 10 s at 100/s (${between})`);
  const firstAfter = xs.find((x) => x >= 10 * S) ?? NaN;
  t.ok(Math.abs(firstAfter - 10 * S) < 1e3, `first arrival after the change at 10 s (+${firstAfter - 10 * S} ns): the gap that straddles it is rescaled, not restarted`);

  // Poisson with a linear ramp 0 -> 100/s over 100 s: expected count = integral = 5000.
  const ramp = (ns: number): number => Math.min(100, ns / S);
  let total = 0;
  const seeds = 5;
  for (let seed = 1; seed <= seeds; seed++) total += countBefore({ kind: 'poisson', rate: 50, rateAt: ramp }, 100 * S, seed) - 1;
  const mean = total / seeds;
  t.ok(Math.abs(mean - 5000) < 4 * Math.sqrt(5000 / seeds), `poisson ramp: ${mean} arrivals vs 5000 expected`);
  const early = countBefore({ kind: 'poisson', rate: 50, rateAt: ramp }, 20 * S, 7) - 1;
  t.ok(Math.abs(early - 200) < 4 * Math.sqrt(200), `ramp: first 20 s hold ~200 arrivals (${early})`);
});

t.test('rateAt: zero rate pauses, then resumes; zero forever gives Infinity', async (t) => {
  const pause = createArrivals({ kind: 'constant', rate: 10, rateAt: (ns) => (ns < 5 * S ? 0 : 10) }, createRng(1));
  t.equal(pause.next(), 0);
  const second = pause.next();
  t.ok(Math.abs(second - 5.1 * S) < 1e3, `resumes after the pause (${second / S} s)`);
  const never = createArrivals({ kind: 'poisson', rate: 1, rateAt: () => 0, maxLookaheadNs: 60 * S }, createRng(1));
  t.equal(never.next(), 0);
  t.equal(never.next(), Infinity);
  t.equal(never.next(), Infinity, 'stays exhausted');
});

t.test('validation', async (t) => {
  t.throws(() => createArrivals({ kind: 'poisson', rate: 0 }, createRng(1)), RangeError);
  t.throws(() => createArrivals({ kind: 'constant', rate: -1 }, createRng(1)), RangeError);
  t.throws(() => createArrivals({ kind: 'gamma', rate: 1, burstiness: 0 }, createRng(1)), RangeError);
  t.doesNotThrow(() => createArrivals({ kind: 'poisson', rate: 0, rateAt: () => 1 }, createRng(1)), 'rate is nominal when rateAt is given');
});
