/**
 * No Docker engine runs here, so the Dockerfile is checked by reading it.
 * What it runs (the production build laid out as the image lays it out,
 * started as ENTRYPOINT + CMD, answering its HEALTHCHECK) is tested once, in
 * deploy.test.ts ("the built output the image runs").
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

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
