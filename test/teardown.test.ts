/**
 * The teardown stack (src/compose/teardown.ts) runs stops last-in first-out,
 * keeps reserved places, survives a failing stop and runs a late push at
 * once; and the daemon's stops run in the order src/daemon.ts documents
 * (the order stop() had when it was written out by hand).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Teardown } from '../src/compose/teardown.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { freePort } from './helpers.js';

/** A logger that keeps every JSON line it writes. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  return {
    logger,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

t.test('stops run last pushed first; a reserved place keeps its position; a failing stop does not stop the rest', async (t) => {
  const { logger, lines } = capturingLogger();
  const td = new Teardown(logger);
  const ran: string[] = [];
  td.push('a', () => ran.push('a'));
  const slot = td.reserve('b');
  td.push('c', async () => {
    ran.push('c');
    throw new Error('c broke');
  });
  td.push('d', () => ran.push('d'));
  slot.fill(() => ran.push('b'));
  td.reserve('never filled');
  t.same(td.pending, ['never filled', 'd', 'c', 'b', 'a'], 'pending in run order');
  await td.run();
  t.same(ran, ['d', 'c', 'b', 'a'], 'reverse order; the reserved stop in its place; after the failure the rest ran');
  t.ok(
    lines().some((l) => l.level === 40 && String(l.msg).includes('stopping c failed (c broke)')),
    'the failure is logged with its stop',
  );
  td.push('late', () => ran.push('late'));
  await new Promise((r) => setImmediate(r));
  t.same(ran, ['d', 'c', 'b', 'a', 'late'], 'a stop pushed after run() runs at once');
  t.same(td.pending, [], 'nothing left');
});

t.test('the daemon stops in the documented order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-teardown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      // No target.url: the embedded simulator, stopped last.
      simulator: { port: await freePort() },
      server: { listen: '127.0.0.1:0' },
      // workers: 0 builds the in-process engine and its connection pool; an Alertmanager (nothing listens) builds the notifier.
      traffic: { rate: 5, seed: 3, workers: 0 },
      alerting: { alertmanagers: [{ url: 'http://127.0.0.1:9/' }] },
      quality: { enabled: false },
      collectors: { gpu: { enabled: false } },
      run: { drainMs: 500, dataDir: join(dir, 'data') },
      report: { dir: join(dir, 'reports') },
    },
  });
  const { logger, lines } = capturingLogger();
  const daemon = new Daemon(config, { logger, checkpoints: true, finalReport: true });
  await daemon.start();
  await daemon.stop('test');
  const stops = lines()
    .filter((l) => typeof l.stop === 'string')
    .map((l) => l.stop);
  t.same(
    stops,
    [
      'modes',
      'traffic',
      'final soak report',
      'analysis',
      'analyzer',
      'incidents',
      'target changes',
      'alertmanager notifier',
      'sampler',
      'final checkpoint',
      'collectors',
      'final totals',
      'connection pool',
      'http server',
      'embedded simulator',
    ],
    'modes, traffic drained, final report, the analysis part by part, checkpoint, collectors, totals, pool, server, simulator',
  );
});
