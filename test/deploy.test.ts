/**
 * deploy/ and the Dockerfile, checked without a Kubernetes cluster or a
 * Docker engine (neither runs here):
 *  - deploy/kubernetes: every manifest parses and kustomization.yaml lists
 *    them; the StatefulSet, Service, ServiceMonitor, ConfigMap and Secret
 *    refer to each other consistently (names, labels, ports, keys, paths);
 *    the replica count is the same in both places; the ConfigMap's llmsoak
 *    config loads (index from the pod name) and passes `llmsoak check-config`;
 *    the PrometheusRule holds exactly alerts/llmsoak-rules.yml.
 *  - deploy/compose: bind mounts exist; Prometheus' config, laid out as in its
 *    container, passes `promtool check config` (rules included); the
 *    Alertmanager config passes `amtool check-config`; Grafana's provisioning
 *    points where the dashboards are mounted, at the Prometheus service.
 *  - Dockerfile, read: COPY sources exist, the build uses tsconfig.build.json,
 *    the runtime stage runs as `node` with ENTRYPOINT llmsoak → dist/src/cli.js,
 *    EXPOSE/HEALTHCHECK on the default port, a writable report directory; and
 *    the output it runs: built with tsconfig.build.json into the image's
 *    layout, importing only production dependencies (the image prunes dev
 *    ones), `llmsoak --help`, and `llmsoak run` answering the HEALTHCHECK
 *    command itself, then stopping cleanly on SIGTERM.
 * promtool/amtool absent is a failure: apt-get install prometheus prometheus-alertmanager.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { ROOT, freePort, runCli, waitExit, waitFor } from './helpers.js';
import { findBinary, installLine } from './monitoring-stack.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: Json | undefined): Obj => (isObj(v) ? v : {});
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
/** Follow a path of keys/indexes; undefined when absent. */
function at(v: Json | undefined, ...path: Array<string | number>): Json | undefined {
  let cur = v;
  for (const k of path) {
    if (typeof k === 'number') cur = Array.isArray(cur) ? cur[k] : undefined;
    else cur = isObj(cur) ? cur[k] : undefined;
  }
  return cur;
}
const subset = (small: Obj, big: Obj) => Object.entries(small).every(([k, v]) => big[k] === v);

const K8S = join(ROOT, 'deploy', 'kubernetes');
const COMPOSE = join(ROOT, 'deploy', 'compose');

