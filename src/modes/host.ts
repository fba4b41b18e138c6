/**
 * The daemon's side of a mode run: a ModeHost over its traffic engine,
 * recorder, registry and analyzer. One host per run. It pauses the soak (or
 * adds the mode's load on top of it), swaps the request shape when a mode
 * asks, reads the server and GPU gauges the collectors wrote, and restores
 * the soak when the run ends. The daemon aborts it when stopping.
 */
import type { Registry } from 'prom-client';
import type { Clock, Timers } from '../clock.js';
import type { ScenarioConfig } from '../traffic/config.js';
import type { Logger } from '../log.js';
import type { Hint } from '../analyzer/hint.js';
import type { Meter, Recorder } from '../metrics/recorder.js';
import type { Traffic, TrafficLoad } from '../traffic/traffic.js';
import type { WorkloadSpec } from '../traffic/workload-spec.js';
import type { ModeHost, ServerGauges, SloLimits } from './runner.js';
import type { FailureEntry, IncidentEntry, RunEvent } from '../report/model.js';
import type { SoakAnalysis } from './soak-analysis.js';
import { replicaRate, replicaUsers } from '../traffic/replicas.js';

export interface HostDeps {
  engine: Traffic;
  recorder: Recorder;
  registry: Registry;
  hints: () => Hint[];
  target: { url: string; model: string; embedded: boolean };
  slo: SloLimits;
  logger: Logger;
  clock: Clock;
  /** The waits of a run (systemTimers in the daemon; a fake clock's in tests). */
  timers: Timers;
  /** The soak's load, the fleet's (this replica sends its share). */
  soakLoad: { rate: number; users: number; thinkTimeMs: number };
  /** Scale-out: this replica of the fleet (default: the only one). */
  replicas?: { index: number; count: number };
  /** The analyzer's view of a period, when an analyzer runs. */
  analysis?: (fromMs: number, toMs: number) => Promise<SoakAnalysis | undefined>;
  /** A workload over these scenarios (the daemon's model and request options). */
  makeWorkload: (scenarios: ScenarioConfig[]) => WorkloadSpec;
  /** The configured scenarios (a mode uses them even when the soak replays a recording). */
  scenarios: ScenarioConfig[];
  setActivity: (text: string) => void;
  /** Target changes and incidents for reports (absent: none are detected). */
  targetEvents?: (fromMs: number, toMs: number) => RunEvent[];
  incidents?: (fromMs: number, toMs: number) => IncidentEntry[];
  failures?: (fromMs: number, toMs: number) => FailureEntry[];
}

type Saved = { load: TrafficLoad; work: WorkloadSpec; profile: Traffic['rateProfile'] };

/** Values of one metric in the registry (every label set), or [] when absent. */
async function metricValues(registry: Registry, name: string): Promise<number[]> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return [];
  const got = await m.get();
  return got.values.map((v) => v.value).filter((v) => Number.isFinite(v));
}

const sum = (xs: number[]): number | undefined => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) : undefined);
const max = (xs: number[]): number | undefined => (xs.length > 0 ? Math.max(...xs) : undefined);
const mean = (xs: number[]): number | undefined => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

export class DaemonModeHost implements ModeHost {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly slo: SloLimits;
  readonly target: { url: string; model: string; embedded: boolean };
  readonly soakLoad: { rate: number; users: number; thinkTimeMs: number };
  readonly replicas: { index: number; count: number };
  private readonly ac = new AbortController();
  private saved: Saved | undefined;
  private pauseSoak = true;
  /** The workload a mode's requests come from when it asks for no particular shape. */
  private modeWork: WorkloadSpec | undefined;
  /** Meters this run has attached: end() detaches any a failed run left behind. */
  private readonly attached = new Set<Meter>();

