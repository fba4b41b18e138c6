/**
 * Issue 10's must-show: a redeploy of the simulator (stopped, then started on
 * the same port with another model name) during a soak shows as ONE model
 * change (plus the restart), logged once, counted, exported as identity
 * series, and a report written
 * after the after-window has both before and after figures. The simulator is
 * a separate process on a fixed loopback port; short windows by config.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { renderMarkdown } from '../src/report/markdown.js';
import type { PeriodFigures } from '../src/report/model.js';
import { freePort, startSimulator, waitExit, waitFor } from './helpers.js';

const WINDOW_SEC = 4;

function startSim(port: number, model: string): ReturnType<typeof startSimulator> {
  return startSimulator(['--port', String(port)], { PATH: process.env.PATH ?? '', LLMSOAK_LOG__LEVEL: 'warn', LLMSOAK_SIMULATOR__MODEL: model });
}

async function healthy(url: string): Promise<void> {
  await waitFor(async () => ((await request(`${url}/health`)).statusCode === 200 ? true : undefined), 15_000);
}

function metricValue(text: string, line: string): number | undefined {
  const got = text.split('\n').find((l) => l.startsWith(`${line} `));
  return got === undefined ? undefined : Number(got.slice(line.length + 1));
}

t.test('a redeploy with another model is one model change plus one restart, with before/after figures', async (t) => {
  const port = await freePort();
  const simUrl = `http://127.0.0.1:${port}`;
  let sim = startSim(port, 'sim-a');
  t.teardown(() => sim.child.kill('SIGKILL'));
  await healthy(simUrl);

  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-changes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      target: {
        url: `${simUrl}/v1`,
        // re-found after the restart by its command line
        processName: `simulate --port ${port}$`,
        // restartMergeSec at its default (60 s): /proc sees the new pid at spawn, /metrics its start time only once it serves,
        // which on a busy 2-core machine was more than the 5 s this test once set (two restarts, ci23).
        changes: { windowSec: WINDOW_SEC, modelsIntervalMs: 500 },
      },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 10, seed: 7, scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'uniform', min: 20, max: 60 }, output: { dist: 'uniform', min: 5, max: 15 } }] },
      collectors: { intervalMs: 500, gpu: { enabled: false }, host: { enabled: false } },
      analyzer: { enabled: false },
      report: { dir },
      run: { drainMs: 1000 },
    },
  });
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) =>
    lines.push(
      ...d
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    ),
  );
  const daemon = new Daemon(config, { logger: createLogger('info', stream) });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const detector = daemon.changeDetector;
  if (!detector) throw new Error('no change detector');

  // Soak sim-a long enough for a full before-window, then redeploy it with another model.
  await new Promise((r) => setTimeout(r, (WINDOW_SEC + 2) * 1000));
  t.same(detector.events(), [], 'no change while the same server runs');
  sim.child.kill('SIGTERM');
  await waitExit(sim.child, 5000);
  const spawnedAt = Date.now();
  sim = startSim(port, 'sim-b');
  await healthy(simUrl);
  const restartedAt = Date.now();

  await waitFor(async () => {
    const kinds = detector.events().map((e) => e.kind);
    return kinds.includes('model_change') && kinds.includes('restart') ? true : undefined;
  }, 10_000);
  // (a soak report now would cover the period up to now and the next one the period after it: keep the events as a report would have them)
  const early = detector.events();
  t.equal(early.find((e) => e.kind === 'model_change')?.after, 'pending', 'before the after-window has passed, after is pending');

  // The after-window, then a report.
  await new Promise((r) => setTimeout(r, (WINDOW_SEC + 1.5) * 1000));
  const events = detector.events();
  t.equal(events.filter((e) => e.kind === 'model_change').length, 1, 'exactly one model change');
  t.equal(events.filter((e) => e.kind === 'restart').length, 1, 'exactly one restart (seen by /metrics and /proc, merged)');
  t.equal(events.filter((e) => e.kind === 'version_change').length, 0, 'no version change (same build)');
  const change = events.find((e) => e.kind === 'model_change')!;
  t.match(change.detail, /"sim-a" → "sim-b"/);
  t.ok(Math.abs(Date.parse(change.at) - restartedAt) < 5000, `detected ${((Date.parse(change.at) - restartedAt) / 1000).toFixed(1)} s after the new server answered`);

  const { report } = await daemon.runs!.soakReport(dir);
  const inReport = report.events.filter((e) => e.kind === 'model_change');
  t.equal(inReport.length, 1, 'the report lists the model change once');
  const before = inReport[0]!.before as PeriodFigures | undefined;
  const after = inReport[0]!.after;
  t.ok(before && before.requests > 0 && before.ttft !== undefined, `before: ${JSON.stringify(before)}`);
  t.ok(before && before.errorRate < 0.1, 'before the redeploy requests succeeded (the downtime is not in "before")');
  t.ok(after !== undefined && after !== 'pending', 'after is filled');
  if (after !== undefined && after !== 'pending') {
    t.ok(after.requests > 0 && after.ttft !== undefined, `after: ${JSON.stringify(after)}`);
    t.ok(after.errorRate < 0.1, 'after: the soak followed the new model (no 404 storm)');
    t.ok(after.durationSec >= WINDOW_SEC - 0.5 && after.durationSec <= WINDOW_SEC + 1, `after covers the window (${after.durationSec} s)`);
  }
  t.match(renderMarkdown({ ...report, events: early }), /after: pending/, 'a report written before then says "after: pending"');
  const md = renderMarkdown(report);
  t.match(md, /## Events/);
  t.match(md, /before: [\d.]+ req\/s/);
  t.match(md, /after: [\d.]+ req\/s/);

  const text = await daemon.registry.metrics();
  t.equal(metricValue(text, 'llmsoak_target_changes_total{kind="model"}'), 1, 'model counter');
  t.equal(metricValue(text, 'llmsoak_target_changes_total{kind="restart"}'), 1, 'restart counter');
  t.equal(metricValue(text, 'llmsoak_target_changes_total{kind="version"}'), 0, 'version counter');
  t.ok((metricValue(text, 'llmsoak_target_last_change_timestamp_seconds{kind="model"}') ?? 0) * 1000 >= restartedAt - 5000, 'last change timestamp');
  // The identity as series, from which Prometheus detects changes (LlmsoakTargetChanged, LlmsoakTargetRestarted).
  t.equal(metricValue(text, 'llmsoak_target_identity_info{source="models",key="served models",value="sim-b"}'), 1, 'identity series: the model served now');
  t.notMatch(text, /llmsoak_target_identity_info\{[^}]*value="sim-a"\}/, 'identity series: the old model is gone');
  const started = metricValue(text, 'llmsoak_target_start_time_seconds{source="process"}') ?? 0;
  t.ok(started * 1000 >= spawnedAt - 1000, `start time series: the new process (${((started * 1000 - spawnedAt) / 1000).toFixed(2)} s after its spawn)`);

  const status = (await (await request(`${daemon.listenUrl}/api/status`)).body.json()) as { target: { model: string }; targetChanges: unknown[] };
  t.equal(status.target.model, 'sim-b', '/api/status: the model requested now');
  t.equal(status.targetChanges.length, 2, '/api/status lists the changes');

  const logged = lines.filter((l) => l.includes('target change:'));
  t.equal(logged.filter((l) => l.includes('served model')).length, 1, 'the model change is logged once');
  t.equal(logged.filter((l) => l.includes('restarted')).length, 1, 'the restart is logged once');
});
