/**
 * `llmsoak bench` as a release pipeline runs it: one short soak against the
 * built-in simulator, the report written to --out, exit 0 when every SLO
 * threshold held and 1 when one broke; 2 for bad usage.
 */
import t from 'tap';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from './helpers.js';
import type { Report } from '../src/report/model.js';

function config(ttftMs: number): string {
  return stringify({
    simulator: { port: 0, engine: { maxNumSeqs: 16, decodeStepBaseMs: 10, decodeStepPerSeqMs: 0.25 } },
    traffic: { rate: 8, arrival: 'constant', scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 32 }, output: { dist: 'fixed', value: 16 } }] },
    slo: { ttftMs, tpotMs: 100, e2eMs: 5000 },
    collectors: { intervalMs: 1000, gpu: { enabled: false } },
    mode: { kind: 'soak', soak: { durationSec: 3 } },
    log: { level: 'warn' },
  });
}

t.test('bench exits 0 when the SLOs hold and 1 when one breaks, with a report either way', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-bench-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '' };

  await writeFile(join(dir, 'holds.yaml'), config(2000));
  const ok = await runCli(['bench', '--config', join(dir, 'holds.yaml'), '--out', join(dir, 'holds')], { env, timeoutMs: 40_000 });
  t.equal(ok.code, 0, `exit 0 when every SLO holds (stderr: ${ok.stderr.slice(-400)})`);
  t.match(ok.stdout, /^llmsoak bench: soak of http:\/\/127\.0\.0\.1:\d+\/v1 \(sim-[^)]+\) in \d+ s: PASS$/m);
  t.match(ok.stdout, /report: .*holds\/soak-\d{8}T\d{6}Z\.html/);
  const files = (await readdir(join(dir, 'holds'))).sort();
  t.equal(files.length, 3, `three files: ${files.join(', ')}`);
  t.ok(files.some((f) => f.endsWith('.json')) && files.some((f) => f.endsWith('.md')) && files.some((f) => f.endsWith('.html')));
  const json = JSON.parse(await readFile(join(dir, 'holds', files.find((f) => f.endsWith('.json')) as string), 'utf8')) as Report;
  t.equal(json.kind, 'soak');
  t.equal(json.verdict.pass, true);
  t.ok(json.totals.requests >= 15, `${json.totals.requests} requests in the soak`);
  t.notMatch(ok.stdout, /"level"/, 'stdout carries the summary only (logs go to stderr)');

  // 1 ms TTFT cannot hold.
  await writeFile(join(dir, 'breaks.yaml'), config(1));
  const bad = await runCli(['bench', '--config', join(dir, 'breaks.yaml'), '--out', join(dir, 'breaks')], { env, timeoutMs: 40_000 });
  t.equal(bad.code, 1, 'exit 1 when an SLO breaks');
  t.match(bad.stdout, /: FAIL$/m);
  t.match(bad.stdout, /failed: over the soak: TTFT p99 [\d.]+ ms > SLO 1 ms/);
  t.equal((await readdir(join(dir, 'breaks'))).length, 3, 'the failing run still writes its report');

  const usage = await runCli(['bench', '--config', join(dir, 'holds.yaml'), '--mode', 'warp'], { env, timeoutMs: 10_000 });
  t.equal(usage.code, 2, 'an unknown --mode is a usage error');
  t.match(usage.stderr, /--mode: "warp" is not one of soak, ramp, sweep, surface, spike/);
});
