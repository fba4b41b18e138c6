/**
 * The linter (Biome, configured in biome.json) runs as part of the suite: any
 * error it reports fails npm test, with its diagnostics in the failure.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

t.test('biome lint: no errors in src, test, bench, scripts', async (t) => {
  const biome = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  const r = spawnSync(process.execPath, [biome, 'lint', '--max-diagnostics=50', 'src', 'test', 'bench', 'scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.error, undefined, 'biome runs (devDependency @biomejs/biome)');
  t.equal(r.status, 0, `biome lint exits 0${r.status === 0 ? '' : `:\n${r.stdout}${r.stderr}`}`);
});