function manifests(): Map<string, Obj> {
  const byKind = new Map<string, Obj>();
  for (const f of readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(K8S, f), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${f}: ${doc.errors[0]?.message ?? ''}`);
      const m = obj(doc.toJSON() as Json);
      const kind = String(m.kind);
      if (byKind.has(kind)) throw new Error(`two ${kind} manifests`);
      byKind.set(kind, { ...m, __file: f });
    }
  }
  return byKind;
}

t.test('kubernetes manifests are consistent', async (t) => {
  const kust = obj(parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as Json);
  const files = readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort();
  t.same(list(kust.resources).map(String).sort(), files, 'kustomization.yaml lists every manifest');
  const m = manifests();
  t.same([...m.keys()].sort(), ['ConfigMap', 'PrometheusRule', 'Secret', 'Service', 'ServiceMonitor', 'StatefulSet']);
  const sts = obj(m.get('StatefulSet'));
  const svc = obj(m.get('Service'));
  const sm = obj(m.get('ServiceMonitor'));
  const cm = obj(m.get('ConfigMap'));
  const secret = obj(m.get('Secret'));
  t.equal(sts.apiVersion, 'apps/v1');
  t.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(obj(m.get('PrometheusRule')).apiVersion, 'monitoring.coreos.com/v1');

  const podLabels = obj(at(sts, 'spec', 'template', 'metadata', 'labels'));
  t.ok(subset(obj(at(sts, 'spec', 'selector', 'matchLabels')), podLabels), 'StatefulSet selector matches its pods');
  t.equal(at(sts, 'spec', 'serviceName'), at(svc, 'metadata', 'name'), 'StatefulSet governed by the Service');
  t.equal(at(svc, 'spec', 'clusterIP'), 'None', 'headless Service');
  t.ok(subset(obj(at(svc, 'spec', 'selector')), podLabels), 'Service selects the pods');
  t.ok(subset(obj(at(sm, 'spec', 'selector', 'matchLabels')), obj(at(svc, 'metadata', 'labels'))), 'ServiceMonitor selects the Service');
  t.equal(at(svc, 'metadata', 'name'), 'llmsoak', 'job="llmsoak" (the Service name), as LlmsoakDown expects');

  const container = obj(at(sts, 'spec', 'template', 'spec', 'containers', 0));
  const cPort = obj(list(container.ports)[0]);
  const sPort = obj(list(at(svc, 'spec', 'ports'))[0]);
  const endpoint = obj(list(at(sm, 'spec', 'endpoints'))[0]);
  t.equal(sPort.targetPort, cPort.name, 'Service port targets the container port');
  t.equal(endpoint.port, sPort.name, 'ServiceMonitor scrapes the Service port');
  t.equal(endpoint.path, '/metrics');
  t.equal(at(container, 'readinessProbe', 'httpGet', 'path'), '/readyz');
  t.equal(at(container, 'livenessProbe', 'httpGet', 'path'), '/healthz');

  const env = new Map(list(container.env).map((e) => [String(obj(e).name), obj(e)]));
  t.equal(Number(env.get('LLMSOAK_TRAFFIC__REPLICAS__COUNT')?.value), at(sts, 'spec', 'replicas'), 'replica count in the config = spec.replicas');
  const keyRef = obj(at(env.get('TARGET_API_KEY'), 'valueFrom', 'secretKeyRef'));
  t.equal(keyRef.name, at(secret, 'metadata', 'name'), 'the API key comes from the Secret');
  t.ok(String(keyRef.key) in obj(secret.stringData), `Secret has the key ${String(keyRef.key)}`);

  // --config points at the ConfigMap's key where its volume is mounted.
  const args = list(container.args).map(String);
  const configPath = args[args.indexOf('--config') + 1] ?? '';
  const mounts = list(container.volumeMounts).map(obj);
  const volumes = list(at(sts, 'spec', 'template', 'spec', 'volumes')).map(obj);
  const cfgMount = mounts.find((v) => configPath.startsWith(`${String(v.mountPath)}/`));
  const cfgVolume = volumes.find((v) => v.name === cfgMount?.name);
  t.equal(at(cfgVolume, 'configMap', 'name'), at(cm, 'metadata', 'name'), `${configPath} is on the ConfigMap's volume`);
  const key = configPath.slice(String(cfgMount?.mountPath).length + 1);
  const text = at(cm, 'data', key);
  t.type(text, 'string', `ConfigMap has ${key}`);

  // The config every replica loads, as pod llmsoak-2 of 3 would.
  const podEnv = { HOSTNAME: `${String(at(sts, 'metadata', 'name'))}-2`, TARGET_API_KEY: 'k', LLMSOAK_TRAFFIC__REPLICAS__COUNT: String(env.get('LLMSOAK_TRAFFIC__REPLICAS__COUNT')?.value) };
  const { config } = loadConfig({ document: parse(String(text)), env: podEnv });
  t.same(config.traffic.replicas, { count: 3, index: 2 }, 'pod llmsoak-2 is replica 2 of 3');
  t.equal(config.target.apiKey, 'k', 'apiKey from the Secret');
  t.equal(config.analyzer.source, 'prometheus', 'the analyzer reads the fleet through Prometheus');
  t.equal(`${config.analyzer.stepSec}s`, endpoint.interval, 'analyzer.stepSec = scrape interval');
  t.equal(config.server.port, Number(cPort.containerPort), 'llmsoak listens on the container port');
  const reportMount = mounts.find((v) => config.report.dir.replace(/\/$/, '') === String(v.mountPath));
  t.ok(reportMount, `report.dir ${config.report.dir} is a mounted volume (the root file system is read-only)`);
  t.equal(at(container, 'securityContext', 'readOnlyRootFilesystem'), true);
  t.equal(at(sts, 'spec', 'template', 'spec', 'securityContext', 'runAsUser'), 1000, "the image's user node");

  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-deploy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'llmsoak.yaml');
  writeFileSync(file, String(text));
  const r = await runCli(['check-config', file], { env: { PATH: process.env.PATH ?? '', ...podEnv } });
  t.equal(r.code, 0, `llmsoak check-config on the ConfigMap's config${r.code === 0 ? '' : `: ${r.stdout}${r.stderr}`}`);
  const pod0 = loadConfig({ document: parse(String(text)), env: { ...podEnv, HOSTNAME: 'llmsoak-0' } }).config;
  t.equal(pod0.traffic.replicas.index, 0, 'pod llmsoak-0 is replica 0 (it runs the analyzer)');
});

