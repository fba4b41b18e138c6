/**
 * The checkpointer's timing rules on a fake clock (real files, no wall-clock
 * wait): periodic checkpoints exactly one interval apart with one timer at a
 * time, a failing directory logged once and its recovery logged once, and a
 * checkpoint judged by its age on the clock (too old for the store, or from
 * the future after the clock went back: set aside, a new soak).
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';
import { Checkpointer, type CheckpointerOptions } from '../src/state/checkpointer.js';
import { FakeClock } from './fake-clock.js';
import { logLines, waitFor } from './helpers.js';

const START = Date.parse('2026-12-07T00:00:00Z');
const HOUR = 3_600_000;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-cp-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function checkpointer(dir: string, clock: FakeClock, lines: Writable, extra: Partial<CheckpointerOptions> = {}): Checkpointer {
  return new Checkpointer({ dir, intervalSec: 60, resume: true, maxAgeMs: 24 * HOUR, identity: 'sim', version: 'test', clock, timers: clock, logger: createLogger('info', lines), ...extra });
}

/** Waits (on real file I/O, never on time) until the checkpointer reports a save at `atMs`. */
async function savedAt(cp: Checkpointer, atMs: number): Promise<void> {
  const iso = new Date(atMs).toISOString();
  await waitFor(async () => (cp.status().lastSavedAt === iso ? true : undefined), 5000, 5);
}

t.test('periodic: one checkpoint per interval on the clock, one timer at a time', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(START);
  const { stream } = logLines();
  const cp = checkpointer(dir, clock, stream);
  let saves = 0;
  cp.register({ name: 'count', save: () => ({ json: { saves: ++saves } }), restore: () => undefined });
  await cp.load();
  cp.start();
  t.equal(clock.timersPending, 1, 'one timer');
  await clock.advance(59_999);
  t.equal(cp.status().lastSavedAt, undefined, 'nothing before the first interval');
  t.equal(saves, 0);
  await clock.advance(1);
  await savedAt(cp, START + 60_000);
  t.equal(saves, 1, 'at 60 s');
  await clock.advance(60_000);
  await savedAt(cp, START + 120_000);
  t.equal(saves, 2, 'at 120 s');
  t.equal(clock.timersPending, 1, 'still one timer');
  await cp.stop();
  t.equal(saves, 3, 'and the final one at stop');
  t.equal(clock.timersPending, 0, 'stop clears the timer');
  await clock.advance(600_000);
  t.equal(saves, 3, 'nothing after stop');
});

t.test('a directory that cannot be written: logged once, counted each time, recovery logged once', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'data');
  mkdirSync(dir);
  const clock = new FakeClock(START);
  const { stream, lines } = logLines();
  const cp = checkpointer(dir, clock, stream);
  await cp.load();
  cp.start();
  // The directory goes away and a plain file takes its place: every write fails.
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory');
  for (let i = 1; i <= 3; i++) {
    await clock.advance(60_000);
    await waitFor(async () => (cp.status().failures === i ? true : undefined), 5000, 5);
  }
  t.equal(lines.filter((l) => l.includes('cannot write a checkpoint')).length, 1, 'three failures, one warning');
  rmSync(dir, { force: true });
  mkdirSync(dir);
  await clock.advance(60_000);
  await savedAt(cp, START + 240_000);
  t.equal(lines.filter((l) => l.includes('checkpoints written again')).length, 1, 'recovery logged');
  t.equal(cp.status().failures, 3);
  await cp.stop();
});

t.test('a checkpoint is judged by its age on the clock', async (t) => {
  const write = async (dir: string, atMs: number) => {
    const clock = new FakeClock(atMs);
    const cp = checkpointer(dir, clock, logLines().stream, { intervalSec: 0 });
    await cp.load();
    await cp.stop();
    return cp.status().runId;
  };
  const resumeAt = async (dir: string, atMs: number) => {
    const { stream, lines } = logLines();
    const cp = checkpointer(dir, new FakeClock(atMs), stream, { intervalSec: 0 });
    const run = await cp.load();
    await cp.stop();
    return { run, lines };
  };

  const fresh = tempDir(t);
  const runId = await write(fresh, START);
  const ok = await resumeAt(fresh, START + 23 * HOUR);
  t.equal(ok.run.runId, runId, '23 h later (the store keeps 24 h): resumed');
  t.equal(ok.run.restarts, 1);

  const old = tempDir(t);
  const oldId = await write(old, START);
  const late = await resumeAt(old, START + 25 * HOUR);
  t.not(late.run.runId, oldId, '25 h later: a new soak');
  t.ok(late.lines.some((l) => l.includes('checkpoint not resumed (it is 25 h old, older than the store keeps)')));

  const ahead = tempDir(t);
  const aheadId = await write(ahead, START + HOUR);
  const back = await resumeAt(ahead, START);
  t.not(back.run.runId, aheadId, 'written an hour in the future: a new soak');
  t.ok(back.lines.some((l) => l.includes('it was written in the future (the clock went back)')));
  const skewed = tempDir(t);
  const skewedId = await write(skewed, START + 30_000);
  const skew = await resumeAt(skewed, START);
  t.equal(skew.run.runId, skewedId, '30 s of skew is not the clock going back: resumed');
});
