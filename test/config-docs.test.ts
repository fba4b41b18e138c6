/**
 * docs/configuration.md's reference is generated from the schema (npm run
 * gen:config-docs): every field has a description in the schema, and the file
 * holds exactly what the schema renders, so a field added, renamed or
 * re-defaulted without regenerating fails here.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { referenceRows, renderConfigReference, withReference } from '../src/config/reference.js';
import { configSchema } from '../src/config/schema.js';

const docFile = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

t.test('every field of the schema has a description', async (t) => {
  const rows = referenceRows();
  t.ok(rows.length > 300, `${rows.length} fields`);
  const bare = rows.filter((r) => r.description.trim() === '').map((r) => r.path);
  t.same(bare, [], `fields without a description in the schema: ${bare.join(', ')}`);
});

t.test('the reference shows each field with its type, bounds, allowed values and default', async (t) => {
  const row = (path: string) => referenceRows().find((r) => r.path === path);
  t.match(row('traffic.rate'), { type: 'number (≥ 0)', default: '`2`' });
  t.match(row('traffic.mode'), { type: '`open` \\| `closed`', default: '`open`' });
  t.match(row('traffic.replicas.index'), { type: 'integer or `auto` (≥ 0)', default: '`0`' });
  t.match(row('traffic.scenarios[].prompt.dist')?.type, /`lognormal`/);
  t.equal(row('traffic.scenarios')?.default, '5 entries (see the text)');
  t.match(row('collectors.host.maxDevices'), { type: 'integer (≥ 1, ≤ 1024)', default: '`32`' });
  t.equal(row('analyzer.thresholds.kvUsageRatio')?.description, 'KV-cache usage ratio above which the cache is "full".');
  t.ok(row('mode.ramp.holdSec') && row('schedules[].mode.ramp.holdSec'), 'mode sections, also under each schedule');
  for (const section of Object.keys(configSchema.properties)) t.ok(row(section), `section ${section}`);
  t.notOk(row('$schema'), 'only fields');
});

t.test('docs/configuration.md holds the reference the schema renders now (else: npm run gen:config-docs)', async (t) => {
  const doc = readFileSync(docFile, 'utf8');
  t.equal(doc, withReference(doc), 'the generated table is current');
  t.ok(doc.includes(renderConfigReference()), 'and it is there, between its markers');
  t.throws(() => withReference('# no markers\n'), /markers/, 'a file without the markers is an error, not a silent no-op');
});