t.test('the PrometheusRule is alerts/llmsoak-rules.yml', async (t) => {
  const rule = obj(manifests().get('PrometheusRule'));
  const file = obj(parse(readFileSync(join(ROOT, 'alerts', 'llmsoak-rules.yml'), 'utf8')) as Json);
  t.same(at(rule, 'spec', 'groups'), file.groups, 'same groups (regenerate: node scripts/gen-prometheusrule.mjs)');
});

t.test('compose stack: configs valid as mounted in their containers', async (t) => {
  const compose = obj(parse(readFileSync(join(COMPOSE, 'compose.yaml'), 'utf8')) as Json);
  const services = obj(compose.services);
  t.same(Object.keys(services).sort(), ['alertmanager', 'grafana', 'llmsoak', 'prometheus']);
  /** Bind mounts of a service: host path (absolute) → container path. */
  const binds = (name: string): Array<{ host: string; container: string }> =>
    list(at(services, name, 'volumes'))
      .map(String)
      .filter((v) => v.startsWith('.'))
      .map((v) => ({ host: resolve(COMPOSE, v.split(':')[0] ?? ''), container: v.split(':')[1] ?? '' }));
  for (const name of Object.keys(services)) for (const b of binds(name)) t.ok(existsSync(b.host), `${name}: ${relative(ROOT, b.host)} exists`);
  t.equal(resolve(COMPOSE, String(at(services, 'llmsoak', 'build', 'context'))), resolve(ROOT), 'llmsoak is built from the repository (its Dockerfile)');

  // Prometheus: rebuild /etc/prometheus from the bind mounts, then promtool check config.
  const promtool = findBinary('promtool');
  const amtool = findBinary('amtool');
  if (promtool === undefined) return void t.fail(installLine('prometheus'));
  if (amtool === undefined) return void t.fail(installLine('prometheus-alertmanager'));
  const root = mkdtempSync(join(tmpdir(), 'llmsoak-compose-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const b of binds('prometheus')) {
    const dest = join(root, b.container);
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(b.host, dest, { recursive: true });
  }
  const promFile = join(root, '/etc/prometheus/prometheus.yml');
  const pc = spawnSync(promtool, ['check', 'config', promFile], { encoding: 'utf8', timeout: 30_000 });
  t.equal(pc.status, 0, `promtool check config${pc.status === 0 ? '' : `: ${pc.stdout}${pc.stderr}`}`);
  t.match(pc.stdout + pc.stderr, /SUCCESS: \d+ rules found/, 'and it loads alerts/ (rules found)');
  const prom = obj(parse(readFileSync(promFile, 'utf8')) as Json);
  const job = list(prom.scrape_configs)
    .map(obj)
    .find((s) => s.job_name === 'llmsoak');
  t.ok(job, 'scrape job "llmsoak"');
  t.same(at(job, 'static_configs', 0, 'targets'), ['llmsoak:9477'], 'scrapes the llmsoak service on its port');
  t.same(at(prom, 'alerting', 'alertmanagers', 0, 'static_configs', 0, 'targets'), ['alertmanager:9093']);

  const am = binds('alertmanager').find((b) => b.container.endsWith('.yml'));
  const ac = spawnSync(amtool, ['check-config', am?.host ?? ''], { encoding: 'utf8', timeout: 10_000 });
  t.equal(ac.status, 0, `amtool check-config${ac.status === 0 ? '' : `: ${ac.stdout}${ac.stderr}`}`);

  // Grafana: provisioning mounted where Grafana reads it, dashboards where the provider looks.
  const g = binds('grafana');
  const prov = g.find((b) => b.container === '/etc/grafana/provisioning');
  t.equal(prov?.host, join(ROOT, 'grafana', 'provisioning'), 'provisioning mounted at /etc/grafana/provisioning');
  const provider = obj(parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'dashboards', 'llmsoak.yaml'), 'utf8')) as Json);
  const dashPath = String(at(provider, 'providers', 0, 'options', 'path'));
  t.equal(g.find((b) => b.container === dashPath)?.host, join(ROOT, 'grafana', 'dashboards'), `dashboards mounted at ${dashPath}`);
  const ds = obj(parse(readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as Json);
  t.equal(at(ds, 'datasources', 0, 'url'), 'http://prometheus:9090', 'data source = the prometheus service');
  t.equal(at(ds, 'datasources', 0, 'jsonData', 'timeInterval'), at(prom, 'global', 'scrape_interval'), 'timeInterval = scrape interval');

  // llmsoak's config in the stack.
  const cfgBind = binds('llmsoak').find((b) => b.host.endsWith('llmsoak.yaml'));
  const args = list(at(services, 'llmsoak', 'command')).map(String);
  t.equal(args[args.indexOf('--config') + 1], cfgBind?.container, '--config is the mounted file');
  const { config } = loadConfig({ file: cfgBind?.host ?? '', env: {} });
  t.equal(config.server.port, 9477);
  t.equal(config.alerting.alertmanagers[0]?.url, 'http://alertmanager:9093', 'hints go to the stack Alertmanager');
  t.ok(
    list(at(services, 'llmsoak', 'volumes'))
      .map(String)
      .some((v) => v.endsWith(`:${config.report.dir.replace(/\/$/, '')}`)),
    'report.dir is a volume',
  );
  const r = await runCli(['check-config', cfgBind?.host ?? '']);
  t.equal(r.code, 0, `llmsoak check-config${r.code === 0 ? '' : `: ${r.stdout}${r.stderr}`}`);
});

