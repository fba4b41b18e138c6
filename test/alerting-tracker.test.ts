/**
 * The hint tracker: Prometheus' alert state machine (rules/alerting.go),
 * driven by explicit evaluation times (no timers, no wall clock).
 */
import t from 'tap';
import { Registry } from 'prom-client';
import type { Finding } from '../src/analyzer/hint.js';
import { hintKey } from '../src/analyzer/hint.js';
import { HintTracker, RESOLVED_RETENTION_MS, UNTRUSTWORTHY_PREFIX, describeTransition, type Transition } from '../src/analyzer/tracker.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const at = (s: number): Date => new Date(T0 + s * 1000);
const FOR = 60_000;

function finding(over: Partial<Finding> = {}): Finding {
  return {
    rule: 'kv_cache_pressure',
    severity: 'warning',
    cause: 'kv_cache_pressure',
    summary: 'KV cache 97% full and preempting',
    suggestion: 'lower max concurrent sequences',
    confidence: 0.8,
    evidence: { kv_usage_ratio: 0.97, preemptions_per_second: 2 },
    ...over,
  };
}

function moves(trs: Transition[]): string[] {
  return trs.map((x) => `${x.from}->${x.to}`);
}

async function gaugeValues(reg: Registry): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const json = await reg.getMetricsAsJSON();
  const m = json.find((x) => x.name === 'llmsoak_hint_active');
  return (m?.values ?? []).map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value }));
}

t.test('pending, then firing after `for` of continuous presence', async (t) => {
  const reg = new Registry();
  const tr = new HintTracker({ registry: reg });
  t.same(moves(tr.update('kv_cache_pressure', FOR, 0, [finding()], at(0))), ['inactive->pending']);
  t.equal(tr.active()[0]?.state, 'pending');
  t.same(await gaugeValues(reg), [], 'pending is not counted in llmsoak_hint_active');
  for (const s of [15, 30, 45]) {
    t.same(tr.update('kv_cache_pressure', FOR, 0, [finding()], at(s)), [], `still pending at ${s}s`);
  }
  const fired = tr.update('kv_cache_pressure', FOR, 0, [finding()], at(60));
  t.same(moves(fired), ['pending->firing']);
  const h = tr.active()[0];
  t.equal(h?.state, 'firing');
  t.equal(h?.activeAt.getTime(), at(0).getTime(), 'activeAt = first evaluation it was present');
  t.equal(h?.firedAt?.getTime(), at(60).getTime());
  t.equal(h?.lastEvalAt.getTime(), at(60).getTime());
  t.same(await gaugeValues(reg), [{ labels: { rule: 'kv_cache_pressure', severity: 'warning', cause: 'kv_cache_pressure' }, value: 1 }]);
  t.match(describeTransition(fired[0] as Transition), /^hint kv_cache_pressure \(warning, kv_cache_pressure\) pending -> firing$/);
});

t.test('for = 0 fires at the first evaluation, without a pending step', async (t) => {
  const tr = new HintTracker();
  t.same(moves(tr.update('r', 0, 0, [finding({ rule: 'r' })], at(0))), ['inactive->firing']);
  t.equal(tr.firing().length, 1);
});

t.test('a finding that flaps inside `for` never fires', async (t) => {
  const tr = new HintTracker();
  const all: string[] = [];
  // present 45 s, absent 15 s, over and over for 10 minutes: never 60 s in a row
  for (let s = 0; s <= 600; s += 15) {
    const present = s % 60 !== 45;
    all.push(...moves(tr.update('kv_cache_pressure', FOR, 0, present ? [finding()] : [], at(s))));
    t.not(tr.active()[0]?.state, 'firing', `not firing at ${s}s`);
  }
  t.notOk(all.includes('pending->firing'));
  t.ok(all.includes('pending->inactive'), 'a pending hint whose finding is gone is dropped');
  // after a drop, the next appearance is a new hint with a new activeAt
  const tr2 = new HintTracker();
  tr2.update('kv_cache_pressure', FOR, 0, [finding()], at(0));
  tr2.update('kv_cache_pressure', FOR, 0, [], at(15));
  t.same(tr2.all(), []);
  tr2.update('kv_cache_pressure', FOR, 0, [finding()], at(30));
  t.equal(tr2.active()[0]?.activeAt.getTime(), at(30).getTime());
  t.same(tr2.update('kv_cache_pressure', FOR, 0, [finding()], at(75)), [], '45 s since the new activeAt: still pending');
  t.same(moves(tr2.update('kv_cache_pressure', FOR, 0, [finding()], at(90))), ['pending->firing']);
});

