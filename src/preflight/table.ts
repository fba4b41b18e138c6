/** The preflight as a compact text table (stdout of `llmsoak check-target`, stderr of `llmsoak run`), then one line per problem. */
import type { CheckStatus, PreflightResult } from './types.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', info: '--' };

export function renderPreflight(r: PreflightResult): string {
  const rows = r.checks.map((c) => [c.check, MARK[c.status], c.detail]);
  const w0 = Math.max(5, ...rows.map((x) => (x[0] as string).length));
  const w1 = Math.max(6, ...rows.map((x) => (x[1] as string).length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`.trimEnd();
  const out = [`preflight of ${r.target} (model ${r.model}) in ${r.durationMs} ms`, line('check', 'result', 'detail')];
  for (const x of rows) out.push(line(x[0] as string, x[1] as string, x[2] as string));
  const sc = r.scenarios.map((s) => {
    const what = s.runnable ? 'ok' : s.action === 'skipped' ? 'SKIPPED' : s.action === 'kept' ? 'KEPT (will fail)' : s.missing ? 'MISSING ENDPOINT' : 'FAILING';
    return `${s.name} ${what}`;
  });
  out.push(`scenarios: ${sc.join(', ')}`);
  if (r.problems.length === 0) out.push('nothing found that will not work');
  for (const p of r.problems) out.push(`will not work: ${p}`);
  return `${out.join('\n')}\n`;
}
