/**
 * The Grafana dashboards in grafana/dashboards are importable and every PromQL
 * expression in them parses in a real Prometheus:
 *  - each JSON parses, has a uid, schemaVersion >= 39, unique panel ids,
 *    panels that do not overlap, the `datasource` variable (type prometheus)
 *    and the instance/model/scenario query variables;
 *  - every panel, target, annotation and query variable uses ${datasource};
 *  - every expression (panel targets, annotations, variable queries), with the
 *    Grafana variables replaced by valid values, is sent to /api/v1/query of
 *    a Prometheus started here on loopback; a parse error answers 400 bad_data.
 * Also checks the provisioning files. Prometheus absent is a failure, never a
 * skip: apt-get install prometheus.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, freePort } from './helpers.js';
import { allPanels, arr, expressions, isObj, loadDashboards, num, str, substitute, variableExpr, variables, type JObj, type Json } from './dashboards.js';

const DS_UID = '${datasource}';

const dashboards = loadDashboards();

t.test('dashboards are importable Grafana JSON', async (t) => {
  t.ok(dashboards.length >= 2, `${dashboards.length} dashboards`);
  const uids = new Set<string>();
  for (const { file, json } of dashboards) {
    const uid = str(json, 'uid');
    t.ok(uid !== undefined && /^[a-zA-Z0-9_-]{1,40}$/.test(uid), `${file}: uid ${String(uid)}`);
    t.notOk(uids.has(uid ?? ''), `${file}: uid unique`);
    uids.add(uid ?? '');
    t.ok((num(json, 'schemaVersion') ?? 0) >= 39, `${file}: schemaVersion >= 39`);
    t.ok((str(json, 'title') ?? '') !== '', `${file}: title`);
    t.equal(json.id, null, `${file}: id null (import creates it)`);

    const panels = allPanels(json);
    const ids = panels.map((p) => num(p, 'id'));
    t.ok(
      ids.every((i) => i !== undefined),
      `${file}: every panel has an id`,
    );
    t.equal(new Set(ids).size, ids.length, `${file}: panel ids unique (${ids.length} panels)`);

    const boxes: Array<{ id: number; x: number; y: number; w: number; h: number }> = [];
    for (const p of panels) {
      const g = p.gridPos;
      if (!isObj(g)) {
        t.fail(`${file} panel ${String(p.id)}: gridPos`);
        continue;
      }
      const box = { id: num(p, 'id') ?? -1, x: num(g, 'x') ?? -1, y: num(g, 'y') ?? -1, w: num(g, 'w') ?? 0, h: num(g, 'h') ?? 0 };
      t.ok(box.x >= 0 && box.y >= 0 && box.w > 0 && box.h > 0 && box.x + box.w <= 24, `${file} panel ${box.id}: gridPos within 24 columns`);
      boxes.push(box);
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        if (a === undefined || b === undefined) continue;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        if (overlap) t.fail(`${file}: panels ${a.id} and ${b.id} overlap`);
      }
    }
  }
});

t.test('dashboards select Prometheus through the datasource variable', async (t) => {
  for (const { file, json } of dashboards) {
    const vars = variables(json);
    const ds = vars.find((v) => str(v, 'name') === 'datasource');
    t.equal(ds && str(ds, 'type'), 'datasource', `${file}: $datasource is a datasource variable`);
    t.equal(ds && str(ds, 'query'), 'prometheus', `${file}: of type prometheus`);
    for (const name of ['instance', 'model', 'scenario']) {
      const v = vars.find((x) => str(x, 'name') === name);
      t.equal(v && str(v, 'type'), 'query', `${file}: $${name} is a query variable`);
      t.match(v ? (variableExpr(v) ?? '') : '', /^llmsoak_/, `${file}: $${name} from label_values of an llmsoak series`);
    }
    const usesDs = (o: JObj | undefined, what: string): void => {
      const d = o?.datasource;
      t.ok(isObj(d) && str(d, 'uid') === DS_UID && str(d, 'type') === 'prometheus', `${file} ${what}: datasource \${datasource}`);
    };
    for (const v of vars) if (str(v, 'type') === 'query') usesDs(v, `variable $${String(v.name)}`);
    for (const p of allPanels(json)) {
      if (p.type === 'row' || p.type === 'text') continue;
      usesDs(p, `panel ${String(p.id)}`);
      const targets = arr(p.targets).filter(isObj);
      t.ok(targets.length > 0, `${file} panel ${String(p.id)}: has targets`);
      for (const tg of targets) usesDs(tg, `panel ${String(p.id)} target ${String(tg.refId)}`);
    }
    const ann = json.annotations;
    for (const a of isObj(ann) ? arr(ann.list).filter(isObj) : []) if (str(a, 'expr') !== undefined) usesDs(a, `annotation ${String(a.name)}`);
    t.notMatch(JSON.stringify(json), /DS_PROMETHEUS/, `${file}: no import-time datasource placeholder`);
  }
});

t.test('provisioning loads the dashboards and a Prometheus data source', async (t) => {
  const prov = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'dashboards', 'llmsoak.yaml'), 'utf8')) as Json;
  const providers = isObj(prov) ? arr(prov.providers) : [];
  t.equal(providers.length, 1, 'one dashboard provider');
  t.match(providers[0], { type: 'file', options: { path: /dashboards/ } }, 'file provider with a path');
  const dsDoc = parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as Json;
  const dss = isObj(dsDoc) ? arr(dsDoc.datasources) : [];
  t.match(dss[0], { type: 'prometheus', url: 'http://prometheus:9090' }, 'Prometheus data source at http://prometheus:9090');
});

function findPrometheus(): string | undefined {
  if (existsSync('/usr/bin/prometheus')) return '/usr/bin/prometheus';
  const r = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

t.test('every PromQL expression parses in a real Prometheus', async (t) => {
  const prometheus = findPrometheus();
  if (prometheus === undefined) {
    t.fail('install prometheus (apt-get install prometheus)');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-grafana-prom-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const config = join(tmp, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs: []\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  t.teardown(() => stopProcess(child));

  const deadline = Date.now() + 30_000;
  let ready = false;
  while (!ready && Date.now() < deadline && child.exitCode === null) {
    try {
      const r = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(2000) });
      ready = r.status === 200;
    } catch {
      // not listening yet
    }
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }
  if (!ready) {
    t.fail(`prometheus did not become ready within 30 s:\n${log}`);
    return;
  }

  let count = 0;
  for (const d of dashboards) {
    const vars = variables(d.json);
    for (const { where, expr } of expressions(d)) {
      const { text, unknown } = substitute(expr, vars);
      t.same(unknown, [], `${where}: only known variables`);
      const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: text })}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await r.json()) as JObj;
      const ok = r.status === 200 && body.status === 'success';
      t.ok(ok, `${where}: parses`, ok ? {} : { expr: text, status: r.status, errorType: body.errorType, error: body.error });
      count++;
    }
  }
  t.ok(count >= 100, `${count} expressions checked`);
});
