/**
 * Soak state survives restarts: every `intervalSec` and at shutdown, each
 * registered section (series store, analyzer baseline, hint tracker, run
 * totals; modes and schedules may add theirs) is copied in one event-loop
 * turn (a consistent snapshot) and written as one checkpoint file
 * (./checkpoint-file.ts: atomic, versioned, checksummed). At start the
 * newest usable checkpoint is loaded and each section restored, so a daemon
 * restarted after a crash resumes a 72-hour soak's trends and reports
 * instead of starting over.
 *
 * What is NOT resumed: Prometheus counters (they restart at zero, which is
 * how Prometheus expects a restarted process to look), in-flight requests
 * (they were lost with the process; the run totals say up to one interval
 * of data may be missing after a crash), and anything of another soak: a
 * checkpoint whose target differs, that is older than the store keeps, or
 * that comes from the future (clock went back), is set aside with one line.
 *
 * Never throws out of its loop; a failed write is logged once (until it
 * works again) and counted in `llmsoak_checkpoint_failures_total`.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Clock, type TimerHandle, type Timers, systemTimers } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { loadCheckpoint, writeCheckpoint, type CheckpointContents, type SectionData } from './checkpoint-file.js';

export type { SectionData };

/** One component's state in the checkpoint. */
export interface CheckpointSection {
  readonly name: string;
  /** A consistent copy of the state, now. Synchronous on purpose: no other code runs while it is taken. */
  save(): SectionData;
  /** Put back what save() returned before the restart. Throw when it cannot: the section then starts clean (one line). */
  restore(data: SectionData): void;
}

/** The soak this process belongs to, carried from checkpoint to checkpoint. */
export interface RunInfo {
  /** Random id of the soak (the same across restarts). */
  runId: string;
  /** When the soak started (before any restart), unix ms. */
  startedAtMs: number;
  /** Restarts resumed so far. */
  restarts: number;
  /** What is being soaked (the target URL, or "embedded"); a checkpoint of another target is not resumed. */
  identity: string;
}

export interface CheckpointerOptions {
  dir: string;
  /** Periodic checkpoints, s; 0 = only at shutdown. */
  intervalSec: number;
  /** Resume from the directory's checkpoint (false: start clean and replace it). */
  resume: boolean;
  /** A checkpoint older than this is of no use (the store has forgotten that far back), ms. */
  maxAgeMs: number;
  identity: string;
  version: string;
  clock: Clock;
  /** For the periodic checkpoints (the system's by default; unit tests drive a fake clock's). */
  timers?: Timers;
  logger: Logger;
  registry?: Registry;
  /** Applied to the JSON part before it is written (secrets a target echoed into label values stay out of the file). */
  scrub?: (json: string) => string;
}

export interface CheckpointStatus {
  dir: string;
  runId: string;
  runStartedAt: string;
  restarts: number;
  /** Where this process resumed from (absent: a new soak). */
  resumedFrom?: string;
  lastSavedAt?: string;
  lastBytes?: number;
  lastDurationMs?: number;
  failures: number;
  lastError?: string;
}