t.test('resolved: kept 15 minutes, then forgotten', async (t) => {
  const reg = new Registry();
  const tr = new HintTracker({ registry: reg });
  tr.update('kv_cache_pressure', 0, 0, [finding()], at(0));
  t.same(moves(tr.update('kv_cache_pressure', 0, 0, [], at(30))), ['firing->resolved']);
  t.same(tr.active(), [], 'a resolved hint is not active');
  const r = tr.all()[0];
  t.equal(r?.state, 'resolved');
  t.equal(r?.resolvedAt?.getTime(), at(30).getTime());
  t.same(await gaugeValues(reg), [], 'llmsoak_hint_active series removed when it resolves');
  const retentionS = RESOLVED_RETENTION_MS / 1000;
  for (let s = 45; s <= 30 + retentionS; s += 15) {
    t.same(tr.update('kv_cache_pressure', 0, 0, [], at(s)), [], 'forgetting is not a state change');
    if (tr.all().length !== 1) t.fail(`forgotten too early at ${s}s`);
  }
  t.equal(tr.all().length, 1, 'still there exactly 15 min after resolution');
  tr.update('kv_cache_pressure', 0, 0, [], at(30 + retentionS + 15));
  t.same(tr.all(), [], 'forgotten after 15 min');
});

t.test('a resolved hint that comes back is a new pending hint', async (t) => {
  const tr = new HintTracker();
  tr.update('kv_cache_pressure', FOR, 0, [finding()], at(0));
  tr.update('kv_cache_pressure', FOR, 0, [finding()], at(60));
  tr.update('kv_cache_pressure', FOR, 0, [], at(120));
  t.same(moves(tr.update('kv_cache_pressure', FOR, 0, [finding()], at(180))), ['resolved->pending']);
  const h = tr.all();
  t.equal(h.length, 1, 'replaces the resolved one');
  t.equal(h[0]?.state, 'pending');
  t.equal(h[0]?.activeAt.getTime(), at(180).getTime());
  t.equal(h[0]?.resolvedAt, undefined);
});

t.test('identity: rule + labels (+ severity, cause); never evidence, summary or confidence', async (t) => {
  const reg = new Registry();
  const tr = new HintTracker({ registry: reg });
  tr.update('kv_cache_pressure', FOR, 0, [finding({ labels: { model: 'm1', gpu: '0' } })], at(0));
  const changed = finding({
    labels: { gpu: '0', model: 'm1' }, // other key order
    evidence: { kv_usage_ratio: 0.99, preemptions_per_second: 7 },
    summary: 'KV cache 99% full',
    suggestion: 'add GPUs',
    confidence: 0.95,
  });
  t.same(tr.update('kv_cache_pressure', FOR, 0, [changed], at(30)), [], 'same hint: no transition');
  const fired = tr.update('kv_cache_pressure', FOR, 0, [changed], at(60));
  t.same(moves(fired), ['pending->firing'], 'for counted from the first evaluation despite evidence changes');
  const h = tr.active();
  t.equal(h.length, 1);
  t.same(h[0]?.evidence, { kv_usage_ratio: 0.99, preemptions_per_second: 7 }, 'evidence: last write wins');
  t.equal(h[0]?.summary, 'KV cache 99% full');
  t.equal(h[0]?.confidence, 0.95);
  t.equal(hintKey(finding({ labels: { a: '1', b: '2' } })), hintKey(finding({ labels: { b: '2', a: '1' } })));
  t.not(hintKey(finding({ labels: { model: 'm1' } })), hintKey(finding({ labels: { model: 'm2' } })));
  t.equal(hintKey(finding({ labels: { model: 'm1', severity: 'critical' } })), hintKey(finding({ labels: { model: 'm1' } })), "reserved names in a finding's labels are ignored");

  // a second label set of the same rule is a second hint; the gauge counts both
  const two = [changed, finding({ labels: { model: 'm2', gpu: '1' } })];
  tr.update('kv_cache_pressure', 0, 0, two, at(75));
  t.equal(tr.firing().length, 2);
  t.same(
    (await gaugeValues(reg)).map((v) => v.value),
    [2],
    'llmsoak_hint_active counts firing hints per rule/severity/cause',
  );

  // a severity change is a different alert (it is an Alertmanager label): the old one resolves
  const tr2 = new HintTracker();
  tr2.update('kv_cache_pressure', 0, 0, [finding()], at(0));
  t.same(moves(tr2.update('kv_cache_pressure', 0, 0, [finding({ severity: 'critical' })], at(15))).sort(), ['firing->resolved', 'inactive->firing']);
  // duplicates within one evaluation: the first wins
  const tr3 = new HintTracker();
  tr3.update('r', 0, 0, [finding({ rule: 'r', summary: 'first' }), finding({ rule: 'r', summary: 'second' })], at(0));
  t.equal(tr3.all().length, 1);
  t.equal(tr3.all()[0]?.summary, 'first');
});

