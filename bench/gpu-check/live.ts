/**
 * The device side of the GPU check: llmsoak's GPU collector (NVML through
 * koffi, as the daemon runs it) once a second, nvidia-smi's query loop and
 * dmon beside it, and the PyTorch load in phases. Everything is recorded with
 * unix-ms times of this one machine; analyse.ts judges it.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/clock.js';
import { GpuCollector } from '../../src/collectors/gpu.js';
import type { Logger } from '../../src/log.js';
import type { RunRecord } from './analyse.js';
import { DMON_GPM_IDS, QUERY_FIELDS, legacyFields } from './reference.js';
import { snapshot, type CollectorSample, type PHASE_NAMES, type Phase } from './samples.js';

export interface LiveOptions {
  gpu: string;
  libraryPath: string;
  python: string;
  loadScript: string;
  /** Seconds of each phase, by PHASE_NAMES. */
  seconds: Record<(typeof PHASE_NAMES)[number], number>;
  logger: Logger;
  /** One progress line to the console. */
  say: (line: string) => void;
}

/** A part of the check that could not run (no NVML, no load): the run stops with this one line. */
export class GpuCheckError extends Error {
  override name = 'GpuCheckError';
}

function querySucceeds(fields: readonly string[], gpu: string): boolean {
  const r = spawnSync('nvidia-smi', [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits', '-i', gpu], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && !/not a valid field/i.test(`${r.stdout}${r.stderr}`);
}

/** The query fields this nvidia-smi accepts: all, or the pre-r535 names, or those accepted one by one. */
export function probeQueryFields(gpu: string, notes: string[]): string[] {
  if (querySucceeds(QUERY_FIELDS, gpu)) return [...QUERY_FIELDS];
  const legacy = legacyFields(QUERY_FIELDS);
  if (querySucceeds(legacy, gpu)) {
    notes.push('nvidia-smi knows clocks_throttle_reasons.* only (driver older than r535)');
    return legacy;
  }
  const kept = QUERY_FIELDS.map((f, i) => (querySucceeds([f], gpu) ? f : querySucceeds([legacy[i] as string], gpu) ? (legacy[i] as string) : undefined));
  const dropped = QUERY_FIELDS.filter((_, i) => kept[i] === undefined);
  notes.push(`nvidia-smi rejected query fields: ${dropped.join(', ')}`);
  return kept.filter((f): f is string => f !== undefined);
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

function lineChild(cmd: string, args: readonly string[], onLine: (line: string) => void, env: NodeJS.ProcessEnv = process.env): { child: Child; stderr: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    err = (err + s).slice(-2000);
  });
  child.on('error', (e) => {
    err += `cannot run ${cmd}: ${e.message}`;
  });
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine);
  return { child, stderr: () => err };
}

/** `p`, or 'timeout' after `ms`; the timer is cleared either way, so it never keeps the process alive. */
async function orTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  const ac = new AbortController();
  const timer = sleep(ms, 'timeout' as const, { signal: ac.signal }).catch(() => 'timeout' as const);
  try {
    return await Promise.race([p, timer]);
  } finally {
    ac.abort();
  }
}

function exited(child: Child): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('close', (code) => resolve(code));
  });
}

async function stop(child: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if ((await orTimeout(exited(child), 3000)) === 'timeout') child.kill('SIGKILL');
}

/** dmon with GPM, or without it when this driver or machine refuses GPM (noted). */
async function startDmon(gpu: string, lines: string[], notes: string[]): Promise<Child> {
  const base = ['dmon', '-i', gpu, '-s', 'puct', '-d', '1'];
  const push = (l: string): void => {
    lines.push(`${Date.now()} ${l}`);
  };
  const withGpm = lineChild('nvidia-smi', [...base, '--gpm-metrics', DMON_GPM_IDS.join(',')], push);
  const early = await orTimeout(exited(withGpm.child), 3000);
  if (early === 'timeout') return withGpm.child;
  notes.push(`nvidia-smi dmon --gpm-metrics exited (${String(early)}): ${withGpm.stderr().trim().split('\n')[0] ?? ''}; dmon runs without GPM`);
  lines.length = 0;
  return lineChild('nvidia-smi', base, push).child;
}

