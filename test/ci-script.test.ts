/**
 * .ci/run itself: its last line is the suite's "N passed, N failed" and its exit
 * status is the suite's. The script runs for real, with a fake `npm` first on
 * PATH (the only edge faked: installing and testing are what the rest of the
 * suite checks). A bug here lands nothing, so it is tested like code.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

interface CiRun {
  status: number | null;
  lines: string[];
}

/** Runs a copy of .ci/run whose `npm test` prints `testOutput` and exits `testExit`. */
function runCi(testOutput: string, testExit: number, ciExit = 0): CiRun {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-ci-script-'));
  try {
    mkdirSync(join(dir, '.ci'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(ROOT, '.ci', 'run'), join(dir, '.ci', 'run'));
    writeFileSync(join(dir, 'test-output.txt'), `${testOutput}\n`);
    const fakeNpm = ['#!/usr/bin/env bash', `if [ "$1" = ci ]; then exit ${ciExit}; fi`, `cat '${join(dir, 'test-output.txt')}'`, `exit ${testExit}`, ''].join('\n');
    writeFileSync(join(dir, 'bin', 'npm'), fakeNpm);
    chmodSync(join(dir, 'bin', 'npm'), 0o755);
    const r = spawnSync('bash', [join(dir, '.ci', 'run')], { encoding: 'utf8', env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, TMPDIR: dir }, timeout: 30_000 });
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.length > 0);
    return { status: r.status, lines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a green suite: exit 0, the last line is its summary, nothing printed after it', async (t) => {
  const r = runCi('ok 1 - a\n12 passed, 0 failed', 0);
  t.equal(r.status, 0, `exit 0 (output: ${r.lines.join(' | ')})`);
  t.equal(r.lines.at(-1), '12 passed, 0 failed');
  t.notOk(
    r.lines.some((l) => /unbound variable|syntax error|command not found/.test(l)),
    'no shell error',
  );
});

t.test('a red suite: its exit status and its summary come through', async (t) => {
  const r = runCi('not ok 1 - a\n11 passed, 1 failed', 1);
  t.equal(r.status, 1);
  t.equal(r.lines.at(-1), '11 passed, 1 failed');
});

t.test('a suite that prints no summary: a failure, never a pass', async (t) => {
  const r = runCi('something crashed', 0);
  t.not(r.status, 0);
  t.equal(r.lines.at(-1), '0 passed, 1 failed');
});

t.test('npm ci failing: a failure with a summary line', async (t) => {
  const r = runCi('12 passed, 0 failed', 0, 1);
  t.equal(r.status, 1);
  t.equal(r.lines.at(-1), '0 passed, 1 failed');
});
