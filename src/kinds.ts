/**
 * The four registries of kinds (modes, arrival processes, report formats,
 * server dialects) side by side, for the CLI help and the kind table of
 * docs/extending.md (test/kinds.test.ts fails when the docs are stale). A
 * new kind is registered in its registry (docs/extending.md); it shows up here.
 */
import { DIALECT_LIST } from './collectors/server-dialects.js';
import { MODE_SPECS } from './config/modes.js';
import { REPORT_FORMATS } from './report/formats.js';
import { ARRIVAL_KINDS } from './traffic/arrival-kinds.js';

export interface KindRegistry {
  /** What the kinds are, plural. */
  what: string;
  /** The config key that names one. */
  configKey: string;
  /** Where they are registered. */
  registry: string[];
  kinds: { name: string; summary: string }[];
}

export const KIND_REGISTRIES: readonly KindRegistry[] = [
  { what: 'modes', configKey: 'mode.kind', registry: ['src/config/modes.ts', 'src/modes/registry.ts'], kinds: MODE_SPECS.map((m) => ({ name: m.kind, summary: m.summary })) },
  { what: 'arrival processes', configKey: 'traffic.arrival', registry: ['src/traffic/arrival-kinds.ts'], kinds: ARRIVAL_KINDS.map((a) => ({ name: a.kind, summary: a.summary })) },
  {
    what: 'report formats',
    configKey: 'report.formats',
    registry: ['src/report/formats.ts'],
    kinds: REPORT_FORMATS.map((f) => ({ name: f.name, summary: `${f.summary}${f.always ? ' (always written)' : ''}` })),
  },
  { what: 'server dialects', configKey: 'collectors.server.dialect', registry: ['src/collectors/server-dialects.ts'], kinds: DIALECT_LIST.map((d) => ({ name: d.name, summary: d.summary })) },
];

/** For `llmsoak --help`: each registry's names on one line. */
export function kindsHelp(): string {
  return KIND_REGISTRIES.map((r) => `  ${`${r.configKey}:`.padEnd(28)}${r.kinds.map((k) => k.name).join(', ')}`).join('\n');
}

/** The kind tables of docs/extending.md (between its `kinds:begin` and `kinds:end` markers). */
export function kindsMarkdown(): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  const out: string[] = [];
  for (const r of KIND_REGISTRIES) {
    out.push(`**${r.what}** (\`${r.configKey}\`, registered in ${r.registry.map((f) => `\`${f}\``).join(' and ')})`, '', '| kind | what it is |', '|---|---|');
    for (const k of r.kinds) out.push(`| \`${k.name}\` | ${cell(k.summary)} |`);
    out.push('');
  }
  return out.join('\n');
}
