/** Shared test helpers: paths into the build, spawning the CLI, free ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { ConfigError } from '../src/errors.js';
import { SIMULATOR_NODE_FLAGS } from '../src/simulator/node-flags.js';

/** dist/src/cli.js, next to this compiled file's dist/test/. */
export const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
/** The repository root (two levels above dist/test/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (bounded by timeoutMs). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start the CLI in the background; collects output. */
export function startCli(args: string[], env?: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeFlags, CLI, ...args], { env: env ?? { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** `llmsoak simulate ARGS` in its own process, with the node flags the daemon's embedded simulator runs with. */
export function startSimulator(args: string[], env?: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  return startCli(['simulate', ...args], env, SIMULATOR_NODE_FLAGS);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Poll until fn returns a value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`waitFor: timed out after ${timeoutMs} ms${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
}

/** Wait for a child to exit (bounded), killing it if it does not. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** The problems a config loader reported (ConfigError), or [] when it accepted the config; anything else is rethrown. */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** A stream for a logger (createLogger(level, stream)) that keeps each line written, for tests that read the log. */
export function logLines(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  return { stream, lines };
}
