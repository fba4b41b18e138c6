/**
 * The server's own words for every error, bounded: per scenario and error
 * class, the first distinct messages (RequestRecord.errorDetail) with their
 * counts and first/last times, as Locust groups failures. Messages that differ
 * only in numbers or ids ("at position 162" / "at position 170") are one
 * message; the first wording seen is the one kept.
 *
 * Nothing here grows with what the target sends: at most `perGroup` messages
 * per scenario×class and `maxMessages` in all, each at most
 * MAX_ERROR_DETAIL_CHARS; failures past the caps still count, in one
 * "other messages" line per scenario×class (at most `maxMessages` such lines,
 * then one line for everything else). Runs on the main thread, fed one record
 * at a time; O(1) per failure.
 */
import type { Clock } from '../clock.js';
import type { ErrorClass, RequestRecord } from '../types.js';
import { finishDetail } from '../traffic/error-detail.js';

export interface FailureSample {
  scenario: string;
  class: ErrorClass;
  /** Status line and start of the body, or the transport's message; scrubbed. */
  message: string;
  count: number;
  /** ISO 8601. */
  firstAt: string;
  lastAt: string;
  /** True on the line that counts failures whose message was not kept (caps reached). */
  other?: true;
}

export interface FailureSamplesOptions {
  clock: Clock;
  /** Distinct messages kept per scenario×class. */
  perGroup: number;
  /** Distinct messages kept in all. */
  maxMessages: number;
  /** Secrets out of every message (the client scrubs already; this is the second line). */
  scrub?: (text: string) => string;
  /** Called once per newly kept message (the daemon logs it, rate-limited). */
  onNew?: (s: FailureSample) => void;
}

export const DEFAULT_PER_GROUP = 5;
export const DEFAULT_MAX_MESSAGES = 200;
/** The message of the line that holds failures past every cap. */
const OVERFLOW_SCENARIO = '*';
const OTHER_MESSAGES = '(other messages, not kept: caps reached)';

interface Entry {
  scenario: string;
  cls: ErrorClass;
  message: string;
  count: number;
  firstMs: number;
  lastMs: number;
}

/** What makes two messages the same: digit runs and long hex ids replaced. */
export function messageKey(message: string): string {
  return message.replace(/\b[0-9a-f]{8,}\b/gi, '#').replace(/[0-9]+/g, '#');
}

export class FailureSamples {
  /** scenario\0class → normalised message → entry. */
  private readonly groups = new Map<string, Map<string, Entry>>();
  /** scenario\0class → failures whose message was not kept. */
  private readonly others = new Map<string, Entry>();
  private kept = 0;

  constructor(private readonly o: FailureSamplesOptions) {}

  /** One finished request: failures are counted by message, successes ignored. */
  observe(r: RequestRecord): void {
    if (r.outcome === 'ok') return;
    const cls = r.outcome;
    const nowMs = this.o.clock.wallMs();
    const raw = r.errorDetail ?? (r.httpStatus !== undefined ? `${r.httpStatus} ${cls}` : cls);
    const message = finishDetail(this.o.scrub ? this.o.scrub(raw) : raw, undefined);
    const groupKey = `${r.scenario}\u0000${cls}`;
    const key = messageKey(message);
    let group = this.groups.get(groupKey);
    const hit = group?.get(key);
    if (hit !== undefined) {
      hit.count++;
      hit.lastMs = nowMs;
      return;
    }
    if (this.kept < this.o.maxMessages && (group === undefined || group.size < this.o.perGroup)) {
      if (group === undefined) this.groups.set(groupKey, (group = new Map()));
      const e: Entry = { scenario: r.scenario, cls, message, count: 1, firstMs: nowMs, lastMs: nowMs };
      group.set(key, e);
      this.kept++;
      this.o.onNew?.(sampleOf(e));
      return;
    }
    this.countOther(groupKey, r.scenario, cls, nowMs);
  }

  private countOther(groupKey: string, scenario: string, cls: ErrorClass, nowMs: number): void {
    let e = this.others.get(groupKey);
    if (e === undefined) {
      // The "other" lines are bounded too: past maxMessages of them, one line holds the rest.
      const full = this.others.size >= this.o.maxMessages;
      const k = full ? OVERFLOW_SCENARIO : groupKey;
      e = this.others.get(k);
      if (e === undefined) {
        e = { scenario: full ? OVERFLOW_SCENARIO : scenario, cls, message: OTHER_MESSAGES, count: 0, firstMs: nowMs, lastMs: nowMs };
        this.others.set(k, e);
      }
    }
    e.count++;
    e.lastMs = nowMs;
  }

  /** Messages kept (for tests and the status). */
  get size(): number {
    return this.kept;
  }

  /**
   * Every kept message seen in [fromMs, toMs] (default: all), most frequent
   * first, then the "other messages" lines. Counts are since the daemon
   * started (a message seen in the period also counts its earlier failures).
   */
  snapshot(fromMs = -Infinity, toMs = Infinity): FailureSample[] {
    const inRange = (e: Entry) => e.lastMs >= fromMs && e.firstMs <= toMs;
    const kept: FailureSample[] = [];
    for (const g of this.groups.values()) for (const e of g.values()) if (inRange(e)) kept.push(sampleOf(e));
    kept.sort((a, b) => b.count - a.count || a.firstAt.localeCompare(b.firstAt));
    const others = [...this.others.values()].filter(inRange).map((e) => ({ ...sampleOf(e), other: true as const }));
    others.sort((a, b) => b.count - a.count);
    return [...kept, ...others];
  }

  /** The most frequent kept message of a class among those seen since `sinceMs` (error-storm evidence). */
  top(cls: ErrorClass, sinceMs: number): FailureSample | undefined {
    let best: Entry | undefined;
    for (const g of this.groups.values()) {
      for (const e of g.values()) {
        if (e.cls !== cls || e.lastMs < sinceMs) continue;
        if (best === undefined || e.count > best.count) best = e;
      }
    }
    return best === undefined ? undefined : sampleOf(best);
  }
}

function sampleOf(e: Entry): FailureSample {
  return { scenario: e.scenario, class: e.cls, message: e.message, count: e.count, firstAt: new Date(e.firstMs).toISOString(), lastAt: new Date(e.lastMs).toISOString() };
}
