/**
 * A real OpenAI-compatible server we did not write: the npm package
 * @dwmkerr/mock-llm (a devDependency, pinned), in a child process on a free
 * loopback port, with its default rules. It serves chat completions only
 * (it echoes the last message, streamed 50 characters a chunk, no usage),
 * has no /metrics, and answers 500 "Bad control character in string literal
 * in JSON" to a message with a line break. It logs "METHOD /path" per request.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, waitExit } from './helpers.js';

export interface MockLlm {
  /** OpenAI base URL, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  /** Requests it logged so far, e.g. "POST /v1/completions". */
  requests(): string[];
  stop(): Promise<void>;
}

const MAIN = join(ROOT, 'node_modules', '@dwmkerr', 'mock-llm', 'dist', 'main.js');

export async function startMockLlm(): Promise<MockLlm> {
  const port = await freePort();
  // Its own empty working directory: mock-llm reads ./mock-llm.yaml when there is one.
  const cwd = mkdtempSync(join(tmpdir(), 'llmsoak-mock-llm-'));
  const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`mock-llm did not start: ${out}`)), 15_000);
    const check = () => {
      if (!out.includes('server running on')) return;
      clearTimeout(t);
      child.stdout.off('data', check);
      resolve();
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`mock-llm exited (${code}): ${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests: () => out.split('\n').filter((l) => /^(GET|POST|PUT|PATCH|DELETE) \//.test(l)),
    stop: async () => {
      child.kill('SIGTERM');
      await waitExit(child, 5000);
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}
