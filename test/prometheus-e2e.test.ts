/**
 * llmsoak in a real monitoring stack, end to end, in compressed time (under
 * two minutes), with Debian's `prometheus` and `prometheus-alertmanager` on
 * loopback:
 *
 *  1. The simulator runs as a child process; llmsoak (the Daemon, in process)
 *     soaks it with the analyzer on (1 s steps) and Alertmanager configured.
 *  2. Prometheus scrapes llmsoak every second under job="llmsoak" and loads
 *     alerts/llmsoak-rules.yml unchanged, plus a test-only copy of its alerting
 *     groups with every `for:` set to 0s (groups renamed `<group>-for0s`), so
 *     that an alert can fire within the test (the real rules wait 2 to 30 min).
 *     Every rule of the real file evaluates without error.
 *  3. After a short soak, every expression of every dashboard in
 *     grafana/dashboards returns data (a finite value) from that Prometheus,
 *     except, as stated in EXEMPT below: GPU panels when no GPU is present,
 *     GPM panels (Hopper or newer with GPM support only), the target-restarts
 *     annotation (an event: data only when the target restarted), and the
 *     hint panels and annotations (data while a hint fires: checked after
 *     the fault). Cost per token has data: the config sets
 *     collectors.cost.gpuHourPrice; the quality panel too: a golden-prompt
 *     suite runs every 5 s.
 *  4. Errors are injected (50 % of requests answered 503): the
 *     Prometheus-evaluated alert LlmsoakRequestErrorsHigh (for: 0s variant)
 *     and llmsoak's own hint alert ErrorStorm both arrive in Alertmanager.
 *  5. An Analyzer with a PrometheusSource on that Prometheus finds the same
 *     top cause (server_errors, rule error_storm) as the daemon's analyzer on
 *     its local store.
 * A missing binary fails with one line naming the package, never a skip.
 */
import t from 'tap';
import { unexpectedHints } from './hints-harness.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { Registry } from 'prom-client';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { systemClock } from '../src/clock.js';
import { Analyzer } from '../src/analyzer/engine.js';
import { HintTracker } from '../src/analyzer/tracker.js';
import { builtInRules } from '../src/analyzer/rules/index.js';
import { PrometheusSource } from '../src/analyzer/prometheus-source.js';
import { AlertmanagerNotifier } from '../src/alerting/alertmanager.js';
import { ROOT, freePort, startSimulator, waitFor } from './helpers.js';
import { expressions, loadDashboards, substitute, variables } from './dashboards.js';
import { amAlerts, findBinary, finiteValues, installLine, promQuery, startAlertmanager, startPrometheus, type RunningServer } from './monitoring-stack.js';

/**
 * Compressed time as in hints-harness.ts, except the leak window: an hour, so
 * the simulator's start-up growth under the default scenario mix (JIT, heap)
 * is not fitted as a leak within a one-minute test.
 */
const ANALYZER = { stepSec: 1, intervalSec: 2, windowSec: 12, warmupSec: 4, baselineSec: 10, leakWindowSec: 3600, thresholds: { alpha: 0.01 } };
const RULES_FILE = join(ROOT, 'alerts', 'llmsoak-rules.yml');

interface RuleGroupDoc {
  name: string;
  interval?: string;
  rules: Array<Record<string, unknown>>;
}

/** The alerting groups of alerts/llmsoak-rules.yml with `for: 0s`, groups renamed; recording rules left to the real file. */
export function for0sVariant(text: string): string {
  const doc = parse(text) as { groups: RuleGroupDoc[] };
  const groups: RuleGroupDoc[] = [];
  for (const g of doc.groups) {
    const alerts = g.rules.filter((r) => typeof r.alert === 'string').map((r) => ({ ...r, for: '0s' }));
    if (alerts.length > 0) groups.push({ name: `${g.name}-for0s`, rules: alerts });
  }
  return stringify({ groups });
}

