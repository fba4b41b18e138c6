/**
 * The GPU panels of the Grafana dashboards name only series the GPU collector
 * defines: the names come from a registry GpuSeries registered into, not from
 * a hand list, so a renamed series breaks this test.
 */
import t from 'tap';
import { join } from 'node:path';
import { collectorSeriesNames, dashboardGpuNames, unknownPanelNames } from '../bench/gpu-check/series-names.js';
import { expressions, loadDashboards } from './dashboards.js';
import { ROOT } from './helpers.js';

const DIR = join(ROOT, 'grafana', 'dashboards');

t.test('every llmsoak_gpu_* name in a panel query is a series the collector defines', async (t) => {
  const defined = collectorSeriesNames();
  t.ok(defined.includes('llmsoak_gpu_energy_joules_total') && defined.includes('llmsoak_gpu_clock_event_active'), `${defined.length} series defined`);
  const refs = dashboardGpuNames(DIR);
  t.ok(refs.length >= 10, `${refs.length} GPU series references in panels`);
  t.same(unknownPanelNames(refs, defined, 'the GPU collector defines'), []);

  // the same names as the shared dashboard reader finds in panel targets
  const shared = new Set(
    loadDashboards()
      .flatMap((d) => expressions(d))
      .filter((e) => e.kind === 'panel')
      .flatMap((e) => [...e.expr.matchAll(/\bllmsoak_gpu_[a-zA-Z0-9_]+/g)].map((m) => m[0])),
  );
  t.same([...new Set(refs.map((r) => r.name))].sort(), [...shared].sort());
});

t.test('a panel naming a series the collector lacks is a FAIL line', async (t) => {
  const refs = [...dashboardGpuNames(DIR), { file: 'x.json', panel: 'GPU thing', name: 'llmsoak_gpu_power_milliwatts' }];
  t.same(unknownPanelNames(refs, collectorSeriesNames(), 'the GPU collector defines'), [
    'FAIL dashboard x.json panel "GPU thing": llmsoak_gpu_power_milliwatts is not a series the GPU collector defines',
  ]);
});
