/**
 * One log line per new distinct failure message, rate-limited: at most
 * `perMinute` lines in any minute; the messages past it are counted and the
 * next line that may be written says how many were not logged (they are all
 * in /api/status and the reports). A target that invents a new message per
 * request cannot flood the log.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { FailureSample } from './samples.js';

export const DEFAULT_ANNOUNCE_PER_MINUTE = 10;

export class FailureAnnouncer {
  private readonly log: Logger;
  private windowStartMs = -Infinity;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    logger: Logger,
    private readonly clock: Clock,
    private readonly perMinute = DEFAULT_ANNOUNCE_PER_MINUTE,
  ) {
    this.log = logger.child({ component: 'failures' });
  }

  announce(s: FailureSample): void {
    const now = this.clock.wallMs();
    if (now - this.windowStartMs >= 60_000) {
      this.windowStartMs = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perMinute) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    const more = this.suppressed;
    this.suppressed = 0;
    this.log.warn(
      { scenario: s.scenario, class: s.class, ...(more > 0 ? { notLogged: more } : {}) },
      `${s.scenario}: new ${s.class} message: ${s.message}${more > 0 ? ` (and ${more} earlier new message(s) not logged; all in /api/status)` : ''}`,
    );
  }
}
