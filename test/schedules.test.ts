/**
 * Schedules in a running daemon (6-field cron, seconds first, so the test
 * runs in seconds): a ramp that pauses the soak and resumes it, and a soak
 * report. Jobs never overlap (a job due while another runs is skipped and
 * logged), runs node-cron reports as missed are logged and counted, the next
 * run times are at /api/schedules, and the reports at /api/reports.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import type { ScheduleStatus } from '../src/schedule/scheduler.js';
import { logLines, waitFor } from './helpers.js';

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  return JSON.parse(await res.body.text()) as T;
}

async function targetRate(base: string): Promise<number> {
  const text = await (await request(`${base}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith('llmsoak_target_request_rate '));
  return Number(line?.split(' ')[1]);
}

t.test('schedules: pause and resume, no overlap, missed runs, next runs, reports', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-sched-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { stream: sink, lines } = logLines();
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0, engine: { maxNumSeqs: 16, decodeStepBaseMs: 10, decodeStepPerSeqMs: 0.25 } },
      traffic: { rate: 3, scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 16 } }] },
      collectors: { intervalMs: 1000, gpu: { enabled: false } },
      report: { dir },
      schedules: [
        // Takes ~5 s and comes due every 4 s: its own next run is skipped.
        { name: 'ramp-job', cron: '*/4 * * * * *', pauseSoak: true, mode: { kind: 'ramp', ramp: { levels: [8], warmupSec: 1, holdSec: 3.5, cooldownSec: 0.5 } } },
        { name: 'soak-report', cron: '*/2 * * * * *', mode: { kind: 'soak' } },
      ],
      log: { level: 'info' },
    },
  });
  const daemon = new Daemon(config, { logger: createLogger('info', sink) });
  t.teardown(() => daemon.stop('teardown'));
  await daemon.start();
  const base = daemon.listenUrl;

  const first = await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`);
  t.same(
    first.schedules.map((s) => [s.name, s.cron, s.kind, s.pauseSoak]),
    [
      ['ramp-job', '*/4 * * * * *', 'ramp', true],
      ['soak-report', '*/2 * * * * *', 'soak', true],
    ],
  );
  for (const s of first.schedules) {
    const next = s.nextRuns.map((x) => Date.parse(x));
    t.equal(next.length, 3, `${s.name}: three next runs`);
    t.ok(
      next.every((v) => v > Date.now() - 1000),
      `${s.name}: next runs ahead`,
    );
    const gap = s.name === 'ramp-job' ? 4000 : 2000;
    t.same(
      next.slice(1).map((v, i) => v - (next[i] as number)),
      [gap, gap],
      `${s.name}: every ${gap / 1000} s`,
    );
  }
  // The soak's own rate, read while no mode runs: the first ramp can come due within 4 s of the start
  // (ci80 read the ramp's 8 here). A wrong soak rate is returned as it is, and fails.
  const soakRate = async (): Promise<number | undefined> => {
    if (daemon.runs?.busy !== undefined) return undefined;
    const rate = await targetRate(base);
    return daemon.runs?.busy === undefined ? rate : undefined;
  };
  t.equal(await waitFor(soakRate, 16_000, 50), 3, 'the soak runs at 3 req/s');

  // While the ramp runs the soak is paused (the rate is the ramp's, not 3 + 8); after it, back to 3.
  // Up to four ramp slots: on a loaded machine a slot can be missed while the soak report of the slot before still runs (no overlap).
  await waitFor(async () => ((await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`)).schedules[0]?.running ? true : undefined), 16_000, 50);
  await waitFor(async () => ((await targetRate(base)) === 8 ? true : undefined), 3000, 50);
  const status = await getJson<{ activity: string }>(`${base}/api/status`);
  t.match(status.activity, /ramp 8 req\/s/, 'the status says what runs');
  await waitFor(async () => ((await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`)).schedules[0]?.lastRun?.outcome !== 'running' ? true : undefined), 10_000, 100);
  t.equal(await targetRate(base), 3, 'the soak resumed at 3 req/s');

  // A soak report comes due every 2 s between ramps.
  const snap = await waitFor(
    async () => {
      const s = (await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`)).schedules;
      return s[1]?.lastRun?.endedAt !== undefined && (s[0]?.skipped ?? 0) + (s[1]?.skipped ?? 0) >= 1 ? s : undefined;
    },
    12_000,
    200,
  );
  const [ramp, soak] = snap as [ScheduleStatus, ScheduleStatus];
  t.ok(ramp.runs >= 1 && ramp.lastRun?.report?.startsWith('ramp-'), `ramp ran ${ramp.runs}×, report ${ramp.lastRun?.report}`);
  t.ok(soak.runs >= 1 && soak.lastRun?.report?.startsWith('soak-'), `soak report ran ${soak.runs}×`);
  t.ok(ramp.skipped + soak.skipped >= 1, `skipped: ramp ${ramp.skipped}, soak ${soak.skipped}`);
  const skippedLines = lines.filter((l) => l.includes('skipped:') && l.includes('is still running'));
  t.ok(skippedLines.length >= 1, `skips logged (${skippedLines.length})`);

  // Never two at once: in the log, every start is followed by its own end before the next start.
  const events = lines
    .map((l) => /"msg":"schedule ([a-z-]+): (?:(?:ramp|soak) (starting)|(done|failed))/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}:${m[2] ?? 'end'}`);
  t.ok(events.length >= 4, `runs logged: ${events.join(' ')}`);
  t.ok(
    events.every((e, i) => (i % 2 === 0 ? e.endsWith(':starting') : e === `${events[i - 1]?.split(':')[0]}:end`)),
    'start, end, start, end: no overlap',
  );

  // Reports listed and served.
  const listed = await getJson<{ reports: { name: string; kind: string; links: { html: string } }[] }>(`${base}/api/reports`);
  t.ok(listed.reports.some((r) => r.kind === 'ramp') && listed.reports.some((r) => r.kind === 'soak'), `reports: ${listed.reports.map((r) => r.name).join(', ')}`);
  const soakReport = listed.reports.find((r) => r.kind === 'soak');
  const html = await request(`${base}${soakReport?.links.html}`);
  t.equal(html.statusCode, 200);
  t.match(String(html.headers['content-type']), /text\/html/);
  await html.body.dump();

  // Block the event loop past a due time: node-cron reports the run as missed; it is logged and counted.
  // Atomics.wait blocks this thread asleep (what a stuck or suspended event loop looks like to the scheduler)
  // without burning a core that the tests running beside this one need.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4500);
  const missed = await waitFor(
    async () => {
      const s = (await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`)).schedules;
      return s.some((x) => x.missed > 0) ? s : undefined;
    },
    6000,
    100,
  );
  t.ok(
    missed.some((x) => x.lastMissedAt !== undefined),
    'missed run counted with its time',
  );
  t.ok(
    lines.some((l) => l.includes('missed the run due at')),
    'missed run logged',
  );

  const t0 = Date.now();
  await daemon.stop('test done');
  t.ok(Date.now() - t0 < 15_000, `stops promptly, a ramp in progress ends early (${Date.now() - t0} ms)`);
  const after = await getJson<{ schedules: ScheduleStatus[] }>(`${base}/api/schedules`).catch(() => undefined);
  t.equal(after, undefined, 'the server is closed');
});
