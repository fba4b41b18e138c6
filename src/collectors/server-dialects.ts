/**
 * The target servers' metric dialects: one file each (./dialect-*.ts),
 * registered here. The collectors.server.dialect config list, detection by
 * metric-name prefix, the names a scrape keeps and the docs' dialect table
 * derive from this list.
 */
import { llamacppDialect } from './dialect-llamacpp.js';
import { sglangDialect } from './dialect-sglang.js';
import { tgiDialect } from './dialect-tgi.js';
import { tritonDialect } from './dialect-triton.js';
import { trtllmDialect } from './dialect-trtllm.js';
import { vllmDialect } from './dialect-vllm.js';
import type { DialectSpec, RatioSource, Source } from './server-dialect.js';

export type { DialectSpec, MeanSource, RatioSource, Source } from './server-dialect.js';

export const DIALECT_LIST = [vllmDialect, sglangDialect, tgiDialect, llamacppDialect, tritonDialect, trtllmDialect] as const;

export type Dialect = (typeof DIALECT_LIST)[number]['name'];
export const DIALECTS: readonly Dialect[] = DIALECT_LIST.map((d) => d.name);
export const DIALECT_SPECS: Readonly<Record<Dialect, DialectSpec>> = Object.fromEntries(DIALECT_LIST.map((d) => [d.name, d])) as Record<Dialect, DialectSpec>;

/** Every metric name any dialect reads (the parse keeps only these lines). */
export const WANTED_NAMES: ReadonlySet<string> = (() => {
  const s = new Set<string>();
  const src = (x: Source | RatioSource): void => {
    if ('name' in x) s.add(x.name);
    else {
      s.add(x.num.name);
      s.add(x.den.name);
    }
  };
  for (const d of DIALECTS) {
    const spec = DIALECT_SPECS[d];
    for (const list of [spec.waiting, spec.running, spec.kvUsage, spec.preemptions, spec.promptTokens, spec.generationTokens, spec.prefixCacheGauge]) list.forEach(src);
    for (const m of [...spec.ttft, ...spec.itl]) {
      s.add(m.sum);
      s.add(m.count);
    }
    for (const p of spec.prefixCache) {
      s.add(p.hits);
      s.add(p.queries);
    }
  }
  return s;
})();

/** The dialect whose prefixes most metric names carry; undefined when none does. */
export function detectDialect(names: Iterable<string>): Dialect | undefined {
  const score = new Map<Dialect, number>();
  for (const n of names) {
    for (const d of DIALECTS) {
      if (DIALECT_SPECS[d].prefixes.some((p) => n.startsWith(p))) score.set(d, (score.get(d) ?? 0) + 1);
    }
  }
  let best: Dialect | undefined;
  let bestScore = 0;
  for (const d of DIALECTS) {
    const s = score.get(d) ?? 0;
    if (s > bestScore) {
      best = d;
      bestScore = s;
    }
  }
  return best;
}