interface LoadEvent {
  event?: string;
  phase?: string;
  tMs?: number;
  [k: string]: unknown;
}

/** Runs the whole recording; throws GpuCheckError when llmsoak's NVML backend cannot start (a failed load is recorded in `problems`). */
export async function record(o: LiveOptions): Promise<RunRecord> {
  const notes: string[] = [];
  const queryFields = probeQueryFields(o.gpu, notes);
  const registry = new Registry();
  const collector = new GpuCollector({
    intervalMs: 1000,
    timeoutMs: 5000,
    logger: o.logger,
    clock: systemClock,
    registry,
    backend: 'nvml',
    libraryPath: o.libraryPath,
    nvidiaSmiPath: 'nvidia-smi',
    retryMs: 300_000,
    gpm: true,
    pcie: true,
    maxBytes: 1 << 20,
  });
  await collector.collectOnce();
  if (collector.backendKind !== 'nvml') {
    await collector.stop();
    throw new GpuCheckError(`llmsoak's NVML backend did not start with ${o.libraryPath} (its log line above says why)`);
  }
  o.say(`collector: NVML, ${String(collector.gpuCount())} GPU(s)`);

  const queryLines: string[] = [];
  const dmonLines: string[] = [];
  const query = lineChild('nvidia-smi', [`--query-gpu=${queryFields.join(',')}`, '--format=csv,noheader,nounits', '-i', o.gpu, '-lms', '1000'], (l) => queryLines.push(`${Date.now()},${l}`), {
    ...process.env,
    TZ: 'UTC',
  });
  const dmon = await startDmon(o.gpu, dmonLines, notes);

  const samples: CollectorSample[] = [];
  let collecting = true;
  const loop = (async () => {
    while (collecting) {
      const t0 = Date.now();
      await collector.collectOnce();
      samples.push(await snapshot(registry, (t0 + Date.now()) / 2));
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  })();

  const phases: Phase[] = [];
  const open = new Map<string, number>();
  const s = o.seconds;
  const load = lineChild(
    o.python,
    [o.loadScript, '--idle', String(s.idle), '--matmul', String(s.matmul), '--copy', String(s.copy), '--idle2', String(s.idle2)],
    (l) => {
      let e: LoadEvent;
      try {
        e = JSON.parse(l) as LoadEvent;
      } catch {
        o.say(`load: ${l}`);
        return;
      }
      o.say(`load: ${l}`);
      if (e.event === 'start' && e.phase !== undefined && typeof e.tMs === 'number') open.set(e.phase, e.tMs);
      else if (e.event === 'end' && e.phase !== undefined && typeof e.tMs === 'number') {
        phases.push({ name: e.phase, startMs: open.get(e.phase) ?? e.tMs, endMs: e.tMs });
        const { event: _e, phase: _p, tMs: _t, ...rest } = e;
        if (Object.keys(rest).length > 0) notes.push(`load ${e.phase}: ${JSON.stringify(rest)}`);
      } else if (e.event === 'ready') {
        const { event: _e, tMs: _t, ...rest } = e;
        notes.push(`load ready: ${JSON.stringify(rest)}`);
      }
    },
    { ...process.env, PYTHONUNBUFFERED: '1' },
  );
  const budgetMs = (s.idle + s.matmul + s.copy + s.idle2 + 120) * 1000;
  const code = await orTimeout(exited(load.child), budgetMs);
  if (code === 'timeout') await stop(load.child);
  await sleep(2000); // two more collections after the last phase
  collecting = false;
  await loop;
  await Promise.all([stop(query.child), stop(dmon)]);
  await collector.stop();
  const problems: string[] = [];
  if (code !== 0) {
    const why = code === 'timeout' ? `ran past ${budgetMs / 1000} s` : `exited with ${String(code)}`;
    problems.push(`FAIL load: ${o.loadScript} ${why}: ${load.stderr().trim().split('\n').slice(-1)[0] ?? ''}`);
  }
  if (queryLines.length === 0) problems.push(`FAIL nvidia-smi --query-gpu printed nothing: ${query.stderr().trim().split('\n')[0] ?? ''}`);
  return { gpu: o.gpu, queryFields, queryLines, dmonLines, collector: samples, phases, notes, problems };
}
