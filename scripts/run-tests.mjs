#!/usr/bin/env node
// Runs the compiled test files in two phases, each file in its own node
// process (tap's library, not tap's runner: see runFile), and writes their TAP
// to stdout (scripts/tap-summary.mjs counts it):
//  1. parallel: the files are shared out among JOBS queues, each running its
//     files one after another, longest first onto the least loaded
//     (test/durations.json holds each file's last measured seconds), so that
//     the queues end together; and beside them one more queue from the
//     start: the unit bundle (below) and CPU_QUEUE's files.
//  2. serial: the files whose claims are about CPU time or timing accuracy,
//     one at a time, with no other test file taking the cores they measure.
// Each file's TAP block is written whole when the file ends, so that the
// queues' output never interleaves. A file that never reports (its queue
// crashed) is written as failed: nothing is lost from the count.
//
// The short unit files (test/durations.json: at most BUNDLE_MAX_SEC, not
// serial) run together in one node process (scripts/test-bundle.mjs imports
// them one after another; tap's root test runs their tests in that order):
// a node process with tap and src loaded costs ~1 CPU-s to start, and 56 of
// them fell in the part of the run where both cores are busy. One block, one
// line "ok N - unit bundle (N files)"; its tests count as the files' would.
//
//   node scripts/run-tests.mjs [--jobs N] [FILE...]     (no FILE: every dist/test/*.test.js)
//   node scripts/run-tests.mjs --record LOG             (rewrite test/durations.json from a run's TAP log)
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const DURATIONS = join(ROOT, 'test', 'durations.json');
/** Files whose claims are about CPU time, timing accuracy or the host's shared state: run alone, after the rest. */
// collectors-host-limits counts the host's ephemeral ports in use: other test files open and close loopback
// connections by the hundred, so it runs where none does.
const SERIAL = ['hints-cpu.test.js', 'accuracy-truth.test.js', 'request-phases.test.js', 'client-timing.test.js', 'collectors-host-limits.test.js'];
/**
 * Files that keep a core busy and claim nothing about time (rules through promtool, the GPU check's dry run,
 * the image's output, replay files): with the unit bundle they make one more queue, run from the start beside
 * the long files that mostly wait on compressed analyzer windows (both cores ~35 % busy there, /proc/stat
 * every 5 s), instead of in the last part of the run, where both cores are busy. deploy last: it waits for
 * the image's build, started in the background by scripts/test.sh.
 */
const CPU_QUEUE = ['alerts-promtool.test.js', 'gpu-check-dry-run.test.js', 'replay.test.js', 'replay-augment.test.js', 'deploy.test.js'];
/** Files this short (test/durations.json, seconds) share one node process: see the header. */
const BUNDLE_MAX_SEC = 4;
/** Short files whose claims are about their own process (nothing loaded the tokenizer in it yet): never bundled. */
const OWN_PROCESS = ['corpus-tokens.test.js'];
/** test/durations.json's key for the bundle's own time. */
const BUNDLE_KEY = '(unit bundle)';
/** Seconds assumed for a file test/durations.json does not know yet. */
const UNKNOWN_SEC = 10;
/** Per file, as package.json's tap.timeout (180 s). */
const TIMEOUT_SEC = 180;
let fileNumber = 0;

function parseArgs(argv) {
  const out = { jobs: Number(process.env.TEST_JOBS ?? readTapJobs()), files: [], record: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--jobs') out.jobs = Number(argv[++i]);
    else if (a === '--record') out.record = argv[++i];
    else out.files.push(a);
  }
  if (!Number.isInteger(out.jobs) || out.jobs < 1) {
    console.error(`run-tests: --jobs (or TEST_JOBS) must be a whole number ≥ 1, got ${out.jobs}`);
    process.exit(2);
  }
  return out;
}

function readTapJobs() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return pkg.tap?.jobs ?? 2;
}

