/**
 * What identifies the running target server in its /metrics: the start time
 * of its process (`process_start_time_seconds`, exported by the Prometheus
 * clients of Python, Go and Node, so vLLM, SGLang, TGI's router and the
 * built-in simulator have it) and version/build labels of `*_build_info` or
 * `*_version_info` series (e.g. `version`, `revision`, `commit`). A change
 * of either means a restart or a redeploy (src/analyzer/target-changes.ts).
 */
import type { Sample } from './prom-text.js';

export const START_TIME_NAME = 'process_start_time_seconds';
const INFO_NAME = /(^|[_:])(build|version)_info$/;
const VERSION_LABELS = new Set(['version', 'revision', 'commit', 'git_sha', 'gitsha', 'git_commit', 'build', 'build_id', 'image', 'tag']);

export interface ServerIdentity {
  /** Earliest process start among the series, seconds since the epoch. */
  startTimeSec?: number;
  /** `name{label}` → value, e.g. `vllm:build_info{version}` → `0.9.1`. */
  versions: Record<string, string>;
}

export function isIdentityName(name: string): boolean {
  return name === START_TIME_NAME || INFO_NAME.test(name);
}

export function serverIdentity(samples: Map<string, Sample[]>): ServerIdentity {
  const out: ServerIdentity = { versions: {} };
  for (const [name, list] of samples) {
    if (name === START_TIME_NAME) {
      const times = list.map((s) => s.value).filter((v) => Number.isFinite(v) && v > 0);
      if (times.length > 0) out.startTimeSec = Math.min(...times);
    } else if (INFO_NAME.test(name)) {
      for (const s of list) {
        for (const [k, v] of Object.entries(s.labels)) {
          if (VERSION_LABELS.has(k) && v !== '') out.versions[`${name}{${k}}`] = v.slice(0, 128);
        }
      }
    }
  }
  return out;
}
