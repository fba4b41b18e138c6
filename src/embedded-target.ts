/**
 * The embedded default target: the built-in simulator in a child process, so
 * its CPU and memory are its own (as a real inference server's would be) and
 * the process collector can watch it like any other target.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LlmsoakError } from './errors.js';
import type { Logger } from './log.js';
import type { SimulatorConfig } from './simulator/config.js';
import type { ReadyMessage } from './simulator/process.js';
import { SIMULATOR_NODE_FLAGS } from './simulator/node-flags.js';

export interface EmbeddedTarget {
  /** Base URL without /v1, e.g. http://127.0.0.1:18000 */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const CLI_PATH = fileURLToPath(new URL('./cli.js', import.meta.url));

export async function startEmbeddedSimulator(
  sim: SimulatorConfig,
  logLevel: string,
  logger: Logger,
  readyTimeoutMs = 15_000,
  /** Where the child's log lines go: our stdout (default) or stderr (when stdout carries a result, as in `llmsoak bench`). */
  logTo: 'stdout' | 'stderr' = 'stdout',
): Promise<EmbeddedTarget> {
  const child = fork(CLI_PATH, ['simulate', '--config-json', JSON.stringify({ simulator: sim, log: { level: logLevel } })], {
    stdio: ['ignore', logTo === 'stderr' ? 2 : 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...SIMULATOR_NODE_FLAGS],
  });
  const url = await waitReady(child, readyTimeoutMs);
  const pid = child.pid ?? 0;
  logger.info({ url, pid }, 'embedded simulator started');
  return {
    url,
    pid,
    stop: () => stopChild(child),
  };
}

function waitReady(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (msg: string) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new LlmsoakError('LLMSOAK_ERR_CHILD', msg, 'see the simulator log lines above; is its port free? (simulator.port)'));
    };
    const timer = setTimeout(() => fail(`embedded simulator not ready within ${timeoutMs} ms`), timeoutMs);
    const onMessage = (m: unknown) => {
      const msg = m as Partial<ReadyMessage>;
      if (msg && msg.type === 'ready' && typeof msg.url === 'string') {
        cleanup();
        resolve(msg.url);
      }
    };
    const onExit = (code: number | null, signal: string | null) => fail(`embedded simulator exited before it was ready (code ${code ?? 'none'}, signal ${signal ?? 'none'})`);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    // The child stops when its IPC channel closes (it ignores group signals: see simulator/process.ts).
    if (child.connected) child.disconnect();
    else child.kill('SIGTERM');
  });
}
