/**
 * Modes on a replica of a scaled-out fleet (traffic.replicas): the rates a
 * mode sets are the fleet's, and this replica sends its share (rate / count),
 * as the soak does, so that N replicas together send the mode's rates. The
 * report says so. Against the built-in simulator, in compressed time.
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import type { ModeConfig } from '../src/modes/config.js';

t.test('replica 1 of 2: modes send half of each rate they set', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-replicas-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0, engine: { maxNumSeqs: 32, decodeStepBaseMs: 5, decodeStepPerSeqMs: 0.1, prefillTokensPerSec: 1_000_000, maxQueue: 100_000 } },
      traffic: {
        rate: 6,
        arrival: 'constant',
        seed: 3,
        replicas: { count: 2, index: 1 },
        scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 16 }, output: { dist: 'fixed', value: 8 } }],
      },
      collectors: { intervalMs: 1000, gpu: { enabled: false } },
      analyzer: { enabled: false },
      report: { dir },
      mode: {
        ramp: { levels: [8, 16], refineSteps: 0, stopAfterFailedSteps: 0, warmupSec: 0.3, holdSec: 5, cooldownSec: 0.3 },
        soak: { durationSec: 2, warmupSec: 0.3 },
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

  // What this replica's engine is asked to send, sampled while a mode runs.
  const rateNow = async (): Promise<number> => (await daemon.registry.getSingleMetric('llmsoak_target_request_rate')?.get())?.values[0]?.value ?? NaN;
  const watch = async <T>(run: Promise<T>): Promise<{ result: T; rates: Set<number> }> => {
    const rates = new Set<number>();
    let done = false;
    const poll = (async () => {
      while (!done) {
        rates.add(await rateNow());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      return { result: await run, rates };
    } finally {
      done = true;
      await poll;
    }
  };

  const ramp = await watch(runs.run(mode('ramp')));
  const r = ramp.result.report;
  t.same(
    [...ramp.rates].filter((v) => v > 0).sort((a, b) => a - b),
    [4, 8],
    `engine rates while the ramp ran: ${[...ramp.rates].join(', ')} (the fleet's 8 and 16 halved)`,
  );
  t.same(
    r.steps.map((s) => s.targetRate),
    [8, 16],
    'steps are labelled with the fleet rates',
  );
  for (const s of r.steps) {
    const share = s.achievedRps / (s.targetRate ?? 1);
    t.ok(share > 0.4 && share < 0.6, `at ${s.targetRate} req/s this replica achieved ${s.achievedRps} req/s (${(share * 100).toFixed(0)}% of the fleet rate)`);
  }
  t.match(String(r.parameters.replica), /^replica 1 of 2 .*rates and users here are the fleet's/, 'the report says whose rates these are');
  t.match(await readFile(ramp.result.files.markdown, 'utf8'), /replica 1 of 2/, 'and the Markdown shows it');

  // The bench soak: traffic.rate is the fleet's 6 req/s, this replica sends 3.
  const soak = await watch(runs.run(mode('soak')));
  t.same(
    [...soak.rates].filter((v) => v > 0),
    [3],
    `soak bench: engine rate ${[...soak.rates].join(', ')}`,
  );
  t.equal(soak.result.report.parameters.rate, 6, 'the soak report names the fleet rate');
});
