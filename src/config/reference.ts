/**
 * The configuration reference in docs/configuration.md, rendered from the
 * schema: every field with its type, allowed values, default and the
 * schema's own description. `npm run gen:config-docs` writes it between the
 * markers; test/config-docs.test.ts fails when the file differs (stale docs)
 * or a field has no description.
 */
import { configSchema } from './schema.js';

export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED: config reference (npm run gen:config-docs; edit the schema, not this table) -->';
export const REFERENCE_END = '<!-- END GENERATED: config reference -->';

/** The part of a JSON Schema node the reference reads. */
interface SchemaNode {
  type?: string | readonly string[];
  description?: string;
  enum?: readonly unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  properties?: Readonly<Record<string, SchemaNode>>;
  items?: SchemaNode;
  required?: readonly string[];
}

/** One documented field. */
export interface ReferenceRow {
  path: string;
  type: string;
  default: string;
  description: string;
}

const code = (s: string): string => `\`${s.replaceAll('`', "'")}\``;

function typeOf(n: SchemaNode): string {
  if (n.enum !== undefined) return n.enum.map((v) => code(String(v))).join(' \\| ');
  const types = n.type === undefined ? [] : typeof n.type === 'string' ? [n.type] : [...n.type];
  let t = types.join(' or ');
  if (t === 'array' && n.items !== undefined) {
    const inner = n.items.properties !== undefined ? 'object' : typeOf(n.items);
    t = `list of ${inner}`;
  }
  const bounds: string[] = [];
  if (n.minimum !== undefined) bounds.push(`≥ ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) bounds.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined) bounds.push(`≤ ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) bounds.push(`< ${n.exclusiveMaximum}`);
  if (n.minItems !== undefined && n.minItems > 0) bounds.push(`≥ ${n.minItems} items`);
  if (n.maxItems !== undefined) bounds.push(`≤ ${n.maxItems} items`);
  // A pattern that only admits one literal next to a number (`auto`, `clock`) is part of the type.
  if (n.pattern !== undefined && /^\^[a-z]+\$$/.test(n.pattern)) t = t.replace('string', code(n.pattern.slice(1, -1)));
  return bounds.length > 0 ? `${t} (${bounds.join(', ')})` : t;
}

function defaultOf(n: SchemaNode): string {
  const d = n.default;
  if (d === undefined) return '';
  if (n.properties !== undefined && typeof d === 'object' && d !== null && Object.keys(d).length === 0) return '';
  if (Array.isArray(d) && d.some((x) => typeof x === 'object' && x !== null)) return `${d.length} entries (see the text)`;
  const text = typeof d === 'string' ? d : JSON.stringify(d);
  return code(text);
}

/** Every field, depth first, in schema order; list items as `path[]`. */
export function referenceRows(schema: SchemaNode = configSchema as unknown as SchemaNode): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const walk = (node: SchemaNode, prefix: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = `${prefix}${key}`;
      rows.push({ path, type: typeOf(child), default: defaultOf(child), description: child.description ?? '' });
      if (child.properties !== undefined) walk(child, `${path}.`);
      if (child.items?.properties !== undefined) walk(child.items, `${path}[].`);
    }
  };
  walk(schema, '');
  return rows;
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The Markdown table between the markers (the markers included). */
export function renderConfigReference(rows: ReferenceRow[] = referenceRows()): string {
  const lines = [REFERENCE_BEGIN, '', '| field | type | default | meaning |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${code(r.path)} | ${r.type.replaceAll('\n', ' ')} | ${r.default} | ${cell(r.description)} |`);
  lines.push('', REFERENCE_END);
  return lines.join('\n');
}

/** `doc` with the text between the markers replaced by the reference; throws when a marker is missing. */
export function withReference(doc: string, reference: string = renderConfigReference()): string {
  const a = doc.indexOf(REFERENCE_BEGIN);
  const b = doc.indexOf(REFERENCE_END);
  if (a < 0 || b < a) throw new Error(`docs/configuration.md: the markers ${REFERENCE_BEGIN} … ${REFERENCE_END} are missing`);
  return doc.slice(0, a) + reference + doc.slice(b + REFERENCE_END.length);
}