  constructor(private readonly d: HostDeps) {
    this.clock = d.clock;
    this.timers = d.timers;
    this.logger = d.logger.child({ component: 'mode' });
    this.slo = d.slo;
    this.target = d.target;
    this.soakLoad = d.soakLoad;
    this.replicas = d.replicas ?? { index: 0, count: 1 };
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Stop the run early (the daemon is stopping). */
  abort(): void {
    this.ac.abort();
  }

  /** Take over the engine: remember the soak's load and shape, then pause the soak (or keep it under the mode's load). */
  begin(pauseSoak: boolean): void {
    const e = this.d.engine;
    this.pauseSoak = pauseSoak;
    this.saved = { load: e.load, work: e.workloadSpec, profile: e.rateProfile };
    // A mode's load levels are exact: the soak's rate profile is off until the engine is given back.
    e.setProfile(undefined);
    // A replayed soak paces itself: a mode builds requests from the configured scenarios instead.
    const replayed = this.saved.work.kind === 'replay';
    this.modeWork = replayed ? this.d.makeWorkload(this.d.scenarios) : this.saved.work;
    if (pauseSoak || replayed) e.setWorkload(this.modeWork);
    if (pauseSoak) {
      e.setRate(0);
      e.setUsers(0);
    }
  }

  /** Give the engine back to the soak: its shape and its load. */
  end(): void {
    for (const m of this.attached) this.d.recorder.closeMeter(m);
    this.attached.clear();
    const s = this.saved;
    if (s === undefined) return;
    const e = this.d.engine;
    e.setWorkload(s.work);
    e.setUsers(s.load.users, s.load.thinkTimeMs);
    e.setRate(s.load.rate);
    e.setProfile(s.profile);
    this.saved = undefined;
  }

  private base(): TrafficLoad {
    return this.pauseSoak || this.saved === undefined ? { rate: 0, users: 0, thinkTimeMs: 0 } : this.saved.load;
  }

  /** The fleet's rate: this replica sends rate / count (on top of the soak's share when it keeps running). */
  setRate(rps: number): void {
    this.d.engine.setRate(this.base().rate + replicaRate(rps, this.replicas));
  }

  /** The fleet's users: this replica runs its share (see replicaUsers). */
  setUsers(users: number, thinkTimeMs: number): void {
    this.d.engine.setUsers(this.base().users + replicaUsers(users, this.replicas), thinkTimeMs);
  }

  soakAnalysis(fromMs: number, toMs: number): Promise<SoakAnalysis | undefined> {
    return this.d.analysis ? this.d.analysis(fromMs, toMs) : Promise.resolve(undefined);
  }

  useScenarios(scenarios: ScenarioConfig[] | undefined): void {
    if (scenarios !== undefined) this.d.engine.setWorkload(this.d.makeWorkload(scenarios));
    else if (this.modeWork !== undefined) this.d.engine.setWorkload(this.modeWork);
  }

  inFlight(): number {
    return this.d.engine.inFlightCount;
  }

  openMeter(): Meter {
    const m = this.d.recorder.openMeter();
    this.attached.add(m);
    return m;
  }

  attachMeter(m: Meter): void {
    this.d.recorder.attachMeter(m);
    this.attached.add(m);
  }

  closeMeter(m: Meter): void {
    this.d.recorder.closeMeter(m);
    this.attached.delete(m);
  }

  async serverGauges(): Promise<ServerGauges> {
    const r = this.d.registry;
    const g: ServerGauges = {};
    const waiting = sum(await metricValues(r, 'llmsoak_server_requests_waiting'));
    const running = sum(await metricValues(r, 'llmsoak_server_requests_running'));
    const kv = max(await metricValues(r, 'llmsoak_server_kv_cache_usage_ratio'));
    const pre = sum(await metricValues(r, 'llmsoak_server_preemptions_total'));
    const gpu = mean(await metricValues(r, 'llmsoak_gpu_utilization_ratio'));
    if (waiting !== undefined) g.waiting = waiting;
    if (running !== undefined) g.running = running;
    if (kv !== undefined) g.kvCacheUsage = kv;
    if (pre !== undefined) g.preemptionsTotal = pre;
    if (gpu !== undefined) g.gpuUtilization = gpu;
    return g;
  }

  hints(): Hint[] {
    return this.d.hints();
  }

  setActivity(text: string): void {
    this.d.setActivity(text);
  }

  targetEvents(fromMs: number, toMs: number): RunEvent[] {
    return this.d.targetEvents?.(fromMs, toMs) ?? [];
  }

  incidents(fromMs: number, toMs: number): IncidentEntry[] {
    return this.d.incidents?.(fromMs, toMs) ?? [];
  }

  failures(fromMs: number, toMs: number): FailureEntry[] {
    return this.d.failures?.(fromMs, toMs) ?? [];
  }
}
