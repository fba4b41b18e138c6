/**
 * A real monitoring stack for tests, from Debian's packages, on loopback:
 * Prometheus (`prometheus`) and Alertmanager (`prometheus-alertmanager`),
 * each in its own temporary directory, stopped (SIGTERM, then SIGKILL) and
 * cleaned up by the caller's teardown. A missing binary is reported in one
 * line naming the package to install; tests fail on it, never skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitExit, waitFor } from './helpers.js';

/** A binary by path or PATH lookup; undefined when absent. */
export function findBinary(...names: string[]): string | undefined {
  for (const n of names) {
    if (n.startsWith('/') && existsSync(n)) return n;
    if (n.startsWith('/')) continue;
    const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' });
    const p = r.stdout.trim();
    if (r.status === 0 && p !== '') return p;
  }
  return undefined;
}

/** One line naming what to install. */
export function installLine(pkg: string): string {
  return `install ${pkg} (apt-get install ${pkg})`;
}

export interface RunningServer {
  base: string;
  port: number;
  dir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function startServer(bin: string, args: (dir: string, port: number) => string[], prefix: string, readyMs: number): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitExit(child, 5_000);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${bin} exited (${child.exitCode})`);
        const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        return res.ok ? true : undefined;
      },
      readyMs,
      100,
    );
  } catch (err) {
    await stop();
    throw new Error(`${bin} not ready within ${readyMs} ms: ${String(err)}\n${out}`);
  }
  return { base, port, dir, child, output: () => out, stop };
}

/**
 * Prometheus with `configYaml` (written to prometheus.yml in its directory;
 * `files` are written beside it, so rule_files may name them relatively;
 * `extraArgs` are added to its command line, e.g. --enable-feature=exemplar-storage).
 */
export async function startPrometheus(bin: string, configYaml: string, files: Record<string, string> = {}, readyMs = 30_000, extraArgs: string[] = []): Promise<RunningServer> {
  return startServer(
    bin,
    (dir, port) => {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      writeFileSync(join(dir, 'prometheus.yml'), configYaml);
      return [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs];
    },
    'llmsoak-prom-',
    readyMs,
  );
}

/** Alertmanager with a config file from the repository, no clustering. */
export async function startAlertmanager(bin: string, configFile: string, readyMs = 15_000): Promise<RunningServer> {
  return startServer(
    bin,
    (dir, port) => [`--config.file=${configFile}`, `--storage.path=${dir}`, '--cluster.listen-address=', `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    'llmsoak-am-',
    readyMs,
  );
}

/** One series of a Prometheus answer: labels and [unix s, "value"] pairs. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export interface PromAnswer {
  status: string;
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: PromSeries[] | [number, string] };
}

/** GET /api/v1/query (instant, at `timeSec` or now). */
export async function promQuery(base: string, query: string, timeSec?: number): Promise<PromAnswer> {
  const params = new URLSearchParams({ query });
  if (timeSec !== undefined) params.set('time', String(timeSec));
  const res = await fetch(`${base}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as PromAnswer;
}

/** The finite values of an answer (vector, matrix or scalar). */
export function finiteValues(a: PromAnswer): number[] {
  const r = a.data?.result;
  if (r === undefined) return [];
  const parse = (s: string) => (s === '+Inf' || s === '-Inf' ? NaN : Number(s));
  if (a.data?.resultType === 'scalar') {
    const v = parse(String((r as [number, string])[1]));
    return Number.isFinite(v) ? [v] : [];
  }
  const out: number[] = [];
  for (const s of r as PromSeries[]) {
    if (s.value) out.push(parse(s.value[1]));
    for (const p of s.values ?? []) out.push(parse(p[1]));
  }
  return out.filter((v) => Number.isFinite(v));
}

/** What GET /api/v2/alerts of Alertmanager returns, the parts tests read. */
export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

export async function amAlerts(base: string): Promise<AmAlert[]> {
  const res = await fetch(`${base}/api/v2/alerts`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${base}/api/v2/alerts: HTTP ${res.status}`);
  return (await res.json()) as AmAlert[];
}
