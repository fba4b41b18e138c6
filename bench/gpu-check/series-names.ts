/**
 * Series names on both sides of the dashboard check: those the GPU collector
 * defines (read from a registry it registered into, not a hand list) and
 * those the Grafana panels' queries name.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { GpuSeries } from '../../src/collectors/gpu-series.js';

/** Every series name GpuSeries registers, sorted. */
export function collectorSeriesNames(): string[] {
  const reg = new Registry();
  new GpuSeries(reg);
  return reg
    .getMetricsAsArray()
    .map((m) => m.name)
    .sort();
}

export interface PanelReference {
  file: string;
  panel: string;
  name: string;
}

interface PanelJson {
  title?: unknown;
  targets?: unknown;
  panels?: unknown;
}

function panelsOf(list: unknown): PanelJson[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((p: unknown) => (typeof p === 'object' && p !== null ? [p as PanelJson, ...panelsOf((p as PanelJson).panels)] : []));
}

/** Every llmsoak_gpu_* name in a panel query of the dashboards in `dir` (rows' nested panels included). */
export function dashboardGpuNames(dir: string): PanelReference[] {
  const out: PanelReference[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels?: unknown };
    for (const p of panelsOf(json.panels)) {
      for (const t of Array.isArray(p.targets) ? p.targets : []) {
        const expr = typeof t === 'object' && t !== null ? (t as { expr?: unknown }).expr : undefined;
        if (typeof expr !== 'string') continue;
        for (const m of expr.matchAll(/\bllmsoak_gpu_[a-zA-Z0-9_]+/g)) out.push({ file, panel: String(p.title), name: m[0] });
      }
    }
  }
  return out;
}

/** FAIL lines for panel queries naming a series not in `names` (what the collector defines, or what a run produced). */
export function unknownPanelNames(refs: readonly PanelReference[], names: readonly string[], what: string): string[] {
  const known = new Set(names);
  return refs.filter((r) => !known.has(r.name)).map((r) => `FAIL dashboard ${r.file} panel "${r.panel}": ${r.name} is not a series ${what}`);
}