function readDurations() {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

/** Expected seconds of a queue item: a file, or the unit bundle (an array of files). */
function itemSec(durations, f) {
  return Array.isArray(f) ? (durations[BUNDLE_KEY] ?? f.length) : (durations[basename(f)] ?? UNKNOWN_SEC);
}

/** Longest first onto the least loaded queue (LPT): queues whose sums differ by at most the shortest file's time. */
function shareOut(files, durations, jobs) {
  const sec = (f) => itemSec(durations, f);
  const queues = Array.from({ length: Math.min(jobs, files.length) }, () => ({ files: [], sec: 0 }));
  for (const f of [...files].sort((a, b) => sec(b) - sec(a))) {
    const q = queues.reduce((min, q) => (q.sec < min.sec ? q : min));
    q.files.push(f);
    q.sec += sec(f);
  }
  return queues;
}

/**
 * Runs one compiled test file with plain node (tap's library prints TAP when the file is run
 * directly) and hands its output to `onBlock` as one subtest block of this run's TAP. Not tap's
 * runner: it loads @tapjs/processinfo into every test file and, through NODE_OPTIONS, into every
 * node process a test starts (each simulator, each CLI run), which doubled a child's start-up CPU
 * (0.5 → 1.0 CPU-s for `llmsoak --help`) on a 2-core machine.
 */
function runFile(item, onBlock) {
  return new Promise((resolve) => {
    const started = performance.now();
    const env = { ...process.env, TAP_TIMEOUT: String(TIMEOUT_SEC) };
    delete env.NODE_OPTIONS;
    const bundle = Array.isArray(item);
    const file = bundle ? `unit bundle (${item.length} files)` : item;
    const args = bundle ? [join(ROOT, 'scripts', 'test-bundle.mjs'), ...item] : [item];
    const child = spawn(process.execPath, ['--enable-source-maps', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.setEncoding('utf8').on('data', (c) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c) => err.push(c));
    // tap ends a file at its own timeout (TAP_TIMEOUT); this one is for a file that hangs past it.
    const killer = setTimeout(() => child.kill('SIGKILL'), (TIMEOUT_SEC + 20) * 1000);
    let spawnError;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const ms = (performance.now() - started).toFixed(3);
      const lines = [`# Subtest: ${file}`];
      if (bundle) lines.push(`    # ${item.map((f) => basename(f)).join(' ')}`);
      for (const line of out.join('').trimEnd().split('\n')) {
        if (!/^TAP version \d+$/.test(line)) lines.push(line === '' ? '' : `    ${line}`);
      }
      for (const line of err.join('').split('\n')) if (line !== '') lines.push(`    # stderr: ${line}`);
      const why = spawnError ? `cannot start node: ${spawnError.message}` : code !== 0 ? `exit ${code ?? signal}` : '';
      lines.push(`${why ? 'not ok' : 'ok'} ${++fileNumber} - ${file} # time=${ms}ms${why ? ` (${why})` : ''}`, '');
      onBlock(lines, bundle ? item : [item]);
      resolve();
    });
  });
}

/** Runs `files` one after another. */
async function runQueue(files, onBlock) {
  for (const f of files) await runFile(f, onBlock);
}

async function run(files, jobs) {
  const reported = new Set();
  const write = (lines, done) => {
    for (const f of done ?? []) reported.add(f);
    process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  };
  const durations = readDurations();
  const serial = files.filter((f) => SERIAL.includes(basename(f)));
  const short = files.filter((f) => !SERIAL.includes(basename(f)) && !OWN_PROCESS.includes(basename(f)) && (durations[basename(f)] ?? UNKNOWN_SEC) <= BUNDLE_MAX_SEC);
  const bundled = short.length >= 2 ? short : [];
  const cpu = files.filter((f) => CPU_QUEUE.includes(basename(f)));
  cpu.sort((a, b) => CPU_QUEUE.indexOf(basename(a)) - CPU_QUEUE.indexOf(basename(b)));
  const parallel = files.filter((f) => !SERIAL.includes(basename(f)) && !bundled.includes(f) && !cpu.includes(f));
  const cpuItems = [...(bundled.length ? [bundled] : []), ...cpu];
  const queues = shareOut(parallel, durations, jobs);
  if (cpuItems.length) queues.push({ files: cpuItems, sec: cpuItems.reduce((a, f) => a + itemSec(durations, f), 0) });
  process.stdout.write(
    `# run-tests: ${parallel.length} files in ${queues.length - (cpuItems.length ? 1 : 0)} queues${cpuItems.length ? `, and a queue of a bundle of ${bundled.length} unit files and ${cpu.length} CPU-bound files` : ''} (${queues.map((q) => `${q.files.length} items, ~${Math.round(q.sec)} s`).join('; ')}), then ${serial.length} alone\n`,
  );
  await Promise.all(queues.map((q) => runQueue(q.files, write)));
  await runQueue(serial, write);
  for (const f of files) {
    if (!reported.has(f)) process.stdout.write(`not ok ${++fileNumber} - ${f} # run-tests: the file never reported a result\n`);
  }
}

function record(log) {
  const durations = readDurations();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(?:not ok|ok) \d+ - (\S+\.test\.js|unit bundle \(\d+ files\)) # time=([\d.]+)ms/.exec(line);
    if (m) durations[m[1].startsWith('unit bundle') ? BUNDLE_KEY : basename(m[1])] = Math.round(Number(m[2]) / 100) / 10;
  }
  const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(DURATIONS, `${JSON.stringify(sorted, null, 2)}\n`);
  console.log(`run-tests: ${Object.keys(sorted).length} durations written to ${DURATIONS}`);
}

const args = parseArgs(process.argv.slice(2));
if (args.record) record(args.record);
else {
  const files =
    args.files.length > 0
      ? args.files
      : readdirSync(join(ROOT, 'dist', 'test'))
          .filter((f) => f.endsWith('.test.js'))
          .map((f) => `dist/test/${f}`);
  await run(files, args.jobs);
}
