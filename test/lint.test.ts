/**
 * The linter and formatter (Biome, configured in biome.json) run as part of the
 * suite: a lint error or a file not formatted as `npm run format` writes it
 * fails npm test, with the diagnostics in the failure.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

t.test('biome ci: no lint error and every file formatted in src, test, bench, scripts', async (t) => {
  const biome = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  const r = spawnSync(process.execPath, [biome, 'ci', '--colors=off', '--max-diagnostics=50', 'src', 'test', 'bench', 'scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.error, undefined, 'biome runs (devDependency @biomejs/biome)');
  t.equal(r.status, 0, `biome ci exits 0${r.status === 0 ? '' : `:\n${r.stdout}${r.stderr}`}`);
});