/** Data directories locked by this process (two daemons in one process must not share one either). */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Checkpointer {
  private readonly log: Logger;
  private readonly sections = new Map<string, CheckpointSection>();
  private loaded: CheckpointContents | undefined;
  private run: RunInfo;
  private resumedFrom: string | undefined;
  private timer: TimerHandle | undefined;
  private saving: Promise<void> | undefined;
  private failing = false;
  private failures = 0;
  private lastError: string | undefined;
  private lastSavedMs: number | undefined;
  private lastBytes: number | undefined;
  private lastDurationMs: number | undefined;
  private stopped = false;
  /** Another live llmsoak holds the directory: this one neither resumes nor writes. */
  private disabled = false;
  private locked = false;
  private readonly m: { failures?: Counter; lastSuccess?: Gauge; bytes?: Gauge; duration?: Gauge };

  constructor(private readonly o: CheckpointerOptions) {
    this.log = o.logger.child({ component: 'checkpoint' });
    this.run = { runId: randomBytes(6).toString('hex'), startedAtMs: o.clock.wallMs(), restarts: 0, identity: o.identity };
    const registers = o.registry ? [o.registry] : [];
    this.m = o.registry
      ? {
          failures: new Counter({ name: 'llmsoak_checkpoint_failures_total', help: 'Checkpoints of soak state that could not be written.', registers }),
          lastSuccess: new Gauge({ name: 'llmsoak_checkpoint_last_success_timestamp_seconds', help: 'When soak state was last checkpointed (unix seconds); 0 before the first.', registers }),
          bytes: new Gauge({ name: 'llmsoak_checkpoint_size_bytes', help: 'Size of the last checkpoint file, bytes.', registers }),
          duration: new Gauge({ name: 'llmsoak_checkpoint_duration_seconds', help: 'Time the last checkpoint took (copy, compress, write, fsync, rename), seconds.', registers }),
        }
      : {};
    this.m.failures?.inc(0);
    this.m.lastSuccess?.set(0);
  }

  /**
   * Load the directory's checkpoint (call once, before registering sections).
   * Logs exactly one line saying what happened: resumed, nothing there,
   * unusable (with the reason), or of another soak. Never throws.
   */
  async load(): Promise<RunInfo> {
    const holder = await this.lock();
    if (holder !== undefined) {
      this.disabled = true;
      this.log.warn({ dir: this.o.dir, pid: holder }, `another llmsoak (pid ${holder}) uses ${this.o.dir}: this one neither resumes nor writes checkpoints (give each daemon its own run.dataDir)`);
      return this.run;
    }
    if (!this.o.resume) {
      this.log.info({ dir: this.o.dir }, 'run.resume is false: starting a new soak (any checkpoint in the directory will be replaced)');
      return this.run;
    }
    const problems: string[] = [];
    let got: Awaited<ReturnType<typeof loadCheckpoint>>;
    try {
      got = await loadCheckpoint(this.o.dir, problems);
    } catch (err) {
      problems.push(errorMessage(err));
    }
    // Unusable files are set aside (kept for a post-mortem, out of the way of the next save).
    for (const p of problems) {
      const file = p.slice(0, p.indexOf(': '));
      if (file) await rename(file, `${file}.corrupt`).catch(() => undefined);
    }
    const now = this.o.clock.wallMs();
    if (got === undefined) {
      if (problems.length > 0) this.log.warn({ problems }, `checkpoint unusable, starting a new soak: ${problems.join('; ')}`);
      else this.log.info({ dir: this.o.dir }, 'no checkpoint: starting a new soak');
      return this.run;
    }
    const runSection = got.sections.get('run')?.json as RunInfo | undefined;
    const ageMs = now - got.createdAtMs;
    let reason: string | undefined;
    if (!runSection || typeof runSection.runId !== 'string') reason = 'it has no run section';
    else if (runSection.identity !== this.o.identity) reason = `it is of another target (${runSection.identity})`;
    else if (ageMs > this.o.maxAgeMs) reason = `it is ${Math.round(ageMs / 3_600_000)} h old, older than the store keeps`;
    else if (ageMs < -60_000) reason = 'it was written in the future (the clock went back)';
    if (reason !== undefined || !runSection) {
      this.log.warn({ file: got.file }, `checkpoint not resumed (${reason ?? 'unknown'}): starting a new soak; it will be replaced`);
      return this.run;
    }
    this.loaded = got;
    this.run = { ...runSection, restarts: runSection.restarts + 1 };
    this.resumedFrom = got.file;
    const extra = problems.length > 0 ? ` (after: ${problems.join('; ')})` : '';
    this.log.info(
      { file: got.file, runId: this.run.runId, ageSec: Math.round(ageMs / 1000), restarts: this.run.restarts, sections: [...got.sections.keys()] },
      `resuming soak ${this.run.runId} started ${new Date(this.run.startedAtMs).toISOString()} from a checkpoint written ${Math.round(ageMs / 1000)} s ago, restart #${this.run.restarts}${extra}`,
    );
    return this.run;
  }

  get runInfo(): RunInfo {
    return { ...this.run };
  }

  /** The loaded checkpoint has this section (a component can then build itself from it). */
  loadedSection(name: string): SectionData | undefined {
    return this.loaded?.sections.get(name);
  }

  /**
   * Register a section; restores it at once when the loaded checkpoint has
   * it. Returns whether it was restored. A failed restore is one log line and
   * the section starts clean. Register before start(): the loaded checkpoint
   * is dropped then (a section registered later starts clean).
   */
  register(section: CheckpointSection): boolean {
    if (section.name === 'run') throw new Error('Checkpointer: "run" is reserved');
    this.sections.set(section.name, section);
    const data = this.loaded?.sections.get(section.name);
    if (data === undefined) return false;
    try {
      section.restore(data);
      return true;
    } catch (err) {
      this.log.warn({ section: section.name, err: errorMessage(err) }, `checkpoint section ${section.name} not restored (${errorMessage(err)}); it starts clean`);
      return false;
    }
  }

  /** Periodic checkpoints from now on (timer unref'd: it never keeps the process alive). */
  start(): void {
    // The loaded contents are no longer needed once every section has been restored.
    this.loaded = undefined;
    if (this.o.intervalSec <= 0 || this.timer) return;
    this.schedule();
  }

  /** The next periodic checkpoint, one interval after this one was due (a save in progress is joined, never doubled). */
  private schedule(): void {
    const timers = this.o.timers ?? systemTimers;
    this.timer = timers.setTimeout(() => {
      if (this.stopped) return;
      void this.save();
      this.schedule();
    }, this.o.intervalSec * 1000);
    this.timer.unref?.();
  }

  /**
   * Take `llmsoak.lock` in the directory (pid inside). Returns the pid of a
   * live holder when another process has it; a lock left by a dead process
   * (kill -9) is taken over.
   */
  private async lock(): Promise<number | undefined> {
    const file = join(this.o.dir, 'llmsoak.lock');
    if (heldHere.has(resolve(this.o.dir))) return process.pid;
    try {
      await mkdir(this.o.dir, { recursive: true });
    } catch (err) {
      this.failed(err);
      return undefined;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(file, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        this.locked = true;
        heldHere.add(resolve(this.o.dir));
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          this.failed(err);
          return undefined;
        }
      }
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return pid;
      await rm(file, { force: true });
    }
    return undefined;
  }

  /** Write a checkpoint now (joins one in progress). Never rejects. */
  save(): Promise<void> {
    if (this.disabled) return Promise.resolve();
    if (this.saving) return this.saving;
    const t0 = this.o.clock.monoNs();
    const now = this.o.clock.wallMs();
    let data: Map<string, SectionData>;
    try {
      data = new Map([['run', { json: this.run }]]);
      for (const [name, s] of this.sections) data.set(name, s.save());
    } catch (err) {
      this.failed(err);
      return Promise.resolve();
    }
    this.saving = writeCheckpoint(this.o.dir, data, { version: this.o.version, nowMs: now, ...(this.o.scrub ? { scrub: this.o.scrub } : {}) })
      .then(
        (bytes) => {
          const ms = Number(this.o.clock.monoNs() - t0) / 1e6;
          this.lastSavedMs = now;
          this.lastBytes = bytes;
          this.lastDurationMs = ms;
          this.m.lastSuccess?.set(now / 1000);
          this.m.bytes?.set(bytes);
          this.m.duration?.set(ms / 1000);
          if (this.failing) this.log.info({ dir: this.o.dir }, 'checkpoints written again');
          else this.log.debug({ bytes, ms: Math.round(ms) }, 'checkpoint written');
          this.failing = false;
        },
        (err: unknown) => this.failed(err),
      )
      .finally(() => {
        this.saving = undefined;
      });
    return this.saving;
  }

  private failed(err: unknown): void {
    this.failures++;
    this.lastError = errorMessage(err);
    this.m.failures?.inc();
    if (!this.failing) this.log.warn({ dir: this.o.dir, err: this.lastError }, `cannot write a checkpoint (${this.lastError}); soak state would be lost on a restart (logged once until it works)`);
    this.failing = true;
  }

  /** Stop the timer and write the final checkpoint. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) (this.o.timers ?? systemTimers).clearTimeout(this.timer);
    if (this.disabled) return;
    await this.saving;
    await this.save();
    if (!this.failing) this.log.info({ dir: this.o.dir, bytes: this.lastBytes }, 'final checkpoint written');
    if (this.locked) {
      await rm(join(this.o.dir, 'llmsoak.lock'), { force: true }).catch(() => undefined);
      heldHere.delete(resolve(this.o.dir));
    }
  }

  status(): CheckpointStatus {
    const s: CheckpointStatus = {
      dir: this.o.dir,
      runId: this.run.runId,
      runStartedAt: new Date(this.run.startedAtMs).toISOString(),
      restarts: this.run.restarts,
      failures: this.failures,
    };
    if (this.resumedFrom !== undefined) s.resumedFrom = this.resumedFrom;
    if (this.lastSavedMs !== undefined) s.lastSavedAt = new Date(this.lastSavedMs).toISOString();
    if (this.lastBytes !== undefined) s.lastBytes = this.lastBytes;
    if (this.lastDurationMs !== undefined) s.lastDurationMs = Math.round(this.lastDurationMs * 10) / 10;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }
}
