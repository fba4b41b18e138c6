/**
 * THE alert state machine: the one place where hint state lives, after
 * Prometheus' rules/alerting.go.
 *
 * - Identity: rule id + sorted identity labels (the finding's labels plus
 *   `severity` and `cause`; see `hintKey`). Never the summary, suggestion,
 *   confidence or evidence: a refreshed finding updates those in place (last
 *   write wins, like annotations). `severity` and `cause` are part of the
 *   identity because they are Alertmanager labels: a rule that escalates from
 *   warning to critical raises a new hint (pending again) and resolves the
 *   old one, exactly as a Prometheus rule with a templated label does, so no
 *   stale alert lingers in Alertmanager.
 * - A finding seen for the first time is `pending` (activeAt = that
 *   evaluation). Present again at an evaluation at least `for` after
 *   activeAt, it becomes `firing` (for = 0: firing at once, no pending step).
 * - Absent at an evaluation: a pending hint is dropped (a flap inside `for`
 *   never fires); a firing one becomes `resolved` (resolvedAt = that
 *   evaluation), unless `keepFiringFor` > 0, in which case it keeps firing
 *   until it has been absent for that long (Prometheus' keep_firing_for).
 * - A resolved hint is kept 15 minutes (RESOLVED_RETENTION_MS), so that the
 *   notifier keeps re-sending the resolution, then forgotten at the next
 *   evaluation of its rule. If the finding comes back meanwhile it is a new
 *   hint: pending, with a new activeAt.
 *
 * Metric `llmsoak_hint_active{rule,severity,cause}`: the number of FIRING hints
 * with those labels (1 for a rule without extra labels); the series is
 * removed when none fires, as Prometheus' ALERTS series disappear when an
 * alert stops (pending hints are not counted: ALERTS would say
 * alertstate="pending", which this contract does not carry).
 *
 * Generator bound: `setGeneratorBound(true)` marks every current and refreshed
 * pending/firing hint `untrustworthy` and prefixes its summary with
 * UNTRUSTWORTHY_PREFIX; `false` clears it. Resolved hints keep the mark they
 * had when they resolved.
 *
 * Pure bookkeeping: no I/O, no clock (every call is given its evaluation
 * time), no timers.
 */
import { Gauge, type Registry } from 'prom-client';
import { hintKey, identityLabels, type Finding, type Hint, type HintState } from './hint.js';

/** How long a resolved hint is kept (and its resolution re-sent): Prometheus' resolvedRetention. */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

/** Put in front of every hint's summary while llmsoak is generator-bound. */
export const UNTRUSTWORTHY_PREFIX = '[llmsoak is generator-bound: its own figures are not trustworthy now] ';

/** `inactive`: not tracked (before a hint exists, after a pending one is dropped). */
export type TrackedState = HintState | 'inactive';

/** One state change; the daemon logs one line for each (see `describeTransition`). */
export interface Transition {
  /** Snapshot of the hint after the change. */
  hint: Hint;
  from: TrackedState;
  to: TrackedState;
}

export interface HintTrackerOptions {
  /** Where `llmsoak_hint_active` is registered; absent: no metric. */
  registry?: Registry;
}

interface Entry {
  hint: Hint;
  /** The rule's own summary, before any untrustworthy prefix. */
  baseSummary: string;
  /** First evaluation at which a firing hint was absent (keepFiringFor). */
  keepFiringSince?: Date;
}

const GAUGE_NAME = 'llmsoak_hint_active';
type GaugeLabel = 'rule' | 'severity' | 'cause';

export class HintTracker {
  /** rule id → hint key → entry. */
  private readonly rules = new Map<string, Map<string, Entry>>();
  private generatorBound = false;
  private readonly gauge: Gauge<GaugeLabel> | undefined;
  /** Gauge series currently set, by rule\0severity\0cause. */
  private gaugeSeries = new Map<string, Record<GaugeLabel, string>>();

  constructor(opts: HintTrackerOptions = {}) {
    if (opts.registry !== undefined) {
      const existing = opts.registry.getSingleMetric(GAUGE_NAME);
      if (existing instanceof Gauge) {
        this.gauge = existing as Gauge<GaugeLabel>;
      } else {
        this.gauge = new Gauge<GaugeLabel>({
          name: GAUGE_NAME,
          help: 'Number of firing llmsoak hints (root-cause findings) with these labels; absent when none fires.',
          labelNames: ['rule', 'severity', 'cause'],
          registers: [opts.registry],
        });
      }
    }
  }

