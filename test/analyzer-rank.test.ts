/**
 * The ranking behind the likely cause (the first firing hint): firing before
 * the rest, then hints about the target before hints about llmsoak itself
 * (a leak of llmsoak's own process, then generator_bound last of all), then
 * severity, then confidence. A leak of llmsoak's own RSS, critical and sure, is reported but
 * never outranks a firing warning about the target; alone, it is the top.
 */
import t from 'tap';
import { aboutLlmsoak, rankHints } from '../src/analyzer/engine.js';
import type { Hint } from '../src/analyzer/hint.js';

const AT = new Date('2026-12-07T00:00:00Z');

function hint(rule: string, cause: string, severity: Hint['severity'], confidence: number, extra: Partial<Hint> = {}): Hint {
  return { rule, cause, severity, confidence, summary: rule, suggestion: '', evidence: {}, state: 'firing', activeAt: AT, firedAt: AT, lastEvalAt: AT, ...extra };
}

const ownLeak = hint('leak', 'leak', 'critical', 0.95, { labels: { series: 'process_resident_memory_bytes' } });
const targetLeak = hint('leak', 'leak', 'critical', 0.9, { labels: { series: 'target_process_resident_memory_bytes' } });
const drift = hint('quality_drift', 'quality_drift', 'warning', 0.7);
const generator = hint('generator_bound', 'generator_bound', 'critical', 1);

t.test('about llmsoak: generator_bound and the own-process leak, not the target RSS leak', async (t) => {
  t.ok(aboutLlmsoak(ownLeak));
  t.ok(aboutLlmsoak(generator));
  t.notOk(aboutLlmsoak(targetLeak));
  t.notOk(aboutLlmsoak(drift));
});

t.test('a firing hint about the target is the likely cause before any about llmsoak', async (t) => {
  t.same(
    rankHints([ownLeak, generator, drift]).map((h) => `${h.rule}/${h.labels?.series ?? ''}`),
    ['quality_drift/', 'leak/process_resident_memory_bytes', 'generator_bound/'],
  );
  t.equal(rankHints([ownLeak, drift])[0]?.cause, 'quality_drift', 'a warning about the target outranks a critical own leak');
});

t.test('among the target hints: severity, then confidence; the target RSS leak is one of them', async (t) => {
  t.same(
    rankHints([drift, ownLeak, targetLeak]).map((h) => `${h.rule}/${h.labels?.series ?? ''}`),
    ['leak/target_process_resident_memory_bytes', 'quality_drift/', 'leak/process_resident_memory_bytes'],
  );
  const sure = hint('overload', 'overload', 'warning', 0.9);
  t.same(
    rankHints([drift, sure]).map((h) => h.rule),
    ['overload', 'quality_drift'],
  );
});

t.test('firing first; alone, a hint about llmsoak is the top', async (t) => {
  const resolved = hint('overload', 'overload', 'critical', 1, { state: 'resolved' });
  t.same(
    rankHints([resolved, ownLeak]).map((h) => h.rule),
    ['leak', 'overload'],
  );
});
