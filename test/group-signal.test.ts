/**
 * Ctrl-C in a terminal signals the whole process group: llmsoak and the
 * embedded simulator it forked get SIGINT at the same instant. The simulator
 * must leave its stopping to llmsoak, so the streams in flight finish during
 * the drain instead of being cut (which the final report would count as the
 * target's stream_cut errors).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CLI, freePort, waitExit, waitFor } from './helpers.js';

t.test('a process-group SIGINT: in-flight streams drain, none is cut', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-group-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const simPort = await freePort();
  const config = join(dir, 'llmsoak.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      simulator: { port: simPort },
      // ~1.5 s streams at 8 req/s: about a dozen are in flight at any instant.
      traffic: { rate: 8, seed: 3, scenarios: [{ name: 'chat', endpoint: 'chat', stream: true, prompt: { dist: 'fixed', value: 64 }, output: { dist: 'fixed', value: 100 } }] },
      run: { drainMs: 20_000 },
      report: { dir: join(dir, 'reports') },
      collectors: { gpu: { enabled: false } },
    }),
  );
  // Its own process group, as a shell gives a foreground job.
  const child = spawn(process.execPath, [CLI, 'run', '--config', config, '--listen', `127.0.0.1:${port}`], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  t.teardown(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const inFlight = async () => {
    const res = await request(`http://127.0.0.1:${port}/metrics`);
    const text = await res.body.text();
    return Number(/^llmsoak_in_flight_requests(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
  };
  await waitFor(async () => ((await inFlight().catch(() => 0)) >= 3 ? true : undefined), 30_000);

  process.kill(-(child.pid as number), 'SIGINT');
  t.equal(await waitExit(child, 40_000), 0, 'exit 0');
  const stopped = /"drained":(\d+),"cancelled":(\d+)[^\n]*traffic stopped/.exec(out);
  t.ok(stopped && Number(stopped[1]) >= 3, `requests in flight at the signal finished during the drain (${stopped?.[1] ?? '?'})`);
  t.equal(Number(stopped?.[2] ?? -1), 0, 'none cancelled');
  t.notMatch(out, /stream_cut/, 'no stream was cut: the simulator waited for llmsoak');
  t.match(out, /simulator stopping \(parent gone\)/, 'the simulator stopped when llmsoak let it go');
});