// ---- Dockerfile ----

interface Instr {
  op: string;
  args: string;
}

function dockerfile(): Array<{ name: string; instrs: Instr[] }> {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: Array<{ name: string; instrs: Instr[] }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = (m[1] ?? '').toUpperCase();
    const args = m[2] ?? '';
    if (op === 'FROM') stages.push({ name: / AS (\S+)/i.exec(args)?.[1] ?? String(stages.length), instrs: [] });
    stages[stages.length - 1]?.instrs.push({ op, args });
  }
  return stages;
}

t.test('Dockerfile, read', async (t) => {
  const stages = dockerfile();
  t.same(
    stages.map((s) => s.name),
    ['build', 'runtime'],
    'two stages',
  );
  const [build, runtime] = stages;
  for (const s of stages) {
    for (const c of s.instrs.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) t.ok(existsSync(join(ROOT, src)), `${s.name}: COPY ${src} exists`);
      for (const src of parts.slice(0, -1)) {
        const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        t.notOk(ignored.includes(src), `${src} is not in .dockerignore`);
      }
    }
  }
  const buildRun =
    build?.instrs
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' && ') ?? '';
  t.match(buildRun, /npm ci/, 'build: npm ci (the lock file)');
  t.match(buildRun, /tsc -p tsconfig\.build\.json/, 'build: compiles with tsconfig.build.json');
  t.match(buildRun, /npm prune --omit=dev/, 'build: drops dev dependencies');
  const buildCfg = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include?: string[] };
  t.same(buildCfg.include, ['src/**/*.ts'], 'tsconfig.build.json compiles src only');

  const rt = runtime?.instrs ?? [];
  const one = (op: string) => rt.filter((i) => i.op === op).map((i) => i.args);
  t.same(one('USER'), ['node'], 'runs as node');
  t.same(one('WORKDIR'), ['/app']);
  const port = Number(String(configSchema.properties.server.properties.listen.default).split(':').pop());
  t.same(one('EXPOSE'), [String(port)], `EXPOSE the default listen port ${port}`);
  t.match(one('HEALTHCHECK')[0] ?? '', new RegExp(`127\\.0\\.0\\.1:${port}/healthz`), 'HEALTHCHECK on /healthz of that port');
  t.same(one('ENTRYPOINT'), ['["llmsoak"]']);
  t.same(one('CMD'), ['["run"]']);
  const runtimeRun = one('RUN').join(' && ');
  t.match(runtimeRun, /ln -s \/app\/dist\/src\/cli\.js \/usr\/local\/bin\/llmsoak/, 'llmsoak → /app/dist/src/cli.js');
  t.match(readFileSync(join(ROOT, 'src', 'cli.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'cli.js starts with a node shebang');
  const reportDir = String(configSchema.properties.report.properties.dir.default).replace(/\/$/, '');
  t.match(runtimeRun, new RegExp(`mkdir -p [^&]*/app/${reportDir}\\b[^&]*&& chown node:node [^&]*/app/${reportDir}\\b`), `the default report.dir (/app/${reportDir}) is writable by node`);
  t.ok(
    rt.some((i) => i.op === 'COPY' && /^package\.json \.\/$/.test(i.args)),
    'package.json beside dist (version.ts reads it)',
  );
});

/** Bare module specifiers imported by the compiled files under dir. */
function importedPackages(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
          const spec = m[1] ?? m[2] ?? m[3] ?? '';
          if (spec.startsWith('.') || spec.startsWith('node:')) continue;
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
          out.set(pkg, relative(dir, p));
        }
      }
    }
  };
  walk(dir);
  return out;
}