  /**
   * Feeds one evaluation of one rule: `findings` are ALL the findings the rule
   * returned at `now` (empty: its condition holds nowhere). `forMs`: how long
   * a finding must be present before it fires; `keepFiringForMs`: how long a
   * firing hint keeps firing after its finding is gone (0: resolve at once).
   * Returns the state changes, in a stable order. A rule returning two
   * findings with the same identity: the first wins.
   */
  update(ruleId: string, forMs: number, keepFiringForMs: number, findings: readonly Finding[], now: Date): Transition[] {
    const t = now.getTime();
    let rule = this.rules.get(ruleId);
    if (rule === undefined) {
      rule = new Map();
      this.rules.set(ruleId, rule);
    }
    const seen = new Set<string>();
    /** Keys of hints created at this evaluation, with what they replaced. */
    const created = new Map<string, TrackedState>();

    for (const f of findings) {
      const key = hintKey({ rule: ruleId, severity: f.severity, cause: f.cause, labels: f.labels });
      if (seen.has(key)) continue;
      seen.add(key);
      const e = rule.get(key);
      if (e !== undefined && e.hint.state !== 'resolved') {
        this.refresh(e, f);
        delete e.keepFiringSince;
        e.hint.lastEvalAt = now;
        continue;
      }
      created.set(key, e === undefined ? 'inactive' : 'resolved');
      rule.set(key, this.create(ruleId, f, now));
    }

    const transitions: Transition[] = [];
    for (const [key, e] of rule) {
      const h = e.hint;
      if (seen.has(key)) {
        const from = created.get(key);
        if (h.state === 'pending' && t - h.activeAt.getTime() >= forMs) {
          h.state = 'firing';
          h.firedAt = now;
          transitions.push({ hint: snapshot(h), from: from ?? 'pending', to: 'firing' });
        } else if (from !== undefined) {
          transitions.push({ hint: snapshot(h), from, to: 'pending' });
        }
        continue;
      }
      // Absent at this evaluation.
      if (h.state === 'resolved') {
        if (t - (h.resolvedAt ?? now).getTime() > RESOLVED_RETENTION_MS) rule.delete(key);
        continue;
      }
      h.lastEvalAt = now;
      if (h.state === 'firing' && keepFiringForMs > 0) {
        e.keepFiringSince ??= now;
        if (t - e.keepFiringSince.getTime() < keepFiringForMs) continue;
      }
      if (h.state === 'pending') {
        rule.delete(key);
        transitions.push({ hint: snapshot(h), from: 'pending', to: 'inactive' });
        continue;
      }
      h.state = 'resolved';
      h.resolvedAt = now;
      delete e.keepFiringSince;
      transitions.push({ hint: snapshot(h), from: 'firing', to: 'resolved' });
    }
    if (rule.size === 0) this.rules.delete(ruleId);
    this.syncGauge();
    return transitions;
  }

  /**
   * Sets whether llmsoak is generator-bound for the current evaluation round
   * (call it once per round, before or after the rules' `update`s: it applies
   * to every pending/firing hint at once and to every later refresh).
   */
  setGeneratorBound(bound: boolean): void {
    this.generatorBound = bound;
    for (const rule of this.rules.values()) {
      for (const e of rule.values()) {
        if (e.hint.state !== 'resolved') this.mark(e);
      }
    }
  }

  isGeneratorBound(): boolean {
    return this.generatorBound;
  }

  /** Every tracked hint with its state, JSON-safe, for a checkpoint (src/state/). */
  toSnapshot(): TrackerSnapshot {
    const entries: TrackerSnapshot['entries'] = [];
    for (const rule of this.rules.values()) {
      for (const [key, e] of rule) {
        const { activeAt, lastEvalAt, firedAt, resolvedAt, ...rest } = e.hint;
        const hint: HintSnapshot = { ...rest, evidence: { ...rest.evidence }, activeAt: activeAt.getTime(), lastEvalAt: lastEvalAt.getTime() };
        if (firedAt) hint.firedAt = firedAt.getTime();
        if (resolvedAt) hint.resolvedAt = resolvedAt.getTime();
        entries.push({ key, hint, baseSummary: e.baseSummary, ...(e.keepFiringSince ? { keepFiringSince: e.keepFiringSince.getTime() } : {}) });
      }
    }
    return { v: 1, generatorBound: this.generatorBound, entries };
  }

  /**
   * Restores what toSnapshot() saved into an empty tracker: firing hints keep
   * firing with their original activeAt (Alertmanager's startsAt), pending
   * ones keep counting their `for`, resolved ones keep being re-sent.
   */
  restore(snap: TrackerSnapshot): void {
    if (snap.v !== 1 || !Array.isArray(snap.entries)) throw new RangeError('HintTracker: not a tracker snapshot');
    this.rules.clear();
    this.generatorBound = snap.generatorBound;
    for (const s of snap.entries) {
      const { activeAt, lastEvalAt, firedAt, resolvedAt, ...rest } = s.hint;
      const hint: Hint = { ...rest, evidence: { ...rest.evidence }, activeAt: new Date(activeAt), lastEvalAt: new Date(lastEvalAt) };
      if (firedAt !== undefined) hint.firedAt = new Date(firedAt);
      if (resolvedAt !== undefined) hint.resolvedAt = new Date(resolvedAt);
      let rule = this.rules.get(hint.rule);
      if (rule === undefined) {
        rule = new Map();
        this.rules.set(hint.rule, rule);
      }
      const e: Entry = { hint, baseSummary: s.baseSummary };
      if (s.keepFiringSince !== undefined) e.keepFiringSince = new Date(s.keepFiringSince);
      rule.set(s.key, e);
    }
    this.syncGauge();
  }

