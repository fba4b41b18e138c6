/**
 * scripts/gpu-check.sh end to end without a GPU: a fake nvidia-smi
 * (test/fixtures/gpu-check/bin), a fake torch module under the real
 * scripts/gpu-load.py (test/fixtures/gpu-check/torch) and the fake
 * libnvidia-ml.so.1 of the NVML test, so the device run's plumbing
 * (prerequisite checks, the collector through koffi, the nvidia-smi children,
 * the phased load, the files written, the exit code) is exercised here; what
 * the readings mean needs a real GPU.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const FAKES = join(ROOT, 'test', 'fixtures', 'gpu-check', 'bin');
const FAKE_TORCH = join(ROOT, 'test', 'fixtures', 'gpu-check');
const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-gpucheck-dry-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function fakeNvml(): string {
  const dir = join(tmp, 'lib');
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'libnvidia-ml.so.1'), join(ROOT, 'test', 'fixtures', 'collectors', 'fake-nvml.c')]);
  return dir;
}

function runCheck(out: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'scripts', 'gpu-check.sh'), out], {
      cwd: ROOT,
      env: { ...process.env, GPUCHECK_NO_PACK: '1', PYTHONPATH: FAKE_TORCH, PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

t.test('no nvidia-smi: one clear FAIL line, exit 1', async (t) => {
  const out = join(tmp, 'no-smi');
  const r = await runCheck(out, { PATH: '/usr/local/bin:/usr/bin:/bin' });
  t.equal(r.code, 1);
  t.match(r.output, /^gpu-check: FAIL nvidia-smi is not on PATH: no NVIDIA driver here$/m);
  t.match(readFileSync(join(out, 'env.txt'), 'utf8'), /FAIL nvidia-smi is not on PATH/);
});

t.test('torch without CUDA: one clear FAIL line, exit 1', async (t) => {
  const r = await runCheck(join(tmp, 'no-cuda'), { PATH: `${FAKES}:${process.env.PATH ?? ''}`, FAKE_TORCH_CUDA: 'False' });
  t.equal(r.code, 1);
  t.match(r.output, /^torch 2\.11\.0\+fake False$/m, 'the torch probe ran');
  t.match(r.output, /^gpu-check: FAIL torch sees no CUDA device$/m);
});

t.test('a whole dry run over the fakes: every part runs, the files are written, FAIL lines decide the exit', async (t) => {
  const out = join(tmp, 'run');
  const r = await runCheck(out, { PATH: `${FAKES}:${process.env.PATH ?? ''}`, LD_LIBRARY_PATH: fakeNvml(), GPUCHECK_SECONDS: '5,9,9,5' });
  t.equal(r.code, 1, 'the fakes disagree somewhere, so the check fails');
  t.same(readdirSync(out).sort(), ['check.log', 'collector.jsonl', 'env.txt', 'nvidia-smi-dmon.txt', 'nvidia-smi-query.csv', 'run.json', 'table.md']);
  const env = readFileSync(join(out, 'env.txt'), 'utf8');
  t.match(env, /^GPU 0: NVIDIA H100 80GB HBM3/m);
  t.match(env, /^driver 580\.159\.04$/m);
  t.match(env, /^node v\d+\.\d+\.\d+ \(from PATH/m);
  t.match(env, /^gpu-check: FAIL \(the FAIL lines above/m);
  t.match(r.output, /^collector: NVML, 2 GPU\(s\)$/m);
  t.match(r.output, /^load: \{"phase": "matmul", "event": "end", "tflops": [\d.]+, "tMs": [\d.]+\}$/m, 'scripts/gpu-load.py ran its phases');

  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { phases: Array<{ name: string; startMs: number; endMs: number }>; problems: string[] };
  t.same(
    run.phases.map((p) => p.name),
    ['idle', 'matmul', 'copy', 'idle2'],
  );
  t.same(run.problems, []);
  const secs = (run.phases.at(-1)!.endMs - run.phases[0]!.startMs) / 1000;
  const collections = readFileSync(join(out, 'collector.jsonl'), 'utf8').trim().split('\n').length;
  // one a second; generous bounds, the machine may be busy with other tests
  t.ok(collections >= secs * 0.7 && collections <= secs + 8, `${collections} collections over ${secs.toFixed(0)} s of load`);
  t.ok(readFileSync(join(out, 'nvidia-smi-query.csv'), 'utf8').trim().split('\n').length >= secs * 0.7, 'about a query line a second');

  const table = readFileSync(join(out, 'table.md'), 'utf8');
  // fake NVML and fake nvidia-smi give the same GPU 0 readings: these rows agree
  for (const s of ['llmsoak_gpu_memory_used_bytes', 'llmsoak_gpu_memory_total_bytes', 'llmsoak_gpu_power_watts', 'llmsoak_gpu_sm_clock_hertz', 'llmsoak_gpu_utilization_ratio']) {
    t.match(table, new RegExp(`^\\| ${s} \\|.*\\| PASS \\|`, 'm'), `${s} PASS`);
  }
  // the fake's energy grows 250 J a read whatever the time: the check says so
  t.match(r.output, /^FAIL llmsoak_gpu_energy_joules_total \[increase over \d+ s\]: llmsoak .* vs .* \(∫ power\.draw dt \(J\)\)/m);
  t.match(r.output, /^GPU CHECK FAIL: \d+ failure\(s\)$/m);
  t.ok(existsSync(join(out, 'check.log')));
});
