/**
 * Turns what a mode measured into the report model (src/report/model.ts):
 * run totals and whole-run percentiles from the mode's run meter, steps as
 * measured, the analyzer's hints that were active during the run, and the
 * verdict pipelines read.
 */
import type { Hint } from '../analyzer/hint.js';
import type { Meter } from '../metrics/recorder.js';
import type { FailureEntry, HintEntry, IncidentEntry, Knee, Plot, Report, RunEvent, RunKind, Spike, StepResult, Surface, TrendEntry } from '../report/model.js';
import { VERSION } from '../version.js';
import { hintEntry } from '../report/live.js';
import { errorsOf, figuresOf, type ModeHost } from './runner.js';

export interface ReportInput {
  kind: RunKind;
  startedAtMs: number;
  endedAtMs: number;
  /** Measured time, s (a soak report leaves out paused time). */
  durationSec: number;
  parameters: Record<string, unknown>;
  meter: Meter;
  steps: StepResult[];
  knee?: Knee;
  surface?: Surface;
  spike?: Spike;
  timeseries?: Plot[];
  events?: RunEvent[];
  /** Trends over the run (soak reports). */
  trends?: TrendEntry[];
  /** The hint timeline; default: the hints the host has now that were active during the run. */
  hints?: HintEntry[];
  failures: string[];
}

/** What a report of one replica of a fleet says about its figures (undefined for a single process). */
export function replicaNote(replicas: ModeHost['replicas']): string | undefined {
  if (replicas === undefined || replicas.count <= 1) return undefined;
  return `replica ${replicas.index} of ${replicas.count} (0-based): rates and users here are the fleet's, of which this replica sent 1/${replicas.count}; measured figures (requests, achieved rates, latencies) are this replica's`;
}

/** Hints that were active at some time in [fromMs, toMs], as the report has them. */
export function hintEntries(hints: Hint[], fromMs: number, toMs: number): HintEntry[] {
  return hints.filter((h) => h.activeAt.getTime() <= toMs && (h.resolvedAt === undefined || h.resolvedAt.getTime() >= fromMs)).map(hintEntry);
}

export function buildReport(host: ModeHost, r: ReportInput): Report {
  const m = r.meter;
  const t = m.totals;
  const histograms: Record<string, string> = {};
  for (const [k, h] of Object.entries(m.hdr)) if (h.count() > 0) histograms[k] = h.encode();
  return {
    kind: r.kind,
    version: VERSION,
    startedAt: new Date(r.startedAtMs).toISOString(),
    endedAt: new Date(r.endedAtMs).toISOString(),
    durationSec: Number(r.durationSec.toFixed(3)),
    target: { ...host.target },
    parameters: replicaNote(host.replicas) !== undefined ? { ...r.parameters, replica: replicaNote(host.replicas) } : r.parameters,
    slo: { ttftMs: host.slo.ttftMs, tpotMs: host.slo.tpotMs, e2eMs: host.slo.e2eMs, maxErrorRate: host.slo.maxErrorRate },
    totals: { requests: t.requests, ok: t.ok, good: t.good, dropped: t.dropped, errors: errorsOf(t), inputTokens: t.inputTokens, outputTokens: t.outputTokens },
    overall: {
      ttft: figuresOf(m.hdr.ttft),
      itl: figuresOf(m.hdr.itl),
      tpot: figuresOf(m.hdr.tpot),
      e2e: figuresOf(m.hdr.e2e),
      corrected: figuresOf(m.hdr.corrected),
      scheduleLag: figuresOf(m.hdr.scheduleLag),
    },
    steps: r.steps,
    ...(r.knee !== undefined ? { knee: r.knee } : {}),
    ...(r.surface !== undefined ? { surface: r.surface } : {}),
    ...(r.spike !== undefined ? { spike: r.spike } : {}),
    trends: r.trends ?? [],
    hints: r.hints ?? hintEntries(host.hints(), r.startedAtMs, r.endedAtMs),
    events: [...(r.events ?? []), ...(host.targetEvents?.(r.startedAtMs, r.endedAtMs) ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)),
    ...incidentsOf(host, r.startedAtMs, r.endedAtMs),
    ...failuresOf(host, r.startedAtMs, r.endedAtMs),
    timeseries: r.timeseries ?? [],
    verdict: { pass: r.failures.length === 0, failures: r.failures },
    histograms,
  };
}

/** The incidents of [fromMs, toMs], as an optional report field (absent when none). */
function incidentsOf(host: ModeHost, fromMs: number, toMs: number): { incidents?: IncidentEntry[] } {
  const list = host.incidents?.(fromMs, toMs) ?? [];
  return list.length > 0 ? { incidents: list } : {};
}

/** The failures seen in [fromMs, toMs], as an optional report field (absent when none). */
function failuresOf(host: ModeHost, fromMs: number, toMs: number): { failures?: FailureEntry[] } {
  const list = host.failures?.(fromMs, toMs) ?? [];
  return list.length > 0 ? { failures: list } : {};
}

/** Steps in load order (the charts read them as one increasing axis), each keeping its measurement index. */
export function byLoad(steps: StepResult[]): StepResult[] {
  const load = (s: StepResult) => s.targetRate ?? s.concurrency ?? 0;
  return [...steps].sort((a, b) => load(a) - load(b) || a.index - b.index);
}
