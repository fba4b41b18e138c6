#!/usr/bin/env node
// The npm packages the GPU check needs at run time, one node_modules-relative
// directory a line: the packages its compiled module graph imports (static and
// dynamic imports followed from the entry), then every dependency those
// declare (dependencies, optionalDependencies, peerDependencies that are
// installed), resolved the way Node resolves them (nested node_modules first).
// Usage: node scripts/gpu-check-deps.mjs NODE_MODULES_DIR ENTRY.js...
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const [modulesDir, ...entries] = process.argv.slice(2);
if (modulesDir === undefined || entries.length === 0) {
  process.stderr.write('usage: gpu-check-deps.mjs NODE_MODULES_DIR ENTRY.js...\n');
  process.exit(2);
}
const root = resolve(modulesDir);
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;

const files = new Set();
const bare = new Set();
function walk(file) {
  if (files.has(file)) return;
  files.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('node:')) continue;
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec);
      if (!existsSync(target)) throw new Error(`${file} imports ${spec}: not found`);
      walk(target);
    } else {
      const parts = spec.split('/');
      bare.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
}
for (const e of entries) walk(resolve(e));

const keep = new Set();
function resolvePackage(name, fromDir) {
  // fromDir: a package directory (or root); look in its nested node_modules, then up to root
  for (let d = fromDir; d.startsWith(root); d = dirname(d)) {
    const candidate = join(d === root ? root : join(d, 'node_modules'), name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === root) break;
  }
  return undefined;
}
function add(dir) {
  if (keep.has(dir)) return;
  keep.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const deps = { ...pkg.peerDependencies, ...pkg.optionalDependencies, ...pkg.dependencies };
  for (const name of Object.keys(deps)) {
    const found = resolvePackage(name, dir);
    if (found !== undefined) add(found);
  }
}
for (const name of bare) {
  const dir = resolvePackage(name, root);
  if (dir === undefined) throw new Error(`package ${name} is imported but not installed in ${root}`);
  add(dir);
}
// top-level directories only: a nested node_modules travels with its parent
const top = [...keep]
  .map((d) => relative(root, d))
  .filter((d) => !d.includes('node_modules'))
  .sort();
process.stdout.write(`${top.join('\n')}\n`);
