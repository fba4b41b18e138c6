/**
 * Restarts: soak state is checkpointed (atomic, versioned, checksummed file)
 * and resumed; a kill -9 mid-write never leaves an unusable checkpoint; a
 * corrupt or half-written one is detected, reported in one line, and the
 * daemon starts clean instead of crashing.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { Recorder } from '../src/metrics/recorder.js';
import { systemClock } from '../src/clock.js';
import { CheckpointError, loadCheckpoint, readCheckpointFile, writeCheckpoint, type SectionData } from '../src/state/checkpoint-file.js';
import { Checkpointer } from '../src/state/checkpointer.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger, silentLogger } from '../src/log.js';
import type { RequestRecord } from '../src/types.js';
import { startHostileServer } from './hostile-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (t: { teardown(fn: () => void): void }) => {
  const d = mkdtempSync(join(tmpdir(), 'llmsoak-state-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

function capture(): { stream: Writable; text: () => string } {
  let buf = '';
  return {
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        buf += c.toString();
        cb();
      },
    }),
    text: () => buf,
  };
}

/** A store with raw and downsampled points, counters, gauges and a staleness marker. */
function filledStore(): SeriesStore {
  const s = new SeriesStore({ stepSec: 1, rawRetentionSec: 120, tiers: [{ resolutionSec: 10, retentionSec: 600 }], maxSeries: 100 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 300; i++) {
    s.beginSample(t0 + i * 1000);
    s.set('llmsoak_requests_total', { scenario: 'a', outcome: 'ok' }, i * 3, 'counter');
    s.set('process_resident_memory_bytes', {}, 1e8 + i * 1000);
    if (i < 150) s.set('short_lived', { k: 'v' }, i);
    s.commitSample();
  }
  return s;
}

t.test('series store, tracker and recorder survive a checkpoint round trip exactly', async (t) => {
  const dir = tmp(t);
  const store = filledStore();
  const tracker = new HintTracker();
  const t0 = new Date(1_700_000_100_000);
  const finding = { rule: 'r', severity: 'warning' as const, cause: 'leak', summary: 's', suggestion: 'x', confidence: 0.9, evidence: { slope: 1 } };
  tracker.update('r', 0, 0, [finding], t0);
  tracker.update('q', 60_000, 0, [{ ...finding, rule: 'q', cause: 'slow' }], t0);
  const rec = new Recorder(new Registry(), { slo: { ttftMs: 1000, tpotMs: 100, e2eMs: 10000, maxErrorRate: 0.01, minGoodRatio: 0.95, minAchievedRatio: 0.9 }, windowMs: 60000, clock: systemClock });
  const s = rec.scenario('a', 'chat', 'm');
  const meter = rec.openMeter(); // a report in progress (a soak period, a ramp step)
  for (let i = 0; i < 500; i++) {
    rec.started();
    const r: RequestRecord = {
      id: String(i),
      scenario: 'a',
      endpoint: 'chat',
      model: 'm',
      stream: true,
      scheduledAt: 0n,
      sentAt: 1_000_000n,
      firstTokenAt: BigInt(1_000_000 + i * 100_000),
      lastTokenAt: BigInt(2_000_000 + i * 200_000),
      endedAt: BigInt(3_000_000 + i * 200_000),
      tokenGapsNs: [],
      contentChunks: 2,
      inputTokens: 10,
      outputTokens: 5,
      tokenSource: 'usage',
      outcome: i % 10 === 0 ? 'http_5xx' : 'ok',
    };
    rec.record(s, r, 0);
  }
  const sections = new Map<string, SectionData>([
    ['store', store.toSnapshot()],
    ['tracker', { json: tracker.toSnapshot() }],
    ['recorder', { json: rec.toSnapshot() }],
    ['report', { json: meter.toSnapshot() }],
  ]);
  const bytes = await writeCheckpoint(dir, sections, { version: 'test', nowMs: Date.now() });
  t.ok(bytes > 0 && bytes < 200_000, `written, ${bytes} bytes (compressed)`);
  const back = await readCheckpointFile(join(dir, 'checkpoint'));

  const s2 = SeriesStore.fromSnapshot(
    { stepSec: 1, rawRetentionSec: 120, tiers: [{ resolutionSec: 10, retentionSec: 600 }], maxSeries: 100 },
    back.sections.get('store') as { json: unknown; blobs: Uint8Array[] },
  );
  t.same(s2.stats(), store.stats(), 'same shape, counters and footprint');
  for (const info of store.all()) {
    const id2 = s2.select(info.key)[0]?.id as number;
    t.same(s2.points(id2, 0, Infinity), store.points(info.id, 0, Infinity), `same points for ${info.key} (raw and downsampled)`);
    t.same(s2.instant(id2, store.lastSampleMs, 300_000), store.instant(info.id, store.lastSampleMs, 300_000), `same instant value for ${info.key} (staleness kept)`);
  }
  // The restored store takes new samples where the old one left off.
  t.ok(s2.beginSample(store.lastSampleMs + 1000));
  s2.set('llmsoak_requests_total', { scenario: 'a', outcome: 'ok' }, 5, 'counter');
  s2.commitSample();
  t.equal(s2.stats().samples, 301);
  t.throws(() => SeriesStore.fromSnapshot({ stepSec: 5 }, back.sections.get('store') as { json: unknown; blobs: Uint8Array[] }), /another step/, 'another shape is refused, not misread');

  const tr2 = new HintTracker();
  tr2.restore(back.sections.get('tracker')?.json as Parameters<HintTracker['restore']>[0]);
  t.same(tr2.all(), tracker.all(), 'hints, states and instants restored');
  t.equal(tr2.firing().length, 1);
  const later = new Date(t0.getTime() + 60_000);
  t.same(
    tr2.update('q', 60_000, 0, [{ ...finding, rule: 'q', cause: 'slow' }], later).map((x) => x.to),
    ['firing'],
    'a pending hint goes on counting its `for` across the restart',
  );

  const rec2 = new Recorder(new Registry(), { slo: { ttftMs: 1000, tpotMs: 100, e2eMs: 10000, maxErrorRate: 0.01, minGoodRatio: 0.95, minAchievedRatio: 0.9 }, windowMs: 60000, clock: systemClock });
  rec2.restore(back.sections.get('recorder')?.json as Parameters<Recorder['restore']>[0]);
  t.same(rec2.totals, rec.totals, 'run totals restored');
  const p = (r: Recorder) => r.totalsHdr.ttft.snapshot();
  t.equal(p(rec2).count, p(rec).count);
  t.ok(Math.abs(p(rec2).p99 - p(rec).p99) / p(rec).p99 < 0.002, 'whole-run percentiles restored (HDR, 0.1 %)');
  const meter2 = rec2.openMeter();
  meter2.restore(back.sections.get('report')?.json as Parameters<typeof meter2.restore>[0]);
  t.same(meter2.totals, meter.totals, 'a report in progress (meter) restored');
  t.equal(meter2.startedAtMs, meter.startedAtMs);
  t.equal(meter2.hdr.e2e.count(), meter.hdr.e2e.count());
});

t.test('corrupt, truncated and foreign checkpoints are detected; the previous one is used', async (t) => {
  const dir = tmp(t);
  const write = (gen: number) => writeCheckpoint(dir, new Map([['gen', { json: { gen }, blobs: [new Uint8Array(100_000).fill(gen)] }]]), { version: 'test', nowMs: Date.now() });
  await write(1);
  await write(2);
  t.same(readdirSync(dir).sort(), ['checkpoint', 'checkpoint.prev']);
  const file = join(dir, 'checkpoint');
  const good = readFileSync(file);

  const flipped = Buffer.from(good);
  flipped[Math.floor(flipped.length / 2)] ^= 0xff;
  writeFileSync(file, flipped);
  await t.rejects(readCheckpointFile(file), { name: 'CheckpointError', message: /corrupt/ }, 'a flipped byte');
  writeFileSync(file, good.subarray(0, good.length - 20));
  await t.rejects(readCheckpointFile(file), { message: /half-written/ }, 'truncated');
  writeFileSync(file, good.subarray(0, 30));
  await t.rejects(readCheckpointFile(file), { message: /truncated|corrupt|half-written/ }, 'cut short');
  writeFileSync(file, 'not a checkpoint at all\n'.repeat(10));
  await t.rejects(readCheckpointFile(file), { message: /not a llmsoak checkpoint/ });
  const v2 = Buffer.from(good);
  v2.writeUInt32BE(99, 19);
  writeFileSync(file, v2);
  await t.rejects(readCheckpointFile(file), { message: /format version 99/ });

  const problems: string[] = [];
  const got = await loadCheckpoint(dir, problems);
  t.same(got?.sections.get('gen')?.json, { gen: 1 }, 'falls back to checkpoint.prev');
  t.equal(problems.length, 1);
  t.match(problems[0], /checkpoint: format version 99/);
  t.notOk((problems[0] as string).includes('\n'), 'one line');

  writeFileSync(join(dir, 'checkpoint.prev'), good.subarray(0, 100));
  const problems2: string[] = [];
  t.equal(await loadCheckpoint(dir, problems2), undefined, 'both unusable: nothing');
  t.equal(problems2.length, 2);
  t.ok(new CheckpointError('f', 'x') instanceof Error);
});

t.test('kill -9 while writing never leaves an unusable checkpoint', async (t) => {
  const dir = tmp(t);
  const writer = fileURLToPath(new URL('./checkpoint-writer.js', import.meta.url));
  let lastGen = 0;
  let midWrite = 0;
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await sleep(150 + Math.floor(Math.random() * 400));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    if (readdirSync(dir).some((n) => n.startsWith('checkpoint.tmp-'))) midWrite++;
    const problems: string[] = [];
    const got = await loadCheckpoint(dir, problems);
    t.same(problems, [], `round ${round}: no unusable file`);
    const gen = (got?.sections.get('gen')?.json as { gen: number } | undefined)?.gen ?? 0;
    const blob = got?.sections.get('gen')?.blobs?.[0];
    t.ok(
      gen >= 1 && blob !== undefined && new Float64Array(blob.buffer, blob.byteOffset, blob.byteLength / 8).every((x) => x === gen),
      `round ${round}: a whole checkpoint (generation ${gen}) after kill -9`,
    );
    lastGen = gen;
    t.notOk(
      readdirSync(dir).some((n) => n.startsWith('checkpoint.tmp-')),
      'leftover temporary files removed on load',
    );
  }
  t.ok(lastGen > 0);
  t.ok(midWrite >= 1, `${midWrite} of 6 kills landed in the middle of a write`);
});

