/**
 * The GPU check (docs/gpu-check.md): on a machine with an NVIDIA GPU, runs
 * llmsoak's GPU collector beside nvidia-smi while a PyTorch load runs in
 * phases, then compares, replays the GPU rules and checks the dashboards.
 * Writes the table and the raw samples to --out; exit 1 on any FAIL line.
 *
 *   node dist/bench/gpu-check.js --out DIR [--gpu 0] [--library libnvidia-ml.so.1]
 *        [--python python3] [--load scripts/gpu-load.py] [--seconds 15,25,25,15]
 *   node dist/bench/gpu-check.js --analyse DIR     (judge a recorded run again)
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, errorMessage } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { FILES, analyse, readRecord, writeRecord, type RunRecord } from './gpu-check/analyse.js';
import { record } from './gpu-check/live.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      analyse: { type: 'string' },
      gpu: { type: 'string', default: '0' },
      library: { type: 'string', default: 'libnvidia-ml.so.1' },
      python: { type: 'string', default: 'python3' },
      load: { type: 'string', default: 'scripts/gpu-load.py' },
      seconds: { type: 'string', default: '15,25,25,15' },
      dashboards: { type: 'string', default: 'grafana/dashboards' },
    },
  });
  let dir: string;
  let rec: RunRecord;
  if (values.analyse !== undefined) {
    dir = values.analyse;
    rec = readRecord(dir);
  } else {
    if (values.out === undefined) throw new UsageError('give --out DIR (or --analyse DIR)');
    dir = values.out;
    mkdirSync(dir, { recursive: true });
    const secs = values.seconds.split(',').map(Number);
    if (secs.length !== 4 || !secs.every((x) => Number.isFinite(x) && x > 0)) throw new UsageError(`--seconds takes four positive numbers, got ${values.seconds}`);
    const [idle, matmul, copy, idle2] = secs as [number, number, number, number];
    if (!existsSync(values.load)) throw new UsageError(`load script ${values.load} not found`);
    rec = await record({
      gpu: values.gpu,
      libraryPath: values.library,
      python: values.python,
      loadScript: values.load,
      seconds: { idle, matmul, copy, idle2 },
      logger: createLogger('info', process.stderr),
      say: (l) => process.stdout.write(`${l}\n`),
    });
    writeRecord(dir, rec);
  }
  const { result, markdown } = await analyse(rec, values.dashboards);
  writeFileSync(join(dir, FILES.table), markdown);
  process.stdout.write(`${markdown}\n`);
  for (const l of result.failures) process.stdout.write(`${l}\n`);
  process.stdout.write(result.failures.length === 0 ? 'GPU CHECK PASS\n' : `GPU CHECK FAIL: ${result.failures.length} failure(s)\n`);
  return result.failures.length === 0 ? 0 : 1;
}

main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`gpu-check: ${errorMessage(err)}\n`);
      process.exitCode = 2;
    },
  )
  .finally(() => {
    // on a lent GPU machine every second counts: a child or native handle left open must not hold the exit
    setTimeout(() => process.exit(), 5000).unref();
  });
