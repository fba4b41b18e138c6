/**
 * The registries of kinds are the one list of each: the config schema's
 * enums are theirs, every mode is a report kind, names are unique, and the
 * kind tables of docs/extending.md are what src/kinds.ts renders from them
 * (stale docs fail here).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import { KIND_REGISTRIES, kindsMarkdown } from '../src/kinds.js';
import { MODE_KINDS } from '../src/modes/config.js';
import { MODE_RUNS } from '../src/modes/registry.js';
import { RUN_KINDS } from '../src/report/model.js';
import { REPORT_FORMATS } from '../src/report/formats.js';
import { ARRIVAL_KIND_NAMES } from '../src/traffic/arrival-kinds.js';
import { DIALECTS } from '../src/collectors/server-dialects.js';

function root(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'docs', 'extending.md'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('docs/extending.md not found');
}

/** The schema node at a dotted path of properties. */
function at(path: string): Record<string, unknown> {
  let node = configSchema as unknown as Record<string, unknown>;
  for (const key of path.split('.')) node = (node['properties'] as Record<string, Record<string, unknown>>)[key] as Record<string, unknown>;
  return node;
}

t.test('the config enums are the registries', async (t) => {
  t.same(at('mode.kind')['enum'], MODE_KINDS);
  t.same(at('traffic.arrival')['enum'], ARRIVAL_KIND_NAMES);
  t.same(
    (at('report.formats')['items'] as { enum: unknown })['enum'],
    REPORT_FORMATS.map((f) => f.name),
  );
  t.same(at('collectors.server.dialect')['enum'], ['auto', ...DIALECTS]);
  t.ok(at('traffic.steps') !== undefined && at('traffic.burstiness') !== undefined, "an arrival kind's fields are in the traffic section");
  t.same(Object.keys(at('mode')['properties'] as object), ['kind', ...MODE_KINDS], 'a section per mode, nothing else');
});

t.test('every mode is a report kind and every report kind a mode', async (t) => {
  t.same([...MODE_KINDS].sort(), [...RUN_KINDS].sort());
  t.same(Object.keys(MODE_RUNS).sort(), [...MODE_KINDS].sort(), 'a run for every mode');
});

t.test('names are unique in each registry, extensions among formats', async (t) => {
  for (const r of KIND_REGISTRIES) t.equal(new Set(r.kinds.map((k) => k.name)).size, r.kinds.length, `${r.what}: unique names`);
  t.equal(new Set(REPORT_FORMATS.map((f) => f.ext)).size, REPORT_FORMATS.length, 'unique extensions');
});

t.test('docs/extending.md lists the registered kinds', async (t) => {
  const text = readFileSync(join(root(), 'docs', 'extending.md'), 'utf8');
  const begin = text.indexOf('-->', text.indexOf('<!-- kinds:begin'));
  const end = text.indexOf('<!-- kinds:end -->');
  t.ok(begin > 0 && end > begin, 'the markers are there');
  t.equal(text.slice(begin + '-->'.length, end).trim(), kindsMarkdown().trim(), 'the tables are current (regenerate them: see the top of docs/extending.md)');
});