function soakConfig(url: string, dataDir: string, extra: Record<string, unknown> = {}) {
  return loadConfig({
    document: {
      target: { url: `${url}/v1`, model: 'hostile' },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 30, arrival: 'constant', seed: 2, scenarios: [{ name: 'probe', endpoint: 'chat', prompt: { dist: 'fixed', value: 8 }, output: { dist: 'fixed', value: 8 } }] },
      run: { dataDir, checkpointIntervalSec: 1, drainMs: 500 },
      collectors: { gpu: { enabled: false }, intervalMs: 1000 },
      analyzer: { stepSec: 1, intervalSec: 1, windowSec: 5, warmupSec: 1, baselineSec: 2, rawRetentionSec: 600 },
      log: { level: 'debug' },
      ...extra,
    },
  }).config;
}

t.test('a restarted daemon resumes the soak: same run, totals and series carried on', async (t) => {
  const target = await startHostileServer({ mix: { ok: 1 } });
  t.teardown(() => target.close());
  const dataDir = tmp(t);
  const log1 = capture();
  const d1 = new Daemon(soakConfig(target.url, dataDir), { logger: createLogger('debug', log1.stream), checkpoints: true });
  await d1.start();
  await sleep(5000);
  const st1 = d1.status() as { state: { runId: string; runStartedAt: string; restarts: number }; traffic: { totals: { requests: number } } };
  const baseline1 = d1.hintAnalyzer?.baseline;
  await d1.stop('restart');
  t.match(log1.text(), /no checkpoint: starting a new soak/);
  t.match(log1.text(), /final checkpoint written/);
  const requests1 = d1.trafficRecorder?.totals.requests ?? 0;
  t.ok(requests1 > 100, `first life: ${requests1} requests`);
  t.ok(baseline1, 'baseline captured in the first life');

  const log2 = capture();
  const d2 = new Daemon(soakConfig(target.url, dataDir), { logger: createLogger('debug', log2.stream), checkpoints: true });
  await d2.start();
  t.teardown(() => d2.stop('teardown'));
  await sleep(2000);
  const st2 = d2.status() as typeof st1;
  t.equal(st2.state.runId, st1.state.runId, 'same soak');
  t.equal(st2.state.runStartedAt, st1.state.runStartedAt, 'its original start');
  t.equal(st2.state.restarts, 1);
  t.equal(d2.hintAnalyzer?.runStartMs, Date.parse(st1.state.runStartedAt), 'the analyzer counts from the original start (no second warm-up)');
  t.same(d2.hintAnalyzer?.baseline, baseline1, 'the baseline is kept, not captured again');
  t.ok((d2.trafficRecorder?.totals.requests ?? 0) > requests1, 'run totals continue from the first life');
  const resumed = log2
    .text()
    .split('\n')
    .filter((l) => /resuming soak/.test(l));
  t.equal(resumed.length, 1, 'one line says it resumed');
  t.match(log2.text(), /series store resumed from the checkpoint/);
  await d2.stop('done');
  const cp = await readCheckpointFile(join(dataDir, 'checkpoint'));
  const storeJson = cp.sections.get('store')?.json as { counters: { samples: number } };
  t.ok(storeJson.counters.samples >= 6, `the store holds samples from both lives (${storeJson.counters.samples})`);
  void st2.traffic;
});

