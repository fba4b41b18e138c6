/**
 * The notifier against a REAL Alertmanager (Debian's prometheus-alertmanager,
 * API v2) on 127.0.0.1: a firing hint shows up active with its labels and
 * annotations; once resolved it leaves GET /api/v2/alerts (Alertmanager lists
 * no alert whose endsAt has passed, whatever the filters) and Alertmanager
 * counts a resolved alert received. Also checks the configs in alertmanager/
 * with amtool. The binary absent is a FAILURE, never a skip.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import type { Finding } from '../src/analyzer/hint.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { AlertmanagerNotifier, defaultAlertingConfig } from '../src/alerting/alertmanager.js';
import { silentLogger } from '../src/log.js';
import { ROOT, freePort, waitExit, waitFor } from './helpers.js';

const INSTALL = 'install prometheus-alertmanager (apt-get install prometheus-alertmanager)';

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

/** What GET /api/v2/alerts returns (gettableAlert), the parts we look at. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function receivedResolved(base: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const m = /^alertmanager_alerts_received_total\{status="resolved",version="v2"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('a real Alertmanager receives, shows and resolves a hint', async (t) => {
  const bin = which('prometheus-alertmanager') ?? which('alertmanager');
  if (bin === undefined) {
    t.fail(INSTALL);
    return;
  }
  const configFile = join(ROOT, 'alertmanager', 'alertmanager.test.yml');
  // amtool ships in the same Debian package: absent is a failure with the install line, never a silent skip.
  const amtool = which('amtool');
  if (amtool === undefined) t.fail(`amtool not found: ${INSTALL}`);
  else {
    for (const f of ['alertmanager.test.yml', 'alertmanager.example.yml']) {
      const r = spawnSync(amtool, ['check-config', join(ROOT, 'alertmanager', f)], { encoding: 'utf8', timeout: 10_000 });
      t.equal(r.status, 0, `amtool check-config ${f}${r.status === 0 ? '' : `: ${r.stdout}${r.stderr}`}`);
    }
  }

  const storage = mkdtempSync(join(tmpdir(), 'llmsoak-am-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, [`--config.file=${configFile}`, `--storage.path=${storage}`, '--cluster.listen-address=', `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await waitExit(child, 5_000);
    rmSync(storage, { recursive: true, force: true });
  });

  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`alertmanager exited (${child.exitCode}): ${output}`);
    const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    return res.ok ? true : undefined;
  }, 15_000);

  const cfg = {
    ...defaultAlertingConfig(),
    alertmanagers: [{ url: base, timeoutMs: 5_000 }],
    externalLabels: { instance: 'soak-test' },
    externalUrl: 'http://127.0.0.1:9477',
    runbookBaseUrl: 'https://runbooks.example/llmsoak',
  };
  const reg = new Registry();
  const notifier = new AlertmanagerNotifier(cfg, { registry: reg, logger: silentLogger(), clock: systemClock, evaluationIntervalMs: 15_000 });
  notifier.start();
  t.teardown(() => notifier.stop(2_000));
  const tracker = new HintTracker();
  const f: Finding = {
    rule: 'kv_cache_pressure',
    severity: 'warning',
    cause: 'kv_cache_pressure',
    summary: 'KV cache 97% full and preempting',
    suggestion: 'lower max concurrent sequences',
    confidence: 0.85,
    evidence: { kv_usage_ratio: 0.97, preemptions_per_second: 2.5 },
    labels: { model: 'llama-3-8b', 'gpu.index': '0' },
  };

  // Real time: Alertmanager compares endsAt with its own clock.
  const t1 = new Date();
  tracker.update(f.rule, 0, 0, [f], t1);
  t.equal(notifier.send(tracker.all(), t1), 1);
  await notifier.idle();
  t.equal(notifier.status()[0]?.healthy, true, `POST accepted (${notifier.status()[0]?.lastError ?? ''})`);

  const filter = encodeURIComponent('rule="kv_cache_pressure"');
  const active = await getJson<GettableAlert[]>(`${base}/api/v2/alerts?filter=${filter}`);
  t.equal(active.length, 1, 'listed');
  const a = active[0];
  t.equal(a?.status.state, 'active');
  t.same(a?.labels, {
    alertname: 'KvCachePressure',
    rule: 'kv_cache_pressure',
    severity: 'warning',
    cause: 'kv_cache_pressure',
    model: 'llama-3-8b',
    gpu_index: '0',
    instance: 'soak-test',
  });
  t.equal(a?.annotations['summary'], f.summary);
  t.equal(a?.annotations['suggestion'], f.suggestion);
  t.equal(a?.annotations['confidence'], '0.85');
  t.equal(a?.annotations['runbook_url'], 'https://runbooks.example/llmsoak/kv_cache_pressure');
  t.match(a?.annotations['description'], /kv_usage_ratio: 0\.97/);
  t.same(JSON.parse(a?.annotations['evidence'] ?? '{}'), f.evidence);
  t.equal(a?.generatorURL, 'http://127.0.0.1:9477/api/hints');
  t.equal(new Date(a?.startsAt ?? 0).getTime(), t1.getTime(), 'startsAt = activeAt');
  t.equal(new Date(a?.endsAt ?? 0).getTime(), t1.getTime() + 4 * 60_000, 'endsAt = now + 4 × resend delay');

  // Resolve it: the finding is gone at the next evaluation.
  const resolvedBefore = await receivedResolved(base);
  const t2 = new Date(Math.max(Date.now(), t1.getTime() + 1));
  tracker.update(f.rule, 0, 0, [], t2);
  t.equal(tracker.all()[0]?.state, 'resolved');
  t.equal(notifier.send(tracker.all(), t2), 1);
  await notifier.idle();
  t.equal(notifier.status()[0]?.healthy, true);
  t.equal(await receivedResolved(base), resolvedBefore + 1, 'Alertmanager counted a resolved alert');
  const after = await getJson<GettableAlert[]>(`${base}/api/v2/alerts?filter=${filter}`);
  t.same(after, [], 'a resolved alert is no longer listed');
  const inactiveToo = await getJson<GettableAlert[]>(`${base}/api/v2/alerts?active=false&silenced=true&inhibited=true&unprocessed=true&filter=${filter}`);
  t.same(inactiveToo, [], 'not even among inactive ones: Alertmanager drops alerts whose endsAt has passed');
  const sent = (await reg.getMetricsAsJSON()).find((m) => m.name === 'llmsoak_alert_notifications_total');
  t.equal(sent?.values.find((v) => v.labels['outcome'] === 'sent')?.value, 2);
});
