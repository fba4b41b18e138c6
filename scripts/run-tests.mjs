#!/usr/bin/env node
// Runs the compiled test files with tap in two phases and writes their TAP to
// stdout (scripts/tap-summary.mjs counts it):
//  1. parallel: the files are shared out among JOBS tap processes, longest
//     first onto the least loaded (test/durations.json holds each file's last
//     measured seconds). tap itself always starts its files in alphabetical
//     order, which left the longest files to start last and the tail of the
//     run to one or two of them; balanced queues end together.
//  2. serial: the files whose claims are about CPU time or timing accuracy,
//     one at a time, with no other test file taking the cores they measure.
// Each file's TAP block is written whole when the file ends, so that the
// queues' output never interleaves. A file that never reports (its queue
// crashed) is written as failed: nothing is lost from the count.
//
//   node scripts/run-tests.mjs [--jobs N] [FILE...]     (no FILE: every dist/test/*.test.js)
//   node scripts/run-tests.mjs --record LOG             (rewrite test/durations.json from a run's TAP log)
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const DURATIONS = join(ROOT, 'test', 'durations.json');
const TAP = join(ROOT, 'node_modules', '.bin', 'tap');
/** Files whose claims are about CPU time or timing accuracy: run alone, after the rest. */
const SERIAL = ['hints-cpu.test.js', 'accuracy-truth.test.js', 'request-phases.test.js'];
/** Seconds assumed for a file test/durations.json does not know yet. */
const UNKNOWN_SEC = 10;
const TOP_RESULT = /^(not ok|ok) \d+ - (\S+)/;

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

/** Longest first onto the least loaded queue (LPT): queues whose sums differ by at most the shortest file's time. */
function shareOut(files, durations, jobs) {
  const sec = (f) => durations[basename(f)] ?? UNKNOWN_SEC;
  const queues = Array.from({ length: Math.min(jobs, files.length) }, () => ({ files: [], sec: 0 }));
  for (const f of [...files].sort((a, b) => sec(b) - sec(a))) {
    const q = queues.reduce((min, q) => (q.sec < min.sec ? q : min));
    q.files.push(f);
    q.sec += sec(f);
  }
  return queues;
}

/** Runs tap on `files` (one at a time) and resolves when it exits; `onBlock` gets each file's whole TAP block. */
function runTap(files, onBlock) {
  return new Promise((resolve) => {
    const child = spawn(TAP, ['--reporter=tap', '--jobs=1', ...files], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    let block = [];
    const take = (chunk) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        // tap's own header and plan lines belong to no file.
        if (!/^(TAP version \d+|1\.\.\d+)$/.test(line)) block.push(line);
        const top = TOP_RESULT.exec(line);
        if (top) {
          onBlock(block, top[2]);
          block = [];
        }
        nl = pending.indexOf('\n');
      }
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    child.on('error', (err) => {
      block.push(`# run-tests: cannot start tap: ${err.message}`);
      resolve();
    });
    child.on('close', () => {
      if (pending) block.push(pending);
      if (block.some((l) => l.trim() !== '')) onBlock(block, undefined);
      resolve();
    });
  });
}

async function run(files, jobs) {
  const reported = new Set();
  const write = (lines, file) => {
    if (file) reported.add(file);
    process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  };
  const durations = readDurations();
  const sec = (f) => durations[basename(f)] ?? UNKNOWN_SEC;
  const serial = files.filter((f) => SERIAL.includes(basename(f)));
  const parallel = files.filter((f) => !SERIAL.includes(basename(f))).sort((a, b) => sec(a) - sec(b));
  // tap rebuilds its test class (node_modules/@tapjs/test/test-built) when the configured plugins
  // differ from those it was built with, as after a clean install with this package.json's plugin
  // list; tap processes started together all rebuild it at once and break each other's build. So
  // the shortest file runs first, alone: one tap builds it, the queues find it built.
  const first = parallel.shift();
  if (first !== undefined) await runTap([first], write);
  const queues = shareOut(parallel, durations, jobs);
  process.stdout.write(
    `# run-tests: ${parallel.length} files in ${queues.length} queues (${queues.map((q) => `${q.files.length} files, ~${Math.round(q.sec)} s`).join('; ')}), then ${serial.length} alone\n`,
  );
  await Promise.all(queues.map((q) => runTap(q.files, write)));
  if (serial.length > 0) await runTap(serial, write);
  let n = 0;
  for (const f of files) {
    if (!reported.has(f)) process.stdout.write(`not ok ${++n} - ${f} # run-tests: the file never reported a result\n`);
  }
}

function record(log) {
  const durations = readDurations();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(?:not ok|ok) \d+ - (\S+\.test\.js) # time=([\d.]+)ms/.exec(line);
    if (m) durations[basename(m[1])] = Math.round(Number(m[2]) / 100) / 10;
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