t.test('the built output the image runs', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // The image's layout: /app/{dist,node_modules,package.json,examples}, built by tsconfig.build.json.
  const app = join(mkdtempSync(join(tmpdir(), 'llmsoak-image-')), 'app');
  t.teardown(() => rmSync(dirname(app), { recursive: true, force: true }));
  mkdirSync(app);
  // npm test runs the image's build step once, in the background (NPM_TEST_IMAGE_BUILD: a folder where it writes
  // dist/, build.log and, when done, build.rc); run alone, this test runs it itself.
  const building = process.env.NPM_TEST_IMAGE_BUILD;
  if (building !== undefined && building !== '') {
    const rcFile = join(building, 'build.rc');
    const deadline = Date.now() + 150_000;
    while (!existsSync(rcFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const rc = existsSync(rcFile) ? readFileSync(rcFile, 'utf8').trim() : 'still running after 150 s';
    const log = existsSync(join(building, 'build.log')) ? readFileSync(join(building, 'build.log'), 'utf8') : '';
    t.equal(rc, '0', `tsc -p tsconfig.build.json (the image's build step)${rc === '0' ? '' : `:\n${log}`}`);
    if (rc !== '0') return;
    cpSync(join(building, 'dist'), join(app, 'dist'), { recursive: true });
  } else {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const b = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    t.equal(b.status, 0, `tsc -p tsconfig.build.json (the image's build step)${b.status === 0 ? '' : `:\n${b.stdout}${b.stderr}`}`);
  }
  const cli = join(app, 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) return void t.fail('no dist/src/cli.js');
  t.notOk(existsSync(join(app, 'dist', 'test')), 'no tests in the image');

  for (const [name, where] of importedPackages(join(app, 'dist', 'src'))) {
    t.ok(name in pkg.dependencies, `${name} (imported by ${where}) is a production dependency`);
  }

  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  symlinkSync(join(ROOT, 'examples'), join(app, 'examples'), 'dir');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' };
  const help = spawnSync(process.execPath, [cli, '--help'], { cwd: app, env, encoding: 'utf8', timeout: 20_000 });
  t.equal(help.status, 0, 'llmsoak --help');
  t.match(help.stdout, new RegExp(`llmsoak ${version.replace(/\./g, '\\.')}`), 'reports the version from /app/package.json');
  const check = spawnSync(process.execPath, [cli, 'check-config', 'examples/minimal.yaml'], { cwd: app, env, encoding: 'utf8', timeout: 20_000 });
  t.equal(check.status, 0, `llmsoak check-config examples/minimal.yaml (an example shipped in the image)${check.status === 0 ? '' : `: ${check.stderr}`}`);

  // CMD ["run"] with no config: soaks the embedded simulator. Ports moved off the defaults for the test.
  const port = await freePort();
  const simPort = await freePort();
  const child = spawn(process.execPath, [cli, 'run', '--listen', `127.0.0.1:${port}`, '--rate', '2'], {
    cwd: app,
    env: { ...env, LLMSOAK_SIMULATOR__PORT: String(simPort), LLMSOAK_LOG__LEVEL: 'warn', LLMSOAK_RUN__DRAIN_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => void child.kill('SIGKILL'));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? true : undefined;
    },
    30_000,
    200,
  ).catch((err: unknown) => t.fail(`not ready: ${String(err)}\n${out}`));

  // The HEALTHCHECK command exactly as written, on the test's port.
  const hc = dockerfile()[1]?.instrs.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  const cmd = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim()) as string[];
  t.equal(cmd[0], 'node');
  const probe = spawnSync(
    process.execPath,
    cmd.slice(1).map((a) => a.replace('127.0.0.1:9477', `127.0.0.1:${port}`)),
    { encoding: 'utf8', timeout: 10_000 },
  );
  t.equal(probe.status, 0, 'the HEALTHCHECK command passes against the running daemon');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(metrics, /^llmsoak_build_info\{version="[^"]+",node="[^"]+"\} 1$/m, '/metrics served');

  child.kill('SIGTERM');
  const code = await waitExit(child, 20_000);
  t.equal(code, 0, `exits 0 on SIGTERM (the container's stop)${code === 0 ? '' : `: ${out}`}`);
});
