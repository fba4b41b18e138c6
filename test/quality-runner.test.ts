/**
 * The quality runner against a scripted OpenAI-compatible server (what it
 * sends, how it scores, errors, the API key), and the scheduler: node-cron
 * and interval ticks, runs that never overlap, a failing run logged once,
 * stop aborting a run in progress.
 */
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log.js';
import { QualityRunError, QualityRunner } from '../src/quality/runner.js';
import { QualityJob } from '../src/quality/job.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import type { Logger } from '../src/log.js';
import { validatePrompts, type Suite } from '../src/quality/suite.js';
import { waitFor } from './helpers.js';

const KEY = 'sk-test-secret-4711';

interface Seen {
  auth: string | undefined;
  body: Record<string, unknown>;
}
const seen: Seen[] = [];
/** How the prompt "flaky" is answered now. */
let flaky: 'right' | 'slow' = 'right';

/** Answers by the prompt: "right" → 4, "wrong" → 5, "http500" → 500 echoing the auth header, "garbage" → not JSON, "slow" → after 2 s. */
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    const body = JSON.parse(raw) as { messages: { content: string }[] };
    seen.push({ auth: req.headers.authorization, body: body as unknown as Record<string, unknown> });
    const last = body.messages[body.messages.length - 1]?.content ?? '';
    const q = last === 'flaky' ? flaky : last;
    const answer = (content: string) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    };
    if (q.startsWith('right')) answer('2 + 2 = 4');
    else if (q.startsWith('wrong')) answer('5');
    else if (q.startsWith('http500')) {
      res.writeHead(500);
      res.end(`boom, your header was ${req.headers.authorization ?? ''}`);
    } else if (q.startsWith('garbage')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [');
    } else if (q.startsWith('slow')) setTimeout(() => answer('4'), 2000);
    else answer('?');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
t.teardown(
  () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
);
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

function suite(name: string, questions: string[]): Suite {
  const problems: string[] = [];
  const prompts = validatePrompts(
    questions.map((q, i) => ({ id: `p${i}`, prompt: q, expect: { number: { value: 4 } }, maxTokens: 8 })),
    'prompts',
    problems,
  );
  if (!prompts) throw new Error(problems.join('; '));
  return { name, source: 'inline', prompts };
}

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => { msg: string; level: number }[]; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const logger = createLogger('debug', stream);
  return {
    logger,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; level: number }),
    text: () => out,
  };
}

async function metric(reg: Registry, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
}

t.test('runner: what it sends, how it scores, errors apart from the score, the key never shown', async (t) => {
  const reg = new Registry();
  const log = capture();
  const runner = new QualityRunner({
    suites: [suite('math', ['right 1', 'right 2', 'right 3', 'wrong 1', 'http500', 'garbage']), suite('ok', ['right'])],
    baseUrl,
    model: 'm1',
    apiKey: KEY,
    timeoutMs: 1000,
    registry: reg,
    logger: log.logger,
  });
  t.teardown(() => runner.close());
  seen.length = 0;
  const err = await runner.run().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof QualityRunError, 'a run with errors throws after recording');
  const report = (err as QualityRunError).report;
  t.match((err as QualityRunError).message, /2 of 7 golden prompts got no usable answer \(first: math\/p4: HTTP 500: boom, your header was Bearer \[redacted\]\)/);
  t.notMatch((err as QualityRunError).message, KEY);

  t.equal(seen.length, 7);
  t.equal(seen[0]?.auth, `Bearer ${KEY}`, 'the key goes in the Authorization header');
  t.same(seen[0]?.body, { model: 'm1', messages: [{ role: 'user', content: 'right 1' }], temperature: 0, max_tokens: 8, stream: false });

  const math = report.suites[0];
  t.same({ passed: math?.passed, failed: math?.failed, errors: math?.errors, score: math?.score }, { passed: 3, failed: 1, errors: 2, score: 0.75 }, 'score = passed / answered');
  t.same(
    math?.problems.map((p) => [p.id, p.outcome]),
    [
      ['p3', 'fail'],
      ['p4', 'error'],
      ['p5', 'error'],
    ],
  );
  t.match(math?.problems[0]?.detail, /expected 4 ± 0, got 5/);
  t.match(math?.problems[2]?.detail, /malformed JSON body/);

  const score = await metric(reg, 'llmsoak_quality_score');
  t.same(score.map((v) => [v.labels.suite, v.value]).sort(), [
    ['math', 0.75],
    ['ok', 1],
  ]);
  const checks = await metric(reg, 'llmsoak_quality_checks_total');
  const count = (suite: string, outcome: string) => checks.find((v) => v.labels.suite === suite && v.labels.outcome === outcome)?.value;
  t.same([count('math', 'pass'), count('math', 'fail'), count('math', 'error'), count('ok', 'pass'), count('ok', 'error')], [3, 1, 2, 1, 0]);
  t.equal((await metric(reg, 'llmsoak_quality_last_run_timestamp_seconds')).length, 2);
  t.notMatch(log.text(), KEY, 'the key is in no log line');
  t.ok(
    log.lines().some((l) => l.msg === 'quality check did not pass'),
    'failures are logged at debug',
  );
});

