/**
 * Report names never collide: two different reports of one kind that start
 * in the same second (a scheduled soak report and the final one on stop, two
 * soak reports asked for back to back) both stay, both listed at
 * /api/reports; the same report written again still replaces its files.
 */
import t from 'tap';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleSoakReport } from './fixtures/sample-reports.js';
import { listReports, writeReport } from '../src/report/write.js';
import { buildApp } from '../src/server/app.js';
import { createRegistry } from '../src/metrics/registry.js';
import { silentLogger } from '../src/log.js';

t.test('two reports in the same second: distinct names, both listed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-names-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const a = sampleSoakReport();
  // Same kind, same start second, a different period (a report asked for 400 ms later).
  const b = { ...sampleSoakReport(), startedAt: new Date(Date.parse(a.startedAt) + 400).toISOString(), endedAt: new Date(Date.parse(a.endedAt) + 400).toISOString() };
  const c = { ...sampleSoakReport(), endedAt: new Date(Date.parse(a.endedAt) + 900).toISOString() };
  // Written at once: the reservation, not luck, keeps them apart.
  const [wa, wb, wc] = await Promise.all([writeReport(dir, a), writeReport(dir, b), writeReport(dir, c)]);
  const names = [wa.name, wb.name, wc.name];
  t.equal(new Set(names).size, 3, `three names: ${names.join(', ')}`);
  t.ok(
    names.every((n) => n.startsWith('soak-20250602T080000Z')),
    'each keeps the kind and start in its name',
  );
  t.equal((await readdir(dir)).filter((f) => f.endsWith('.json')).length, 3, 'three JSON files');

  // The same report again: its own files are replaced, no fourth name.
  const again = await writeReport(dir, a);
  t.equal(again.name, wa.name, 'rewriting a report keeps its name');
  t.equal((await readdir(dir)).filter((f) => f.endsWith('.json')).length, 3);

  const app = buildApp({
    registry: createRegistry(),
    logger: silentLogger(),
    ready: () => true,
    status: () => ({}),
    reports: { reportDir: () => dir, listReports: () => listReports(dir), statusPage: async () => '<!doctype html><title>status</title>', schedules: () => [] },
  });
  t.teardown(() => app.close());
  const list = (await app.inject({ url: '/api/reports' })).json() as { reports: { name: string; startedAt: string; links: { json: string; html: string } }[] };
  t.same(list.reports.map((r) => r.name).sort(), [...names].sort(), 'all three listed at /api/reports');
  for (const r of list.reports) {
    const res = await app.inject({ url: r.links.json });
    t.equal(res.statusCode, 200, `${r.links.json} served`);
    t.equal((res.json() as { startedAt: string }).startedAt, r.startedAt, `${r.name} is its own report`);
  }
});
