/**
 * Target changes: a redeploy, hot reload, model swap or restart of the
 * target during a soak, made visible and measured.
 *
 * Fed with identity observations (data, not calls into exporters): the served
 * model ids (GET /v1/models, src/collectors/models.ts), the server's version
 * or build labels and its process_start_time_seconds (server collector), and
 * the target process' start time from /proc (process collector). The first
 * value of each is the reference; a different value later is a change:
 *   - logged once (one line: what changed, from → to),
 *   - counted in llmsoak_target_changes_total{kind} (model, version, restart)
 *     and stamped in llmsoak_target_last_change_timestamp_seconds{kind}
 *     (a Grafana annotation query reads it),
 *   - recorded as a RunEvent with the figures over `windowSec` before it and
 *     the same window after it ("after" is 'pending' until that has passed).
 * A restart seen by several sources (the server's /metrics and /proc) is one
 * restart: restarts within `restartMergeSec` of the last one are merged.
 *
 * The identity itself is exported as series too, so that Prometheus detects
 * changes from data across a fleet (alerts/llmsoak-rules.yml:
 * LlmsoakTargetChanged, LlmsoakTargetRestarted):
 *   llmsoak_target_identity_info{source,key,value}   1 for each reading's latest value (model ids, version labels)
 *   llmsoak_target_start_time_seconds{source}        the target's start time as each source reports it
 */
import type { FromSchema } from 'json-schema-to-ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { RunEvent } from './events.js';
import type { ServerIdentity } from '../collectors/server-identity.js';
import { SliceMeters, periodFigures, type MeterSource } from './period-figures.js';

export type ChangeKind = 'model' | 'version' | 'restart';
export const CHANGE_KINDS: readonly ChangeKind[] = ['model', 'version', 'restart'];

export const targetChangesConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { description: 'Detect model, version and restart changes of the target.', type: 'boolean', default: true },
    windowSec: { description: 'Before/after window, s.', type: 'number', minimum: 1, maximum: 86400, default: 300 },
    modelsIntervalMs: { description: 'How often GET /v1/models is polled, ms.', type: 'integer', minimum: 100, maximum: 3_600_000, default: 30000 },
    restartMergeSec: { description: 'Restarts detected within this long of the previous one are the same restart, s.', type: 'number', minimum: 0, maximum: 3600, default: 60 },
    followModel: { description: 'When target.model is not set: request the newly served model after a model change.', type: 'boolean', default: true },
  },
} as const;

/** The validated `target.changes` section, derived from the schema (defaults applied). */
export type TargetChangesConfig = FromSchema<typeof targetChangesConfigSchema>;

/** One reading of the target's identity. */
export interface IdentityObservation {
  kind: ChangeKind;
  /** Who saw it: 'models', 'server', 'process'. */
  source: string;
  /** What, within the source: 'served models', 'vllm_build_info{version}', 'start time'. */
  key: string;
  /** Compared as is; restarts carry the start time in seconds. */
  value: string;
}

/** Most events kept (the oldest go first). */
const MAX_EVENTS = 200;
/**
 * Slices per before-window; the ring keeps 2 more (the time between observations). A downtime longer than
 * that does not lose them: the slices before the last confirmation are kept (SliceMeters.rotate).
 */
const SLICES_PER_WINDOW = 4;

const EVENT_KIND: Record<ChangeKind, string> = { model: 'model_change', version: 'version_change', restart: 'restart' };
/** Identity values are cut to this many characters in labels (a list of served models can be long). */
const MAX_LABEL_CHARS = 128;

export class TargetChangeDetector {
  private readonly log: Logger;
  private readonly known = new Map<string, { value: string; lastSeenMs: number }>();
  private readonly list: RunEvent[] = [];
  private readonly counter: Counter<'kind'>;
  private readonly lastChange: Gauge<'kind'>;
  private readonly identityInfo: Gauge<'source' | 'key' | 'value'>;
  private readonly startTime: Gauge<'source'>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pendingAfter = new Set<() => void>();
  private slices: SliceMeters | undefined;
  private sliceTimer: NodeJS.Timeout | undefined;
  private lastRestartMs: number | undefined;

