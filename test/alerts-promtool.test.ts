/**
 * The Prometheus rules in alerts/ pass `promtool check rules`, and their unit
 * tests in alerts/tests/ (series notation, expected alerts with rendered
 * annotations) pass `promtool test rules`.
 * promtool absent is a failure, never a skip: apt-get install prometheus.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const ALERTS = join(ROOT, 'alerts');
const TESTS = join(ALERTS, 'tests');

function findPromtool(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

const promtool = findPromtool();

t.test('promtool check rules alerts/*.yml', async (t) => {
  if (promtool === undefined) {
    t.fail('install prometheus (apt-get install prometheus)');
    return;
  }
  const files = yamlFiles(ALERTS);
  t.ok(files.length > 0, 'rule files exist');
  const r = spawnSync(promtool, ['check', 'rules', ...files], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, `promtool check rules:\n${r.stdout}${r.stderr}`);
  t.match(r.stdout, /SUCCESS: \d+ rules found/, 'rules found');
});

t.test('promtool test rules alerts/tests/*.yml', async (t) => {
  if (promtool === undefined) {
    t.fail('install prometheus (apt-get install prometheus)');
    return;
  }
  const files = yamlFiles(TESTS);
  t.ok(files.length > 0, 'rule test files exist');
  // cwd = alerts/tests so that rule_files (../llmsoak-rules.yml) resolve as promtool expects
  const r = spawnSync(promtool, ['test', 'rules', ...files], { cwd: TESTS, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, `promtool test rules:\n${r.stdout}${r.stderr}`);
  t.equal((r.stdout.match(/SUCCESS/g) ?? []).length, files.length, 'every test file succeeded');
  t.notMatch(r.stdout + r.stderr, /FAILED/, 'no failed test');
});
