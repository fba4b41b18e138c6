/**
 * Target changes' "before" figures (src/analyzer/period-figures.ts): the
 * slice ring keeps the window before the target's identity was last seen,
 * however long the target is then down (a redeploy loading a model), in the
 * same number of meters; with the target up it is a plain ring.
 */
import t from 'tap';
import { SliceMeters, type MeterSource } from '../src/analyzer/period-figures.js';
import { Meter } from '../src/metrics/recorder.js';

/** A meter source whose current meter the test writes into (as the recorder would). */
function source(): MeterSource & { current: () => Meter; opened: () => number } {
  let current: Meter | undefined;
  let opened = 0;
  return {
    openMeter: () => {
      opened++;
      current = new Meter(0);
      return current;
    },
    attachMeter: (m) => {
      current = m;
    },
    closeMeter: () => undefined,
    current: () => current as Meter,
    opened: () => opened,
  };
}

/** One second of traffic into the current slice: `requests` ended, `ok` of them fine. */
function traffic(src: ReturnType<typeof source>, requests: number, ok: number): void {
  const m = src.current();
  m.totals.requests += requests;
  m.totals.ok += ok;
}

const WINDOW_MS = 4000;
const KEEP = 6; // as the detector: 4 slices per window + 2

t.test('a downtime longer than the ring keeps the figures from before it', async (t) => {
  const src = source();
  const slices = new SliceMeters(src, KEEP, 0, WINDOW_MS);
  // Up for 6 s: 10 requests a second, all fine, the identity confirmed every second.
  for (let s = 1; s <= 6; s++) {
    traffic(src, 10, 10);
    slices.rotate(s * 1000);
    slices.holdBefore(s * 1000);
  }
  // Down for 12 s (twice the ring): every request fails, nothing confirms.
  for (let s = 7; s <= 18; s++) {
    traffic(src, 5, 0);
    slices.rotate(s * 1000);
  }
  const before = slices.before(6000, WINDOW_MS);
  t.ok(before !== undefined, 'before figures exist');
  t.equal(before?.requests, 40, 'the four slices of the window before the last confirmation');
  t.equal(before?.errorRate, 0, 'none of the downtime in them');
  t.equal(before?.from, new Date(2000).toISOString());
  t.equal(before?.to, new Date(6000).toISOString());
  t.equal(src.opened(), KEEP + 1, 'no meter beyond the ring (keep + the one filling)');
});

t.test('with the target up, the ring keeps the latest slices', async (t) => {
  const src = source();
  const slices = new SliceMeters(src, KEEP, 0, WINDOW_MS);
  for (let s = 1; s <= 20; s++) {
    traffic(src, s, s);
    slices.rotate(s * 1000);
    slices.holdBefore(s * 1000);
  }
  const before = slices.before(20_000, WINDOW_MS);
  t.equal(before?.requests, 17 + 18 + 19 + 20, 'the last four slices');
  t.equal(slices.before(15_000, WINDOW_MS)?.requests, 15, 'a window partly older than the ring: only what is left of it');
  t.equal(slices.before(14_000, WINDOW_MS), undefined, 'wholly older than the ring: nothing');
  t.equal(src.opened(), KEEP + 1);
});
