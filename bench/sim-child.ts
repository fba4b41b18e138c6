/**
 * The simulator in a child process for benchmarks, so its CPU is not the
 * generator's: starts src/simulator/standalone.js, waits for its ready line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const STANDALONE = fileURLToPath(new URL('../src/simulator/standalone.js', import.meta.url));

export interface SimChild {
  url: string;
  pid: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startSimChild(config: Record<string, unknown>): Promise<SimChild> {
  const proc = spawn(process.execPath, [STANDALONE, JSON.stringify(config), '--watch-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const stdout = proc.stdout;
  if (!stdout) throw new Error('no stdout from the simulator child');
  const lines = createInterface({ input: stdout });
  const ready = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('simulator child not ready within 15 s'));
    }, 15_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator child exited (${code ?? 'signal'}) before it was ready`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const msg = JSON.parse(line) as { url: string; pid: number };
        resolve(msg);
      } catch {
        reject(new Error(`unexpected line from the simulator child: ${line}`));
      }
    });
  });
  return {
    url: ready.url,
    pid: ready.pid,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user+system) of a process, from /proc. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** CPU seconds (user+system) of a process's threads whose name starts with `prefix` (Linux thread names, 15 characters). */
export async function threadCpuSeconds(pid: number, prefix: string): Promise<number> {
  const { readFile, readdir } = await import('node:fs/promises');
  let ticks = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const comm = await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '');
    if (!comm.startsWith(prefix)) continue;
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100;
}
