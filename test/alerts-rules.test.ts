/**
 * The shape of alerts/llmsoak-rules.yml as on-call needs it: every alert has a
 * severity (page or ticket), a summary, a description that shows the value
 * and labels, a runbook_url to its own file under alerts/runbooks/, and at
 * least one promtool unit test where it fires. Every relative link of the
 * runbooks, docs/ and the README resolves (the file, and its #anchor).
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './helpers.js';

const RUNBOOK_BASE = 'https://github.com/llmsoak/llmsoak/blob/main/alerts/runbooks/';
const SEVERITIES = new Set(['page', 'ticket']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

interface AlertRule {
  alert: string;
  expr: string;
  labels: Obj;
  annotations: Obj;
  for?: string;
}

function loadAlerts(): AlertRule[] {
  const doc: unknown = parse(readFileSync(join(ROOT, 'alerts', 'llmsoak-rules.yml'), 'utf8'));
  const out: AlertRule[] = [];
  if (!isObj(doc)) return out;
  for (const g of arr(doc.groups)) {
    if (!isObj(g)) continue;
    for (const r of arr(g.rules)) {
      if (!isObj(r)) continue;
      const alert = str(r, 'alert');
      if (alert === undefined) continue;
      out.push({
        alert,
        expr: str(r, 'expr') ?? '',
        labels: isObj(r.labels) ? r.labels : {},
        annotations: isObj(r.annotations) ? r.annotations : {},
        for: str(r, 'for'),
      });
    }
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to '-'. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** alertname -> eval times at which some promtool test expects it to fire. */
function firingTests(): Map<string, string[]> {
  const dir = join(ROOT, 'alerts', 'tests');
  const fired = new Map<string, string[]>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yml'))) {
    const doc: unknown = parse(readFileSync(join(dir, f), 'utf8'));
    if (!isObj(doc)) continue;
    for (const tc of arr(doc.tests)) {
      if (!isObj(tc)) continue;
      for (const a of arr(tc.alert_rule_test)) {
        if (!isObj(a)) continue;
        const name = str(a, 'alertname');
        if (name === undefined || arr(a.exp_alerts).length === 0) continue;
        fired.set(name, [...(fired.get(name) ?? []), `${f}@${String(a.eval_time)}`]);
      }
    }
  }
  return fired;
}

const alerts = loadAlerts();

t.test('rules file has alerts with unique names', async (t) => {
  t.ok(alerts.length >= 20, `${alerts.length} alerts`);
  const names = alerts.map((a) => a.alert);
  t.same([...new Set(names)].sort(), [...names].sort(), 'alert names are unique');
  for (const n of names) t.match(n, /^Llmsoak[A-Z][A-Za-z0-9]+$/, `${n}: Llmsoak prefix, CamelCase`);
});

