/**
 * Target-process collector against real child processes: a `node -e` child
 * that allocates memory and opens files (and has a `sleep` grandchild), found
 * by pid and by a command-line regex; then killed (last_success 0, one log
 * line, gauges gone); then a new instance found again by the regex.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { ProcessCollector, type ProcessCollectorOptions } from '../src/collectors/process.js';

function captureLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(l);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function value(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels));
  return hit?.value;
}

const MARKER = `llmsoak-proc-test-${randomBytes(4).toString('hex')}`;
const CHILD = `
const held = [];
for (let i = 0; i < 96; i++) held.push(Buffer.alloc(1 << 20, i));
const fs = require('fs');
const fds = [];
for (let i = 0; i < 20; i++) fds.push(fs.openSync('/dev/null', 'r'));
const g = require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' });
process.stdout.write('ready ' + g.pid + '\\n');
setInterval(() => { held[0][0]++; }, 200);
`;

interface Running {
  child: ChildProcess;
  grandchild: number;
}
const started: Running[] = [];

async function startTarget(): Promise<Running> {
  const child = spawn(process.execPath, ['-e', CHILD, MARKER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not start')), 10_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  const r = { child, grandchild: Number(line.split(' ')[1]) };
  started.push(r);
  return r;
}

async function stopTarget(r: Running): Promise<void> {
  try {
    process.kill(r.grandchild, 'SIGKILL');
  } catch {
    /* already gone */
  }
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    r.child.once('exit', () => resolve());
    r.child.kill('SIGKILL');
  });
}

t.teardown(async () => {
  for (const r of started) await stopTarget(r);
});

function options(reg: Registry, logger: pino.Logger, over: Partial<ProcessCollectorOptions>): ProcessCollectorOptions {
  return {
    intervalMs: 1000,
    timeoutMs: 4000,
    logger,
    clock: systemClock,
    registry: reg,
    procRoot: '/proc',
    pid: () => undefined,
    includeChildren: true,
    ...over,
  };
}

t.test('by pid, by pattern, dead, re-resolved', async (t) => {
  const a = await startTarget();
  const pidA = a.child.pid!;

  // by pid, without and with descendants
  const regPid = new Registry();
  const own = new ProcessCollector(options(regPid, captureLogger().logger, { pid: () => pidA, includeChildren: false }));
  await own.collectOnce();
  const L = { process: 'node' };
  t.equal(await value(regPid, 'llmsoak_collector_last_success', { collector: 'process' }), 1);
  const rss = (await value(regPid, 'llmsoak_target_process_resident_memory_bytes', L)) ?? 0;
  t.ok(rss > 96 * 1024 * 1024, `RSS ${rss} covers the 96 MiB the child holds`);
  const threads = (await value(regPid, 'llmsoak_target_process_threads', L)) ?? 0;
  t.ok(threads >= 5, `node has several threads (${threads})`);
  t.ok(((await value(regPid, 'llmsoak_target_process_open_fds', L)) ?? 0) >= 23, 'stdio + 20 opened files');
  const start = (await value(regPid, 'llmsoak_target_process_start_time_seconds', L)) ?? 0;
  t.ok(Math.abs(start - Date.now() / 1000) < 60, 'started within the last minute');
  t.ok(((await value(regPid, 'llmsoak_target_process_cpu_seconds_total', L)) ?? -1) >= 0);
  await own.stop();

  const regTree = new Registry();
  const tree = new ProcessCollector(options(regTree, captureLogger().logger, { pid: () => pidA }));
  await tree.collectOnce();
  t.equal(await value(regTree, 'llmsoak_target_process_threads', L), threads + 1, 'the sleep grandchild adds its thread');
  await tree.stop();

  // by pattern (our own process never matches)
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new ProcessCollector(options(reg, logger, { pattern: new RegExp(MARKER), label: 'simulator' }));
  t.teardown(() => c.stop());
  await c.collectOnce();
  t.equal(c.currentPid, pidA, 'found by the command-line regex');
  const S = { process: 'simulator' };
  t.ok(((await value(reg, 'llmsoak_target_process_resident_memory_bytes', S)) ?? 0) > 96 * 1024 * 1024);
  const cpu1 = (await value(reg, 'llmsoak_target_process_cpu_seconds_total', S)) ?? 0;

  // dies: absent, last_success 0, one line over several collections; counter kept
  await stopTarget(a);
  for (let i = 0; i < 3; i++) await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'process' }), 0);
  t.equal(await value(reg, 'llmsoak_target_process_resident_memory_bytes', S), undefined, 'gauges removed');
  t.equal(await value(reg, 'llmsoak_target_process_threads', S), undefined);
  t.equal(await value(reg, 'llmsoak_target_process_cpu_seconds_total', S), cpu1, 'counter stays');
  t.equal(lines().length, 1, 'one log line');
  t.match(String(lines()[0]?.msg), /process collector failing: target process not found/);

  // a new instance is found again, and the counter keeps growing from where it was
  const b = await startTarget();
  await c.collectOnce();
  t.equal(c.currentPid, b.child.pid);
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'process' }), 1);
  t.ok(((await value(reg, 'llmsoak_target_process_cpu_seconds_total', S)) ?? 0) >= cpu1);
  t.equal(lines().length, 2);
  t.match(String(lines()[1]?.msg), /recovered/);
  await stopTarget(b);
  await c.stop();
});

t.test('nothing to look for / a pid that does not exist', async (t) => {
  const reg = new Registry();
  const { logger, lines } = captureLogger();
  const c = new ProcessCollector(options(reg, logger, { pid: () => 2 ** 22 + 12345 }));
  await c.collectOnce();
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'process' }), 0);
  t.equal(lines().length, 1);
  t.match(String(lines()[0]?.reason), /pid 4206649 not running/);
  await c.stop();
});
