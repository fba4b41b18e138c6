/**
 * What requests are built from, as data: a description that can cross into a
 * traffic worker thread (structured clone) and be built there, or in the
 * main thread for the in-process engine, by the same function.
 */
import type { ScenarioConfig, TrafficConfig } from './config.js';
import type { ArrivalProcess } from './arrivals.js';
import type { PromptBuilder } from './prompts.js';
import type { Rng } from './random.js';
import { loadReplay, ReplayArrivals, ReplayWorkload, replayScenarios } from './replay.js';
import { replaySchedule } from './replay-augment.js';
import { warmTokenizer } from '../tokenizer.js';
import { Workload, type WorkloadOptions, type WorkloadSource } from './workload.js';

export type ReplaySpec = NonNullable<TrafficConfig['replay']>;

export type WorkloadSpec = (
  | { kind: 'scenarios'; scenarios: ScenarioConfig[]; model: string; basePath: string; options: WorkloadOptions }
  | { kind: 'replay'; replay: ReplaySpec; model: string; basePath: string }
) & {
  /** The start-up preflight saw usage in every generation answer: output tokens will not need the tokenizer. */
  usageReported?: boolean;
};

/** A workload built from its spec, with the scenarios to bind series for and (a replay) its arrivals. */
export interface BuiltWorkload {
  workload: WorkloadSource;
  scenarios: ScenarioConfig[];
  replayArrivals?: () => ArrivalProcess;
  /** A replay whose rare lengths were oversampled: what was added (for one log line). */
  oversampled?: Record<string, number | null>;
}

/**
 * Whether requests of this workload may count text with the tokenizer: a target not known to report
 * usage (the output-token fallback), shared prefixes (unique headers) and edge cases (odd texts).
 */
export function countsText(spec: WorkloadSpec): boolean {
  if (spec.usageReported !== true) return true;
  return spec.kind === 'scenarios' && (spec.options.sharedPrefix?.enabled === true || spec.scenarios.some((s) => s.edgeCase !== undefined));
}

/**
 * Builds a workload ready to fire (an engine builds its workload when constructed): the corpus index
 * now, and the tokenizer (about 0.3 s, ~14 MB of heap) now when requests may count text, not at a first count
 * in the middle of traffic, where it stalled the schedule (lag max 433 ms).
 */
export function buildWorkload(spec: WorkloadSpec, rng: Rng, prompts: PromptBuilder): BuiltWorkload {
  prompts.warm();
  if (countsText(spec)) warmTokenizer();
  if (spec.kind === 'scenarios') {
    return { workload: new Workload(spec.scenarios, spec.model, rng, prompts, spec.basePath, spec.options), scenarios: spec.scenarios };
  }
  const r = spec.replay;
  const { schedule, oversampled } = planReplay(r, rng);
  const entries = schedule.entries;
  return {
    workload: new ReplayWorkload(entries, spec.model, prompts, spec.basePath),
    scenarios: replayScenarios(entries),
    replayArrivals: () => new ReplayArrivals(entries, r.speed, r.loop, schedule.periodSec),
    ...(oversampled ? { oversampled } : {}),
  };
}

/** A replay file read and its lap laid out (rare lengths oversampled when augment asks, from the run's seed); no prompts built. */
export function planReplay(r: ReplaySpec, rng: Rng): { schedule: ReturnType<typeof replaySchedule>; oversampled: Record<string, number | null> | undefined } {
  const schedule = replaySchedule(loadReplay(r.file), r.augment, () => rng.fork());
  return { schedule, oversampled: schedule.oversampled ? { ...schedule.oversampled, perLap: schedule.entries.length } : undefined };
}

/** Built workloads kept per engine: a mode that hands the soak's spec back gets the soak's workload (its chat sessions) back. */
const KEPT = 8;

/** Builds each distinct spec once (bounded), so switching back and forth keeps state and reads a replay file once. */
export class WorkloadCache {
  private readonly built = new Map<string, BuiltWorkload>();

  constructor(private readonly build: (spec: WorkloadSpec) => BuiltWorkload) {}

  get(spec: WorkloadSpec): BuiltWorkload {
    const key = JSON.stringify(spec);
    let b = this.built.get(key);
    if (b) {
      this.built.delete(key);
    } else {
      b = this.build(spec);
      if (this.built.size >= KEPT) this.built.delete(this.built.keys().next().value as string);
    }
    this.built.set(key, b);
    return b;
  }
}