t.test('keepFiringFor keeps a firing hint firing after its finding is gone', async (t) => {
  const tr = new HintTracker();
  const KEEP = 30_000;
  tr.update('r', 0, KEEP, [finding({ rule: 'r' })], at(0));
  t.same(tr.update('r', 0, KEEP, [], at(15)), [], 'absent once: keeps firing');
  t.same(tr.update('r', 0, KEEP, [], at(30)), [], 'absent 15 s: keeps firing');
  t.equal(tr.firing().length, 1);
  t.same(moves(tr.update('r', 0, KEEP, [], at(45))), ['firing->resolved'], 'absent 30 s = keepFiringFor: resolved');
  t.equal(tr.all()[0]?.resolvedAt?.getTime(), at(45).getTime());

  // presence resets the keep-firing window
  const tr2 = new HintTracker();
  tr2.update('r', 0, KEEP, [finding({ rule: 'r' })], at(0));
  tr2.update('r', 0, KEEP, [], at(15));
  tr2.update('r', 0, KEEP, [finding({ rule: 'r' })], at(30));
  t.same(tr2.update('r', 0, KEEP, [], at(45)), []);
  t.same(tr2.update('r', 0, KEEP, [], at(60)), [], 'window restarted at 45 s');
  t.same(moves(tr2.update('r', 0, KEEP, [], at(75))), ['firing->resolved']);

  // keepFiringFor does not apply to pending hints
  const tr3 = new HintTracker();
  tr3.update('r', FOR, KEEP, [finding({ rule: 'r' })], at(0));
  t.same(moves(tr3.update('r', FOR, KEEP, [], at(15))), ['pending->inactive']);
});

t.test('generator bound: every hint is untrustworthy and says so', async (t) => {
  const tr = new HintTracker();
  tr.update('a', 0, 0, [finding({ rule: 'a', summary: 'A is slow' })], at(0));
  tr.update('b', FOR, 0, [finding({ rule: 'b', summary: 'B is slow' })], at(0));
  tr.update('c', 0, 0, [finding({ rule: 'c', summary: 'C was slow' })], at(0));
  tr.update('c', 0, 0, [], at(15)); // resolved before the generator got bound
  tr.setGeneratorBound(true);
  t.ok(tr.isGeneratorBound());
  for (const h of tr.active()) {
    t.equal(h.untrustworthy, true, `${h.rule} marked`);
    t.ok(h.summary.startsWith(UNTRUSTWORTHY_PREFIX), `${h.rule} summary says so`);
    t.match(h.summary, /not trustworthy/);
  }
  const c = tr.all().find((h) => h.rule === 'c');
  t.equal(c?.untrustworthy, undefined, 'a resolved hint keeps what it had');
  t.equal(c?.summary, 'C was slow');
  // refreshed and new findings while bound are marked, the prefix never doubles
  tr.update('a', 0, 0, [finding({ rule: 'a', summary: 'A is slower' })], at(30));
  tr.update('d', 0, 0, [finding({ rule: 'd', summary: 'D' })], at(30));
  t.equal(tr.all().find((h) => h.rule === 'a')?.summary, `${UNTRUSTWORTHY_PREFIX}A is slower`);
  t.equal(tr.all().find((h) => h.rule === 'd')?.untrustworthy, true);
  tr.setGeneratorBound(false);
  for (const h of tr.active()) {
    t.equal(h.untrustworthy, undefined);
    t.notOk(h.summary.startsWith(UNTRUSTWORTHY_PREFIX));
  }
  t.equal(tr.all().find((h) => h.rule === 'a')?.summary, 'A is slower');
});

t.test('snapshots cannot change the tracker', async (t) => {
  const tr = new HintTracker();
  tr.update('r', 0, 0, [finding({ rule: 'r', labels: { model: 'm' } })], at(0));
  const h = tr.all()[0];
  if (h === undefined) throw new Error('no hint');
  h.state = 'resolved';
  h.evidence['x'] = 1;
  if (h.labels) h.labels['model'] = 'other';
  const again = tr.all()[0];
  t.equal(again?.state, 'firing');
  t.same(again?.evidence, finding().evidence);
  t.same(again?.labels, { model: 'm' });
});
