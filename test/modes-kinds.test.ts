/**
 * Sweep, capacity surface and spike against the built-in simulator (16
 * slots, ~36 req/s of capacity), in compressed time on one idle daemon:
 * each produces the report its kind promises. One mode runs at a time.
 * Prefill (20k tokens/s) makes a 2,048-token prompt's TTFT ~100 ms longer than
 * a 32-token one's: ten times the 10 ms step alignment that decides the short
 * prompts' TTFT, so the surface's "longer prompts: longer TTFT" compares two
 * figures that differ by construction, not by a few milliseconds of jitter.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import type { ModeConfig } from '../src/modes/config.js';

t.test('sweep, surface and spike', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-kinds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0, engine: { maxNumSeqs: 16, decodeStepBaseMs: 10, decodeStepPerSeqMs: 0.25, prefillTokensPerSec: 20_000, maxQueue: 100_000 } },
      traffic: { arrival: 'constant', seed: 9, scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 32 } }] },
      slo: { ttftMs: 250, tpotMs: 50, e2eMs: 1500 },
      collectors: { intervalMs: 500, gpu: { enabled: false } },
      report: { dir },
      mode: {
        sweep: { maxUsers: 24, rates: 2, bisectSteps: 1, warmupSec: 1, holdSec: 2, cooldownSec: 0.5 },
        surface: { concurrency: [4, 32], inputTokens: [32, 2048], outputTokens: 32, refineRounds: 1, warmupSec: 1, holdSec: 2, cooldownSec: 0.5 },
        spike: { baseRate: 10, multiple: 5, warmupSec: 1, baselineSec: 3, spikeSec: 2, afterSec: 6, windowSec: 1 },
      },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger(), idle: true });
  t.teardown(() => daemon.stop('teardown'));
  await daemon.start();
  const runs = daemon.runs;
  if (!runs) throw new Error('no mode controller');
  const mode = (kind: ModeConfig['kind']): ModeConfig => ({ ...config.mode, kind });

  await t.test('sweep: synchronous, throughput, rates between, knee', async (t) => {
    const running = runs.run(mode('sweep'));
    await t.rejects(runs.run(mode('spike')), /still running/, 'one mode at a time');
    const { report } = await running;
    t.equal(report.kind, 'sweep');
    const [sync, thr, ...open] = report.steps;
    t.equal(sync?.concurrency, 1, 'synchronous baseline: one user');
    t.equal(thr?.concurrency, 24, 'maximum throughput: maxUsers');
    t.ok((thr?.achievedRps ?? 0) > (sync?.achievedRps ?? 0) * 3, `throughput ${thr?.achievedRps} req/s above synchronous ${sync?.achievedRps} req/s`);
    t.ok(open.length >= 2 && open.every((s) => s.targetRate !== undefined), `${open.length} open-loop rates`);
    t.ok(
      open.every((s, i) => i === 0 || (s.targetRate ?? 0) > (open[i - 1]?.targetRate ?? 0)),
      'rates in increasing order',
    );
    t.ok(report.knee !== undefined && report.knee.unit === 'req/s' && report.knee.value > 15 && report.knee.value < 50, `knee ${report.knee?.value} req/s: ${report.knee?.reason}`);
  });

  await t.test('surface: grid, refined on the SLO boundary', async (t) => {
    const { report } = await runs.run(mode('surface'));
    const sf = report.surface;
    if (!sf) throw new Error('no surface');
    t.ok(sf.concurrency.includes(4) && sf.concurrency.includes(32));
    t.ok(sf.concurrency.length > 2, `refined: concurrency ${sf.concurrency.join(', ')}`);
    t.equal(sf.withinSlo[0]?.[0], true, 'c=4 with short prompts holds');
    t.equal(sf.withinSlo[sf.concurrency.length - 1]?.[0], false, 'c=32 (twice the slots) queues past the TTFT SLO');
    t.equal(sf.p99TtftSec.length, sf.concurrency.length);
    t.ok(sf.p99TtftSec.every((row) => row.length === sf.inputTokens.length));
    t.ok((sf.p99TtftSec[0]?.[1] ?? 0) > (sf.p99TtftSec[0]?.[0] ?? 0), 'longer prompts: longer TTFT');
    t.ok(report.steps.every((s) => s.concurrency !== undefined && s.inputTokens !== undefined));
    t.ok(report.totals.inputTokens > 0);
    t.equal(report.verdict.pass, true, 'the smallest point held');
  });

  await t.test('spike: baseline, spike, recovery time', async (t) => {
    const { report } = await runs.run(mode('spike'));
    t.same(
      report.steps.map((s) => s.targetRate),
      [10, 50, 10],
    );
    const sp = report.spike;
    if (!sp) throw new Error('no spike');
    const p99s = (report.timeseries[0]?.points ?? []).map(([, v]) => (v * 1000).toFixed(1)).join(' ');
    t.comment(`window p99s, ms: ${p99s}; failures: ${report.verdict.failures.join('; ') || 'none'}`);
    t.equal(sp.multiple, 5);
    t.ok(sp.recoverySec !== null && sp.recoverySec > 0 && sp.recoverySec <= 6, `recovered after ${sp.recoverySec} s`);
    t.ok((report.steps[1]?.ttft.p99 ?? 0) > (report.steps[0]?.ttft.p99 ?? 0) * 3, 'the spike raised TTFT');
    t.equal(report.timeseries.length, 1);
    t.ok((report.timeseries[0]?.points.length ?? 0) >= 8, 'windowed p99 over the run');
    t.equal(report.verdict.pass, true);
  });
});