t.test('runner: a suite with no answer keeps its score; a timeout is an error', async (t) => {
  const reg = new Registry();
  const runner = new QualityRunner({ suites: [suite('s', ['flaky']), suite('never', ['slow'])], baseUrl, model: 'm', timeoutMs: 300, registry: reg, logger: capture().logger });
  t.teardown(() => runner.close());
  flaky = 'right';
  const first = await runner.run().then(
    () => undefined,
    (e: unknown) => e as QualityRunError,
  );
  t.match(first?.report.suites[1]?.problems[0]?.detail, /timed out after 300 ms/);
  t.same(
    (await metric(reg, 'llmsoak_quality_score')).map((v) => [v.labels.suite, v.value]),
    [['s', 1]],
    'no answer, no score',
  );
  flaky = 'slow';
  const second = await runner.run().then(
    () => undefined,
    (e: unknown) => e as QualityRunError,
  );
  t.same(second?.report.suites[0], { suite: 's', passed: 0, failed: 0, errors: 1, score: undefined, problems: second?.report.suites[0]?.problems });
  t.same(
    (await metric(reg, 'llmsoak_quality_score')).map((v) => [v.labels.suite, v.value]),
    [['s', 1]],
    'an outage leaves the score as it was',
  );
});

/** The daemon's scheduler with no mode schedule: what quality checks are a side job of. */
function sideScheduler(logger: Logger): Scheduler {
  return new Scheduler([], { logger, run: () => Promise.reject(new Error('no mode schedule here')), busy: () => undefined });
}

t.test('quality job on the scheduler: interval ticks never overlap; a failing run is logged once, recovery once', async (t) => {
  const log = capture();
  let active = 0;
  let maxActive = 0;
  let calls = 0;
  let fail = true;
  const job = new QualityJob({
    registry: new Registry(),
    logger: log.logger,
    job: async () => {
      calls++;
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 120));
      active--;
      if (fail) throw new Error('target down');
    },
  });
  const scheduler = sideScheduler(log.logger);
  scheduler.addSideJob({ name: 'quality checks', cron: '0 * * * *', everySec: 0.05, runOnStart: true, trigger: () => job.trigger() });
  scheduler.start();
  t.teardown(async () => {
    await scheduler.stop();
    await job.stop();
  });
  await waitFor(async () => (job.counts.failed >= 3 ? true : undefined), 5000, 20);
  fail = false;
  await waitFor(async () => (job.counts.ok >= 2 ? true : undefined), 5000, 20);
  await scheduler.stop();
  await job.stop();
  t.equal(maxActive, 1, 'never two runs at once');
  t.ok(job.counts.skipped > 0, `ticks during a run are skipped (${job.counts.skipped})`);
  t.equal(calls, job.counts.ok + job.counts.failed);
  const warn = log.lines().filter((l) => l.level === 40 && /quality run failed/.test(l.msg));
  t.equal(warn.length, 1, 'failure logged once');
  t.match(warn[0]?.msg, /target down/);
  t.equal(log.lines().filter((l) => l.msg === 'quality runs recovered').length, 1, 'recovery logged once');
});

t.test('quality job on the scheduler: node-cron schedule (seconds field) runs; stop aborts a run in progress', async (t) => {
  let runs = 0;
  let aborted = false;
  const logger = capture().logger;
  const job = new QualityJob({
    registry: new Registry(),
    logger,
    job: async (signal) => {
      runs++;
      if (runs < 2) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        signal.addEventListener('abort', () => {
          aborted = true;
          clearTimeout(timer);
          resolve();
        });
      });
    },
  });
  const scheduler = sideScheduler(logger);
  scheduler.addSideJob({ name: 'quality checks', cron: '* * * * * *', runOnStart: false, trigger: () => job.trigger() });
  scheduler.start();
  t.ok(scheduler.nextSideRun('quality checks'), 'node-cron says when the next run is');
  await waitFor(async () => (runs >= 2 && job.running ? true : undefined), 5000, 20);
  const t0 = Date.now();
  await scheduler.stop();
  await job.stop();
  t.ok(aborted, 'the run in progress saw the abort');
  t.ok(Date.now() - t0 < 1000, 'stop did not wait for the run to finish by itself');
  t.notOk(job.running);
  t.equal(await job.trigger(), false, 'nothing runs after stop');
  t.equal(scheduler.nextSideRun('quality checks'), null, 'nothing scheduled after stop');
});