  constructor(
    private readonly o: {
      cfg: TargetChangesConfig;
      registry: Registry;
      logger: Logger;
      clock: Clock;
      /** Where before/after figures come from (the recorder); absent: events without figures. */
      meters?: MeterSource;
      /** Called once per model change with the newly served ids (the daemon may follow them). */
      onModelChange?: (served: string[]) => void;
    },
  ) {
    this.log = o.logger.child({ component: 'target-changes' });
    this.counter = new Counter({
      name: 'llmsoak_target_changes_total',
      help: 'Changes of the target seen during the soak: served model, server version/build labels, or a restart (process start time).',
      labelNames: ['kind'],
      registers: [o.registry],
    });
    this.lastChange = new Gauge({
      name: 'llmsoak_target_last_change_timestamp_seconds',
      help: 'When the last target change of this kind was detected, seconds since the epoch (Grafana annotations).',
      labelNames: ['kind'],
      registers: [o.registry],
    });
    for (const k of CHANGE_KINDS) this.counter.labels(k).inc(0);
    this.identityInfo = new Gauge({
      name: 'llmsoak_target_identity_info',
      help: 'The target as each source last saw it (served model ids, version or build labels); always 1. A change is a new value label.',
      labelNames: ['source', 'key', 'value'],
      registers: [o.registry],
    });
    this.startTime = new Gauge({
      name: 'llmsoak_target_start_time_seconds',
      help: 'When the target process started, seconds since the epoch, as each source reports it (server: its process_start_time_seconds; process: /proc).',
      labelNames: ['source'],
      registers: [o.registry],
    });
  }

  /** Start the slices "before" figures are read from. */
  start(): void {
    if (this.o.meters === undefined || this.slices !== undefined) return;
    const sliceMs = Math.max(250, (this.o.cfg.windowSec * 1000) / SLICES_PER_WINDOW);
    this.slices = new SliceMeters(this.o.meters, SLICES_PER_WINDOW + 2, this.o.clock.wallMs(), this.o.cfg.windowSec * 1000);
    this.sliceTimer = setInterval(() => this.slices?.rotate(this.o.clock.wallMs()), sliceMs);
    this.sliceTimer.unref();
  }

