/**
 * No Docker engine runs here, so the Dockerfile is checked by reading it, and
 * what it runs is tested: the production build (tsconfig.build.json, the
 * image's build step) laid out as the image lays it out (/app/dist,
 * /app/package.json, /app/node_modules), started as the image's ENTRYPOINT +
 * CMD would start it, answering its HEALTHCHECK URL.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ROOT, freePort, waitExit, waitFor } from './helpers.js';
import { spawn } from 'node:child_process';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

t.test('the Dockerfile has what a runtime image needs', async (t) => {
  const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
  t.ok(stages.length >= 2, 'multi-stage');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  t.match(runtime, /^USER (?!root\b|0\b)\S+/m, 'runs as a non-root user');
  t.match(runtime, /^HEALTHCHECK .*\/healthz/ms, 'HEALTHCHECK on /healthz');
  t.match(runtime, /^ENTRYPOINT \["llmsoak"\]$/m);
  t.match(runtime, /^CMD \["run"\]$/m);
  t.match(runtime, /^EXPOSE 9477$/m);
  t.notMatch(runtime, /devDependencies|npm (ci|install)(?! --omit=dev)/, 'no dev install in the runtime stage');
  t.match(dockerfile, /npx tsc -p tsconfig\.build\.json/, 'builds with the production tsconfig');
  t.match(dockerfile, /npm prune --omit=dev/);
  t.match(runtime, /ln -s \/app\/dist\/src\/cli\.js \/usr\/local\/bin\/llmsoak/, 'llmsoak on PATH points at the built CLI');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
  for (const p of ['node_modules', 'dist', '.git']) t.match(ignore, new RegExp(`^${p}$`, 'm'), `.dockerignore leaves out ${p}`);
});

t.test("the image's build output runs: run on the embedded default answers /healthz", async (t) => {
  const app = mkdtempSync(join(tmpdir(), 'llmsoak-image-'));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { encoding: 'utf8' });
  t.equal(tsc.status, 0, `tsc -p tsconfig.build.json: ${tsc.stdout}${tsc.stderr}`);
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  cpSync(join(ROOT, 'examples'), join(app, 'examples'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  const cli = join(app, 'dist/src/cli.js');
  const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', cwd: app });
  t.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  const check = spawnSync(process.execPath, [cli, 'check-config', 'examples/minimal.yaml'], { encoding: 'utf8', cwd: app });
  t.equal(check.status, 0, check.stderr);

  const [port, simPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [cli, 'run', '--listen', `127.0.0.1:${port}`, '--duration', '6'], {
    cwd: app, env: { PATH: process.env.PATH ?? '', LLMSOAK_SIMULATOR__PORT: String(simPort), LLMSOAK_LOG__LEVEL: 'warn' }, stdio: 'ignore',
  });
  t.teardown(() => child.kill('SIGKILL'));
  const ok = await waitFor(async () => ((await request(`http://127.0.0.1:${port}/healthz`)).statusCode === 200 ? true : undefined), 20_000);
  t.ok(ok, 'HEALTHCHECK URL answers 200');
  t.equal(await waitExit(child, 30_000), 0, 'exits 0 after --duration');
});