  /** Pending and firing hints (snapshots). */
  active(): Hint[] {
    return this.collect((h) => h.state !== 'resolved');
  }

  /** Firing hints only (snapshots). */
  firing(): Hint[] {
    return this.collect((h) => h.state === 'firing');
  }

  /** Every tracked hint: pending, firing, and resolved within the last 15 minutes (snapshots). */
  all(): Hint[] {
    return this.collect(() => true);
  }

  private collect(pred: (h: Hint) => boolean): Hint[] {
    const out: Hint[] = [];
    for (const rule of this.rules.values()) {
      for (const e of rule.values()) if (pred(e.hint)) out.push(snapshot(e.hint));
    }
    return out;
  }

  private create(ruleId: string, f: Finding, now: Date): Entry {
    const hint: Hint = {
      rule: ruleId,
      severity: f.severity,
      cause: f.cause,
      summary: f.summary,
      suggestion: f.suggestion,
      confidence: f.confidence,
      evidence: { ...f.evidence },
      state: 'pending',
      activeAt: now,
      lastEvalAt: now,
    };
    const labels = ownLabels(f);
    if (labels !== undefined) hint.labels = labels;
    const e: Entry = { hint, baseSummary: f.summary };
    this.mark(e);
    return e;
  }

  private refresh(e: Entry, f: Finding): void {
    const h = e.hint;
    e.baseSummary = f.summary;
    h.suggestion = f.suggestion;
    h.confidence = f.confidence;
    h.evidence = { ...f.evidence };
    this.mark(e);
  }

  private mark(e: Entry): void {
    if (this.generatorBound) {
      e.hint.untrustworthy = true;
      e.hint.summary = UNTRUSTWORTHY_PREFIX + e.baseSummary;
    } else {
      delete e.hint.untrustworthy;
      e.hint.summary = e.baseSummary;
    }
  }

  private syncGauge(): void {
    if (this.gauge === undefined) return;
    const counts = new Map<string, { labels: Record<GaugeLabel, string>; n: number }>();
    for (const rule of this.rules.values()) {
      for (const { hint: h } of rule.values()) {
        if (h.state !== 'firing') continue;
        const k = `${h.rule}\u0000${h.severity}\u0000${h.cause}`;
        const c = counts.get(k);
        if (c === undefined) counts.set(k, { labels: { rule: h.rule, severity: h.severity, cause: h.cause }, n: 1 });
        else c.n++;
      }
    }
    for (const [k, labels] of this.gaugeSeries) if (!counts.has(k)) this.gauge.remove(labels);
    const next = new Map<string, Record<GaugeLabel, string>>();
    for (const [k, c] of counts) {
      this.gauge.set(c.labels, c.n);
      next.set(k, c.labels);
    }
    this.gaugeSeries = next;
  }
}

/** A hint with its instants as unix ms (JSON-safe). */
export type HintSnapshot = Omit<Hint, 'activeAt' | 'lastEvalAt' | 'firedAt' | 'resolvedAt'> & {
  activeAt: number;
  lastEvalAt: number;
  firedAt?: number;
  resolvedAt?: number;
};

/** What a checkpoint keeps of the tracker. */
export interface TrackerSnapshot {
  v: 1;
  generatorBound: boolean;
  entries: { key: string; hint: HintSnapshot; baseSummary: string; keepFiringSince?: number }[];
}

/** The finding's identity labels other than severity/cause, or undefined when none. */
function ownLabels(f: Finding): Record<string, string> | undefined {
  const all = identityLabels(f);
  delete all['severity'];
  delete all['cause'];
  return Object.keys(all).length === 0 ? undefined : all;
}

function snapshot(h: Hint): Hint {
  const s: Hint = { ...h, evidence: { ...h.evidence } };
  if (h.labels !== undefined) s.labels = { ...h.labels };
  return s;
}

/** One log line's message for a transition, e.g. `hint kv_cache_pressure{model="m"} pending -> firing`. */
export function describeTransition(tr: Transition): string {
  const h = tr.hint;
  const labels =
    h.labels === undefined
      ? ''
      : `{${Object.keys(h.labels)
          .sort()
          .map((k) => `${k}=${JSON.stringify(h.labels?.[k])}`)
          .join(',')}}`;
  return `hint ${h.rule}${labels} (${h.severity}, ${h.cause}) ${tr.from} -> ${tr.to}`;
}