  /** Stop: meters are detached; an "after" not complete yet stays 'pending'. */
  stop(): void {
    if (this.sliceTimer) clearInterval(this.sliceTimer);
    this.sliceTimer = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const close of this.pendingAfter) close();
    this.pendingAfter.clear();
    this.slices?.close();
    this.slices = undefined;
  }

  /** One reading. The first of each source and key is the reference; a different value later is a change. */
  observe(obs: IdentityObservation): void {
    if (!this.o.cfg.enabled) return;
    const now = this.o.clock.wallMs();
    const id = `${obs.kind}\u0000${obs.source}\u0000${obs.key}`;
    const prev = this.known.get(id);
    this.known.set(id, { value: obs.value, lastSeenMs: now });
    this.exportIdentity(obs, prev?.value);
    this.holdBefore(now);
    if (prev === undefined || prev.value === obs.value) return;
    if (obs.kind === 'restart') {
      const merged = this.lastRestartMs !== undefined && now - this.lastRestartMs <= this.o.cfg.restartMergeSec * 1000;
      this.lastRestartMs = now;
      if (merged) {
        this.log.debug({ source: obs.source }, 'restart also seen by another source (merged)');
        return;
      }
    }
    this.record(obs, prev.value, prev.lastSeenMs, now);
  }

  /**
   * A change is read against the figures before its key was last seen with
   * the old value; keys not seen for a while (the target down) hold those
   * slices. A key not seen for two windows no longer does (a source that went
   * away for good must not pin the ring).
   */
  private holdBefore(now: number): void {
    if (this.slices === undefined) return;
    const staleMs = now - 2 * this.o.cfg.windowSec * 1000;
    let oldest = now;
    for (const k of this.known.values()) if (k.lastSeenMs >= staleMs && k.lastSeenMs < oldest) oldest = k.lastSeenMs;
    this.slices.holdBefore(oldest);
  }

  /** The reading as series: a restart's start time as a value; a model or version as a label (the old one removed). */
  private exportIdentity(obs: IdentityObservation, prev: string | undefined): void {
    if (obs.kind === 'restart') {
      const sec = Number(obs.value);
      if (Number.isFinite(sec)) this.startTime.labels(obs.source).set(sec);
      return;
    }
    const cut = (v: string) => v.slice(0, MAX_LABEL_CHARS);
    if (prev !== undefined && cut(prev) !== cut(obs.value)) this.identityInfo.remove(obs.source, obs.key, cut(prev));
    this.identityInfo.labels(obs.source, obs.key, cut(obs.value)).set(1);
  }

  private record(obs: IdentityObservation, from: string, lastSeenOldMs: number, now: number): void {
    const detail =
      obs.kind === 'restart'
        ? `target restarted (${obs.source}: process start ${startTime(from)} → ${startTime(obs.value)})`
        : `${obs.kind === 'model' ? 'served model' : obs.key} ${JSON.stringify(from)} → ${JSON.stringify(obs.value)} (${obs.source})`;
    const ev: RunEvent = { at: new Date(now).toISOString(), kind: EVENT_KIND[obs.kind], detail };
    this.log.warn({ kind: obs.kind, source: obs.source, from, to: obs.value }, `target change: ${detail}`);
    this.counter.labels(obs.kind).inc();
    this.lastChange.labels(obs.kind).set(now / 1000);
    const windowMs = this.o.cfg.windowSec * 1000;
    const before = this.slices?.before(lastSeenOldMs, windowMs);
    if (before !== undefined) ev.before = before;
    const meters = this.o.meters;
    if (meters !== undefined) {
      ev.after = 'pending';
      const m = meters.openMeter();
      const close = (): void => meters.closeMeter(m);
      this.pendingAfter.add(close);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.pendingAfter.delete(close);
        close();
        ev.after = periodFigures([m], now, this.o.clock.wallMs());
      }, windowMs);
      timer.unref();
      this.timers.add(timer);
    }
    this.list.push(ev);
    if (this.list.length > MAX_EVENTS) this.list.shift();
    if (obs.kind === 'model') this.o.onModelChange?.(obs.value.split(',').filter((s) => s !== ''));
  }

  /** Changes detected in [fromMs, toMs] (copies; newest last). */
  events(fromMs = -Infinity, toMs = Infinity): RunEvent[] {
    return this.list
      .filter((e) => {
        const t = Date.parse(e.at);
        return t >= fromMs && t <= toMs;
      })
      .map((e) => structuredClone(e));
  }
}

/** The readings of the server and process collectors (src/collectors/index.ts `identity`), into a detector. */
export function collectorIdentitySinks(d: TargetChangeDetector): { server: (id: ServerIdentity) => void; processStartTime: (sec: number) => void } {
  return {
    server: (id) => {
      if (id.startTimeSec !== undefined) d.observe({ kind: 'restart', source: 'server', key: 'process_start_time_seconds', value: String(id.startTimeSec) });
      for (const [key, value] of Object.entries(id.versions)) d.observe({ kind: 'version', source: 'server', key, value });
    },
    // /proc start times are in clock ticks: 10 ms, stable between reads.
    processStartTime: (sec) => d.observe({ kind: 'restart', source: 'process', key: 'start time', value: sec.toFixed(2) }),
  };
}

/** The ids a models poller (src/collectors/models.ts) saw, into a detector. */
export function observeServedModels(d: TargetChangeDetector, ids: string[]): void {
  d.observe({ kind: 'model', source: 'models', key: 'served models', value: ids.join(',') });
}

function startTime(sec: string): string {
  const n = Number(sec);
  return Number.isFinite(n) ? new Date(n * 1000).toISOString() : sec;
}