t.test('every alert carries severity, summary, description and runbook', async (t) => {
  for (const a of alerts) {
    const sev = str(a.labels, 'severity');
    t.ok(sev !== undefined && SEVERITIES.has(sev), `${a.alert}: severity page|ticket (got ${String(sev)})`);
    const summary = str(a.annotations, 'summary') ?? '';
    const description = str(a.annotations, 'description') ?? '';
    t.ok(summary.length > 10, `${a.alert}: summary`);
    t.match(description, /\{\{ \$value[ |}]/, `${a.alert}: description shows {{ $value }}`);
    t.match(description, /\{\{ \$labels\.\w+ \}\}/, `${a.alert}: description names labels`);
    t.equal(str(a.annotations, 'runbook_url'), `${RUNBOOK_BASE}${a.alert}.md`, `${a.alert}: runbook_url`);
  }
});

t.test('burn-rate alerts use the multi-window multi-burn-rate thresholds', async (t) => {
  const fast = alerts.filter((a) => a.alert.endsWith('BudgetBurnFast'));
  const slow = alerts.filter((a) => a.alert.endsWith('BudgetBurnSlow'));
  t.equal(fast.length, 4, 'availability, TTFT, E2E, goodput: fast');
  t.equal(slow.length, 4, 'availability, TTFT, E2E, goodput: slow');
  for (const a of fast) {
    t.equal(str(a.labels, 'severity'), 'page', `${a.alert} pages`);
    for (const w of ['1h', '5m', '6h', '30m']) t.match(a.expr, new RegExp(`ratio_rate${w} `), `${a.alert}: window ${w}`);
    t.match(a.expr, /> 14\.4/, `${a.alert}: 14.4`);
    t.match(a.expr, /> 6\b/, `${a.alert}: 6`);
  }
  for (const a of slow) {
    t.equal(str(a.labels, 'severity'), 'ticket', `${a.alert} tickets`);
    for (const w of ['1d', '2h', '3d', '6h']) t.match(a.expr, new RegExp(`ratio_rate${w} `), `${a.alert}: window ${w}`);
    t.match(a.expr, /> 3\b/, `${a.alert}: 3`);
    t.match(a.expr, /> 1\b/, `${a.alert}: 1`);
  }
  const latency = alerts.filter((a) => /TTFTBudget|E2EBudget/.test(a.alert));
  t.equal(latency.length, 4, 'latency SLO alerts');
});

t.test('leak alerts extrapolate with predict_linear and wait with for', async (t) => {
  for (const name of ['LlmsoakTargetMemoryExhaustion', 'LlmsoakTargetFdExhaustion', 'LlmsoakGpuMemoryExhaustion']) {
    const a = alerts.find((x) => x.alert === name);
    t.ok(a, `${name} exists`);
    t.match(a?.expr ?? '', /predict_linear\(/, `${name}: predict_linear`);
    t.ok((a?.for ?? '') !== '', `${name}: has a for`);
  }
});

t.test("every alert has its runbook file, and every runbook file is an alert's", async (t) => {
  const dir = join(ROOT, 'alerts', 'runbooks');
  const files = new Set(readdirSync(dir).filter((f) => f !== 'README.md' && f.endsWith('.md')));
  for (const a of alerts) {
    t.ok(files.has(`${a.alert}.md`), `${a.alert}: alerts/runbooks/${a.alert}.md exists`);
    const text = files.has(`${a.alert}.md`) ? readFileSync(join(dir, `${a.alert}.md`), 'utf8') : '';
    t.match(text, new RegExp(`^# Runbook: ${a.alert}\n`), `${a.alert}: its runbook is titled with the alert's name`);
  }
  for (const f of files)
    t.ok(
      alerts.some((a) => `${a.alert}.md` === f),
      `${f} belongs to an alert`,
    );
  const index = readFileSync(join(dir, 'README.md'), 'utf8');
  for (const a of alerts) t.ok(index.includes(`(${a.alert}.md)`), `the runbook index links ${a.alert}`);
});

/** Markdown files whose relative links are checked. */
function markdownFiles(): string[] {
  const out = ['README.md'];
  for (const d of ['docs', join('alerts', 'runbooks')]) for (const f of readdirSync(join(ROOT, d))) if (f.endsWith('.md')) out.push(join(d, f));
  return out;
}

function anchorsOf(file: string): Set<string> {
  let fence = false;
  const out = new Set<string>();
  for (const l of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (l.startsWith('```')) fence = !fence;
    if (!fence && /^#{1,6} /.test(l)) out.add(githubSlug(l.replace(/^#+ /, '')));
  }
  return out;
}

t.test('every relative link in the README, docs/ and the runbooks resolves', async (t) => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1] ?? '';
      if (/^[a-z]+:/.test(link)) continue;
      checked++;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), path);
      let exists = true;
      try {
        statSync(join(ROOT, target));
      } catch {
        exists = false;
      }
      if (!exists) broken.push(`${file}: ${link} (no such file)`);
      else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) broken.push(`${file}: ${link} (no heading #${anchor})`);
    }
  }
  t.ok(checked > 50, `${checked} links checked`);
  t.same(broken, [], 'no broken link');
});

t.test('every alert fires in at least one promtool unit test', async (t) => {
  const fired = firingTests();
  for (const a of alerts) t.ok((fired.get(a.alert) ?? []).length > 0, `${a.alert} fires in ${(fired.get(a.alert) ?? []).join(', ') || 'no test'}`);
  for (const name of fired.keys())
    t.ok(
      alerts.some((a) => a.alert === name),
      `tested alert ${name} exists`,
    );
});