t.test('llmsoak in a real Prometheus + Alertmanager stack', async (t) => {
  const promBin = findBinary('/usr/bin/prometheus', 'prometheus');
  const amBin = findBinary('prometheus-alertmanager', 'alertmanager');
  if (promBin === undefined) return void t.fail(installLine('prometheus'));
  if (amBin === undefined) return void t.fail(installLine('prometheus-alertmanager'));
  const began = Date.now();

  // Alertmanager, with the repository's test configuration.
  const am = await startAlertmanager(amBin, join(ROOT, 'alertmanager', 'alertmanager.test.yml'));
  t.teardown(() => am.stop());

  // The simulator, as a separate process.
  const simPort = await freePort();
  const sim = startSimulator(['--port', String(simPort)], { PATH: process.env.PATH ?? '', LLMSOAK_LOG__LEVEL: 'warn' });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => ((await request(`${simUrl}/health`)).statusCode === 200 ? true : undefined), 15_000);

  // llmsoak, in process: default scenario mix, analyzer in compressed time, hints to Alertmanager.
  const { config } = loadConfig({
    document: {
      target: { url: `${simUrl}/v1`, pid: sim.child.pid },
      server: { listen: '127.0.0.1:0' },
      traffic: { rate: 8, seed: 7 },
      collectors: { intervalMs: 1000, cost: { gpuHourPrice: 2.5, gpuCount: 1 } },
      // A golden prompt every 5 s, so the quality panel has a score.
      quality: { intervalSec: 5, suites: [{ name: 'smoke', prompts: [{ id: 'add', prompt: 'What is 2 + 2?', expect: { number: { value: 4 } }, maxTokens: 8 }] }] },
      analyzer: ANALYZER,
      alerting: { alertmanagers: [{ url: am.base, timeoutMs: 5000 }], resendDelayMs: 2000 },
      run: { drainMs: 1000 },
      log: { level: 'silent' },
    },
  });
  const runStartMs = Date.now();
  const daemon = new Daemon(config, { logger: silentLogger() });
  await daemon.start();
  t.teardown(() => daemon.stop('teardown'));
  const daemonAddr = new URL(daemon.listenUrl).host;

  // Prometheus: scrapes llmsoak every second, loads the real rules and the for: 0s variant.
  const promConfig = stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [RULES_FILE, 'llmsoak-rules-for0s.yml'],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(am.base).host] }] }] },
    scrape_configs: [{ job_name: 'llmsoak', static_configs: [{ targets: [daemonAddr] }] }],
  });
  let prom: RunningServer;
  try {
    prom = await startPrometheus(promBin, promConfig, { 'llmsoak-rules-for0s.yml': for0sVariant(readFileSync(RULES_FILE, 'utf8')) });
  } catch (err) {
    return void t.fail(String(err));
  }
  t.teardown(() => prom.stop());

  await t.test('Prometheus scrapes llmsoak and loads alerts/', async (t) => {
    const up = await waitFor(
      async () => {
        const v = finiteValues(await promQuery(prom.base, 'up{job="llmsoak"}'));
        return v[0] === 1 ? v : undefined;
      },
      15_000,
      250,
    );
    t.same(up, [1], 'up{job="llmsoak"} == 1');
    const rules = (await (await fetch(`${prom.base}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ name: string; file: string; rules: Array<{ name: string; health: string; lastError?: string }> }> };
    };
    const real = rules.data.groups.filter((g) => g.file === RULES_FILE);
    const realDoc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: RuleGroupDoc[] };
    t.equal(real.length, realDoc.groups.length, `every group of alerts/llmsoak-rules.yml loaded (${real.length})`);
    // Give every group a few evaluations, then none may have failed.
    await new Promise((r) => setTimeout(r, 3000));
    const again = (await (await fetch(`${prom.base}/api/v1/rules`)).json()) as typeof rules;
    const bad = again.data.groups.flatMap((g) => g.rules.filter((r) => r.health === 'err').map((r) => `${g.name}/${r.name}: ${r.lastError ?? ''}`));
    t.same(bad, [], 'no rule evaluation error');
  });

  const dashboards = loadDashboards();
  const items = dashboards.flatMap((d) => expressions(d).map((e) => ({ ...e, text: substitute(e.expr, variables(d.json)).text })));
  /** Expressions over llmsoak_hint_active with no fallback: data only while a hint fires, so checked after the fault. */
  const hintDriven = items.filter((e) => /llmsoak_hint_active/.test(e.text) && !/or\s+vector\(0\)/.test(e.text));
  const withData = async (list: typeof items): Promise<typeof items> => {
    const empty: typeof items = [];
    for (const e of list) if (finiteValues(await promQuery(prom.base, e.text)).length === 0) empty.push(e);
    return empty;
  };

  await t.test('every dashboard panel shows data after a short soak', async (t) => {
    // What this machine and this llmsoak can show at all (decides the stated exemptions).
    const exposition = await (await fetch(`${daemon.listenUrl}/metrics`)).text();
    const exported = (name: string) => new RegExp(`^${name}[{ ]`, 'm').test(exposition);
    const gpuPresent = /^llmsoak_collector_last_success\{collector="gpu"\} 1$/m.test(exposition);
    const exempt = (e: (typeof items)[number]): string | undefined => {
      if (/llmsoak_gpu_|llmsoak_energy_joules_per_output_token/.test(e.text)) {
        if (!gpuPresent) return 'GPU series: no GPU on this machine';
        if (/_(sm_active|sm_occupancy|tensor_active|dram_active)_ratio/.test(e.text) && !exported('llmsoak_gpu_sm_active_ratio')) return 'GPM series: this GPU has no GPM (Hopper or newer)';
        if (/energy_joules/.test(e.text) && !exported('llmsoak_gpu_energy_joules_total')) return 'GPU energy counter: not given by this GPU backend';
      }
      if (/llmsoak_quality_score/.test(e.text) && !exported('llmsoak_quality_score')) return 'quality score: no quality suite runs (llmsoak exports no llmsoak_quality_score)';
      // The worker must say it has not loaded the tokenizer: loaded and no gauge is a failure.
      if (
        /llmsoak_output_token_tokenizer_error_ratio/.test(e.text) &&
        !exported('llmsoak_output_token_tokenizer_error_ratio') &&
        /^llmsoak_traffic_worker_tokenizer_loaded\{[^}]*\} 0$/m.test(exposition)
      )
        return 'tokenizer vs usage: sampled only where the fallback tokenizer is loaded; the simulator reports usage, so the worker never loads it (llmsoak_traffic_worker_tokenizer_loaded 0)';
      if (e.kind === 'annotation' && /changes\(llmsoak_target_process_start_time_seconds/.test(e.text)) return 'target-restarts annotation: an event, data only after the target restarted';
      if (e.kind === 'annotation' && /changes\(llmsoak_target_last_change_timestamp_seconds/.test(e.text))
        return 'target-changes annotation: an event, data only after the target changed (test/target-changes.test.ts)';
      if (hintDriven.includes(e)) return 'hint panels and annotations: data while a hint fires, checked after the fault below';
      return undefined;
    };
    const must = items.filter((e) => exempt(e) === undefined);
    const stated = new Map<string, string[]>();
    for (const e of items) {
      const why = exempt(e);
      if (why !== undefined) stated.set(why, [...(stated.get(why) ?? []), e.where]);
    }
    for (const [why, where] of stated) t.comment(`exempt (${where.length}): ${why}`);

    // Let the analyzer, collectors and rates fill (bounded), then every other expression has data.
    let empty = must;
    const deadline = Date.now() + 35_000;
    await new Promise((r) => setTimeout(r, 10_000));
    while (Date.now() < deadline) {
      empty = await withData(must);
      if (empty.length === 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    for (const e of empty) t.fail(`${e.where}: no data`, { expr: e.text });
    const panels = new Set(must.filter((e) => e.kind === 'panel').map((e) => `${e.where.split(' ')[0]}#${String(e.panel?.id)}`));
    t.equal(empty.length, 0, `${must.length} of ${items.length} expressions (${panels.size} panels) return data`);
    t.ok(must.length >= 120, 'most expressions are checked');
  });

  await t.test('an injected fault: both alerts in Alertmanager; same top cause from Prometheus', async (t) => {
    // No false positive before the fault (what unexpectedHints lets through, and why, is said there).
    t.same(unexpectedHints(daemon.hintAnalyzer?.snapshot().hints ?? []), [], 'no hint before the fault');
    const res = await request(`${simUrl}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: { rate: 0.5, status: 503 } }) });
    t.equal(res.statusCode, 200, 'fault set');
    await res.body.dump();
    const injectedAt = Date.now();
    const alerts = await waitFor(
      async () => {
        const list = await amAlerts(am.base);
        const names = new Set(list.filter((a) => a.status.state === 'active').map((a) => a.labels.alertname));
        return names.has('LlmsoakRequestErrorsHigh') && names.has('ErrorStorm') ? list : undefined;
      },
      40_000,
      500,
    ).catch(async (err: unknown) => {
      t.fail(`alerts did not arrive: ${String(err)}; Alertmanager has ${JSON.stringify((await amAlerts(am.base)).map((a) => a.labels.alertname))}`);
      return [];
    });
    t.comment(`alerts after ${((Date.now() - injectedAt) / 1000).toFixed(1)} s: ${[...new Set(alerts.map((a) => a.labels.alertname))].join(', ')}`);
    const fromProm = alerts.find((a) => a.labels.alertname === 'LlmsoakRequestErrorsHigh');
    t.match(fromProm?.labels, { job: 'llmsoak', severity: 'ticket' }, 'LlmsoakRequestErrorsHigh: evaluated by Prometheus on the llmsoak job');
    t.match(fromProm?.annotations.runbook_url, /alerts\/runbooks\/LlmsoakRequestErrorsHigh\.md$/, 'with its runbook');
    const fromLlmsoak = alerts.filter((a) => a.labels.alertname === 'ErrorStorm');
    t.match(fromLlmsoak[0]?.labels, { rule: 'error_storm', cause: 'server_errors', class: 'http_5xx' }, "ErrorStorm: llmsoak's own hint");

    const local = await waitFor(
      async () => {
        const s = daemon.hintAnalyzer?.snapshot();
        return s?.topCause === 'server_errors' ? s : undefined;
      },
      20_000,
      250,
    ).catch(() => daemon.hintAnalyzer?.snapshot());
    t.equal(local?.topCause, 'server_errors', 'local analyzer: server_errors');

    const src = new PrometheusSource({ url: prom.base, stepSec: 1, timeoutMs: 5000 });
    const analyzer = new Analyzer({
      cfg: config.analyzer,
      rules: builtInRules(),
      src,
      tracker: new HintTracker(),
      sinks: [],
      registry: new Registry(),
      logger: silentLogger(),
      clock: systemClock,
      runStartMs,
    });
    const snap = await waitFor(
      async () => {
        await analyzer.evaluate(new Date());
        const s = analyzer.snapshot();
        return s.topCause !== null && s.topCause === local?.topCause ? s : undefined;
      },
      20_000,
      1000,
    ).catch(() => analyzer.snapshot());
    t.equal(snap.topCause, local?.topCause, `Prometheus-backed analyzer: top cause ${String(snap.topCause)}, as the local one`);
    const top = snap.hints.find((h) => h.state === 'firing');
    t.equal(top?.rule, local?.hints.find((h) => h.state === 'firing')?.rule, `same rule (${String(top?.rule)})`);
    t.ok(Number(top?.evidence.error_ratio) > 0.05, `evidence from Prometheus: error ratio ${String(top?.evidence.error_ratio)}`);

    // A second analyzer (an HA twin) sending identical hints: Alertmanager deduplicates them
    // (identity = labels; severity is one, so a twin that rated it differently would be a second alert).
    const twin = new AlertmanagerNotifier(
      { ...config.alerting, externalUrl: 'http://127.0.0.1:1' },
      {
        registry: new Registry(),
        logger: silentLogger(),
        clock: systemClock,
        evaluationIntervalMs: 2000,
      },
    );
    twin.start();
    const stormsBefore = (await amAlerts(am.base)).filter((a) => a.labels.alertname === 'ErrorStorm').length;
    t.equal(twin.send(daemon.hintAnalyzer?.snapshot().hints ?? [], new Date()) > 0, true, 'the twin sends the same hints');
    await twin.idle();
    await twin.stop(2000);
    t.equal(twin.status()[0]?.healthy, true, 'Alertmanager accepted them');
    const storms = (await amAlerts(am.base)).filter((a) => a.labels.alertname === 'ErrorStorm');
    t.ok(storms.length <= stormsBefore, `no new alert: ${storms.length} ErrorStorm alert(s), as before`, { labels: storms.map((a) => a.labels) });
    t.equal(snap.rules.filter((r) => r.health === 'error').length, 0, 'no rule failed on the Prometheus source');
    t.equal(src.stats().failures, 0, 'no failed Prometheus query');

    // The hint panels and annotations show the firing hints (scraped within a second or two).
    const emptyHints = await waitFor(
      async () => {
        const e = await withData(hintDriven);
        return e.length === 0 ? e : undefined;
      },
      10_000,
      1000,
    ).catch(() => withData(hintDriven));
    for (const e of emptyHints) t.fail(`${e.where}: no data while a hint fires`, { expr: e.text });
    t.equal(emptyHints.length, 0, `${hintDriven.length} hint-driven expressions return data while a hint fires`);
  });
  t.comment(`took ${((Date.now() - began) / 1000).toFixed(1)} s`);
});
