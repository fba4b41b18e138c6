/**
 * Reading the Grafana dashboards in grafana/dashboards as data: panels (rows'
 * nested panels included), template variables, and every PromQL expression
 * (panel targets, annotations, query variables) with the Grafana variables
 * replaced by values valid in PromQL. Shared by the dashboard tests
 * (grafana-dashboards: every expression parses; prometheus-e2e: every panel
 * shows data after a soak).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JObj = { [k: string]: Json };

export function isObj(v: Json | undefined): v is JObj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function arr(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}
export function str(o: JObj, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}
export function num(o: JObj, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' ? v : undefined;
}

export const DASH_DIR = join(ROOT, 'grafana', 'dashboards');

export interface Dashboard {
  file: string;
  json: JObj;
}

export function loadDashboards(): Dashboard[] {
  return readdirSync(DASH_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASH_DIR, file), 'utf8')) as JObj }));
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: JObj): JObj[] {
  const out: JObj[] = [];
  for (const p of arr(d.panels)) {
    if (!isObj(p)) continue;
    out.push(p);
    for (const inner of arr(p.panels)) if (isObj(inner)) out.push(inner);
  }
  return out;
}

export function variables(d: JObj): JObj[] {
  const tpl = d.templating;
  return isObj(tpl) ? arr(tpl.list).filter(isObj) : [];
}

/** The PromQL of a variable's query, if any (label_values(expr, label) -> expr). */
export function variableExpr(v: JObj): string | undefined {
  const q = v.query;
  const text = typeof q === 'string' ? q : isObj(q) ? str(q, 'query') : undefined;
  if (text === undefined) return undefined;
  const lv = /^\s*label_values\(\s*(.+),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/s.exec(text);
  if (lv) return lv[1];
  if (/^\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.test(text)) return undefined;
  const qr = /^\s*query_result\((.+)\)\s*$/s.exec(text);
  if (qr) return qr[1];
  return text;
}

export const BUILTINS: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

/**
 * Replaces Grafana variables ($x, ${x}, ${x:format}) with values valid in
 * PromQL: query variables by `.*` (always used inside =~"..."), constants by
 * their value, the built-ins by `builtins` (default BUILTINS).
 */
export function substitute(expr: string, vars: JObj[], builtins: Readonly<Record<string, string>> = BUILTINS): { text: string; unknown: string[] } {
  const values: Record<string, string> = { ...builtins };
  for (const v of vars) {
    const name = str(v, 'name');
    if (name === undefined) continue;
    const type = str(v, 'type');
    if (type === 'constant' || type === 'custom' || type === 'textbox') {
      const q = v.query;
      values[name] = typeof q === 'string' ? (q.split(',')[0]?.trim() ?? '') : '';
    } else if (type !== 'datasource') {
      values[name] = '.*'; // query variables are always used inside =~"..."
    }
  }
  const unknown: string[] = [];
  const text = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => {
    const name = a ?? b ?? '';
    const v = values[name];
    if (v === undefined) {
      unknown.push(m);
      return m;
    }
    return v;
  });
  return { text, unknown };
}

export interface Expr {
  where: string;
  expr: string;
  kind: 'panel' | 'annotation' | 'variable';
  /** Panel id and title, for panel targets. */
  panel?: { id: number | undefined; title: string; type: string | undefined };
  refId?: string;
}

export function expressions(d: Dashboard): Expr[] {
  const out: Expr[] = [];
  for (const p of allPanels(d.json)) {
    for (const tg of arr(p.targets)) {
      if (!isObj(tg)) continue;
      const e = str(tg, 'expr');
      if (e !== undefined) {
        out.push({
          where: `${d.file} panel ${String(p.id)} "${String(p.title)}" ${String(tg.refId)}`,
          expr: e,
          kind: 'panel',
          panel: { id: num(p, 'id'), title: String(p.title), type: str(p, 'type') },
          refId: String(tg.refId),
        });
      }
    }
  }
  const ann = d.json.annotations;
  for (const a of isObj(ann) ? arr(ann.list) : []) {
    if (!isObj(a)) continue;
    const e = str(a, 'expr');
    if (e !== undefined) out.push({ where: `${d.file} annotation "${String(a.name)}"`, expr: e, kind: 'annotation' });
  }
  for (const v of variables(d.json)) {
    if (str(v, 'type') !== 'query') continue;
    const e = variableExpr(v);
    if (e !== undefined) out.push({ where: `${d.file} variable $${String(v.name)}`, expr: e, kind: 'variable' });
  }
  return out;
}
