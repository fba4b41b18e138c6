/**
 * No import cycle between the folders of src/: dependencies point one way
 * (docs/architecture.md draws them). Every file's imports are read with the
 * TypeScript parser: `import`, `import type`, `export … from` and `import('…')`
 * with a literal. Type-only imports count: a folder whose types need another
 * folder depends on it as much as one that calls it, and such a cycle is the
 * first step to a runtime one.
 *
 * A file directly in src/ is a node of its own, named by its file (`daemon`,
 * `cli`, `log`): src/ holds both the entry points (cli, daemon) and the
 * kernel every folder uses (clock, errors, log, types). Taken as one folder
 * '.', every folder would sit in a cycle through it by construction and the
 * check could never pass; as files, `modes -> daemon -> modes` is caught.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');

/** An import of one node by another, with the file that makes it. */
interface Edge {
  from: string;
  to: string;
  file: string;
  spec: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The node a file belongs to: its top-level folder under src/, or its own name for a file directly in src/. */
function nodeOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  const first = parts[0] ?? '';
  return parts.length === 1 ? first.replace(/(\.d)?\.ts$/, '') : `${first}/`;
}

/** Every import between two nodes (relative specifiers only: packages are not ours). */
function folderEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const imported of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      const spec = imported.fileName;
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const from = nodeOf(file);
      const to = nodeOf(target);
      if (from !== to) edges.push({ from, to, file: relative(ROOT, file), spec });
    }
  }
  return edges;
}

/** Each strongly connected group of two or more nodes, as one cycle through it (shortest from its first node), with the imports behind every step. */
function findCycles(edges: Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const s = next.get(e.from) ?? new Set<string>();
    s.add(e.to);
    next.set(e.from, s);
  }
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      onStack.delete(w);
      group.push(w);
      if (w === v) break;
    }
    if (group.length > 1) groups.push(group.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);

  return groups.map((group) => {
    const inGroup = new Set(group);
    const start = group[0] as string;
    // Breadth-first from start back to start, inside the group.
    const cameFrom = new Map<string, string>();
    const queue = [start];
    let closing: string | undefined;
    for (let i = 0; i < queue.length && closing === undefined; i++) {
      const v = queue[i] as string;
      for (const w of [...(next.get(v) ?? [])].sort()) {
        if (w === start) {
          closing = v;
          break;
        }
        if (inGroup.has(w) && !cameFrom.has(w)) {
          cameFrom.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = closing; v !== undefined && v !== start; v = cameFrom.get(v)) path.splice(1, 0, v);
    path.push(start);
    const steps = path.slice(1).map((to, i) => {
      const from = path[i] as string;
      const e = edges.find((x) => x.from === from && x.to === to) as Edge;
      return `    ${from} -> ${to}: ${e.file} imports '${e.spec}'`;
    });
    return `${path.join(' -> ')}   (group: ${group.join(', ')})\n${steps.join('\n')}`;
  });
}

t.test('no import cycle between the folders of src/', async (t) => {
  const edges = folderEdges();
  // The reader sees imports at all (a parser that found none would pass anything).
  t.ok(
    edges.some((e) => e.from === 'daemon' && e.to === 'compose/'),
    'daemon.ts imports from compose/',
  );
  t.ok(
    edges.some((e) => e.from === 'config/' && e.to === 'traffic/'),
    'config/ imports from traffic/',
  );
  const cycles = findCycles(edges);
  t.same(cycles, [], `folder cycles:\n${cycles.join('\n')}`);
});

t.test('the cycle finder reports a cycle, with the imports that make it', async (t) => {
  const edge = (from: string, to: string): Edge => ({ from, to, file: `src/${from}x.ts`, spec: `../${to}y.js` });
  t.same(findCycles([edge('a/', 'b/'), edge('b/', 'c/')]), [], 'a chain is no cycle');
  const found = findCycles([edge('modes/', 'daemon'), edge('daemon', 'modes/'), edge('daemon', 'log')]);
  t.equal(found.length, 1, 'one cycle');
  t.match(found[0], /^daemon -> modes\/ -> daemon/, 'named by its path');
  t.match(found[0], /src\/modes\/x\.ts imports '\.\.\/daemony\.js'/, 'with the import behind each step');
  const two = findCycles([edge('a/', 'b/'), edge('b/', 'a/'), edge('c/', 'd/'), edge('d/', 'e/'), edge('e/', 'c/')]);
  t.equal(two.length, 2, 'two separate cycles are two entries');
  t.match(two[1], /^c\/ -> d\/ -> e\/ -> c\//, 'a three-step cycle in full');
});