t.test('a corrupt checkpoint: one line, and the daemon starts clean', async (t) => {
  const target = await startHostileServer({ mix: { ok: 1 } });
  t.teardown(() => target.close());
  const dataDir = tmp(t);
  writeFileSync(join(dataDir, 'checkpoint'), Buffer.concat([Buffer.from('llmsoak-checkpoint\n'), Buffer.alloc(4), Buffer.from('half of a gzip stream')]));
  const log = capture();
  const d = new Daemon(soakConfig(target.url, dataDir), { logger: createLogger('info', log.stream), checkpoints: true });
  await d.start();
  await sleep(1500);
  t.ok(d.ready, 'running');
  const lines = log
    .text()
    .split('\n')
    .filter((l) => l.includes('checkpoint'));
  const bad = lines.filter((l) => /unusable/.test(l));
  t.equal(bad.length, 1, 'one line');
  t.match(bad[0], /checkpoint unusable, starting a new soak: .*checkpoint: (format version 0|not a llmsoak checkpoint|corrupt|half-written)/);
  t.ok(existsSync(join(dataDir, 'checkpoint.corrupt')), 'the bad file is kept aside for a post-mortem');
  await d.stop('done');
  const problems: string[] = [];
  t.ok(await loadCheckpoint(dataDir, problems), 'a good checkpoint replaces it');
  t.same(problems, []);
});

t.test('two daemons never share a data directory', async (t) => {
  const dataDir = tmp(t);
  const a = new Checkpointer({ dir: dataDir, intervalSec: 0, resume: true, maxAgeMs: 1e9, identity: 'x', version: 't', clock: systemClock, logger: silentLogger() });
  await a.load();
  const log = capture();
  const b = new Checkpointer({ dir: dataDir, intervalSec: 0, resume: true, maxAgeMs: 1e9, identity: 'x', version: 't', clock: systemClock, logger: createLogger('info', log.stream) });
  await b.load();
  t.match(log.text(), /another llmsoak \(pid \d+\) uses/);
  await b.stop();
  t.notOk(existsSync(join(dataDir, 'checkpoint')), 'the second one wrote nothing');
  await a.stop();
  t.ok(existsSync(join(dataDir, 'checkpoint')));
  t.notOk(existsSync(join(dataDir, 'llmsoak.lock')), 'the lock is released');
});
