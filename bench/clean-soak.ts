/**
 * `npm run soak-clean`: a clean run (no fault) against the simulator in a
 * separate process, at default thresholds, with the analyzer's windows
 * compressed (1 s steps, 2 s evaluations, 12 s windows) so that a 10-minute
 * run holds hundreds of evaluations. Prints every hint that fired; exits 1 if
 * any did.
 *
 *   node dist/bench/clean-soak.js [--minutes=10] [--rate=8]
 */
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { startSimChild } from './sim-child.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const minutes = Number(args.get('minutes') ?? 10);
const rate = Number(args.get('rate') ?? 8);

async function main(): Promise<number> {
  const sim = await startSimChild({ port: 0 });
  const { config } = loadConfig({
    document: {
      target: { url: `${sim.url}/v1`, pid: sim.pid },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate, seed: 5 },
      collectors: { intervalMs: 1000 },
      // Rule windows compressed; warm-up (the default 300 s) and the leak window long enough that a process's own start-up
      // growth (heap, JIT) is not judged as a trend, as the default 5 min warm-up and 6 h window do.
      analyzer: { stepSec: 1, intervalSec: 2, windowSec: 12, warmupSec: 300, baselineSec: 30, leakWindowSec: 600 },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  const fired = new Map<string, string>();
  const end = Date.now() + minutes * 60_000;
  let lastReport = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 1000));
    const snap = daemon.hintAnalyzer?.snapshot();
    for (const h of snap?.hints ?? []) {
      if (h.state === 'firing' && !fired.has(`${h.rule}/${h.cause}`)) {
        fired.set(`${h.rule}/${h.cause}`, `${new Date().toISOString()} ${h.rule} (${h.cause}): ${h.summary}`);
        console.log(`FIRED ${fired.get(`${h.rule}/${h.cause}`)}`);
      }
    }
    if (Date.now() - lastReport > 60_000) {
      lastReport = Date.now();
      const st = daemon.status() as { traffic: { totals: { requests: number; ok: number } } };
      const m = await daemon.registry.getSingleMetricAsString('llmsoak_target_process_resident_memory_bytes');
      const rss = Number(/\} ([0-9.e+]+)/.exec(m)?.[1] ?? NaN) / 1024 / 1024;
      const mu = process.memoryUsage();
      const MiB = (b: number) => (b / 1024 / 1024).toFixed(1);
      const gauge = async (name: string) => Number(/ ([0-9.e+]+)$/m.exec(await daemon.registry.getSingleMetricAsString(name))?.[1] ?? NaN);
      const storeSeries = await gauge('llmsoak_analyzer_store_series');
      const storeBytes = await gauge('llmsoak_analyzer_store_bytes');
      console.log(
        `${new Date().toISOString()} requests ${st.traffic.totals.requests} ok ${st.traffic.totals.ok}, evaluations ${daemon.hintAnalyzer?.evaluations}, hints fired so far ${fired.size}; simulator RSS ${rss.toFixed(1)} MiB; llmsoak RSS ${MiB(mu.rss)} MiB (heap ${MiB(mu.heapUsed)}, array buffers ${MiB(mu.arrayBuffers)}; store ${storeSeries} series, ${MiB(storeBytes)} MiB)`,
      );
    }
  }
  const st = daemon.status() as { traffic: { totals: { requests: number; ok: number } } };
  const evaluations = daemon.hintAnalyzer?.evaluations ?? 0;
  const rules = daemon.hintAnalyzer?.snapshot().rules ?? [];
  await daemon.stop('done');
  await sim.stop();
  console.log(
    `\nclean soak: ${minutes} min at ${rate} req/s, ${st.traffic.totals.requests} requests (${st.traffic.totals.ok} ok), ${evaluations} evaluations of ${rules.length} rules at default thresholds`,
  );
  console.log(rules.map((r) => `  ${r.rule}: ${r.health}${r.missing ? ` (${r.missing.join(', ')})` : ''}`).join('\n'));
  console.log(fired.size === 0 ? 'no hint fired' : `${fired.size} hint(s) fired:\n${[...fired.values()].join('\n')}`);
  return fired.size === 0 ? 0 : 1;
}

main().then(
  (c) => process.exit(c),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
