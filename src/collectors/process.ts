/**
 * Target-process collector: the inference server's process (and, by default,
 * its descendants: vLLM runs its engine core and API servers as child
 * processes), read from /proc/<pid>/{stat,status,fd} — no child spawned.
 *
 * Finding the target, every run:
 *  1. an explicit pid (config, else `target.pid` from the daemon — read anew
 *     each time, so the daemon may update it when it restarts its simulator);
 *  2. else/when that pid is gone: a regex over /proc/<pid>/cmdline (and comm);
 *     among matches the root-most (no matching ancestor), oldest one wins.
 *     Our own process is never a match.
 * The identity is pid + start time, so a recycled pid is not mistaken for the
 * target; a dead target is re-resolved on the next run.
 *
 * Series, label `process` (the configured label, else the target's comm,
 * sanitised and at most 32 characters):
 *   llmsoak_target_process_resident_memory_bytes  sum of VmRSS over the tree
 *   llmsoak_target_process_cpu_seconds_total      user+system CPU, per-pid deltas summed
 *                                                 (a child's exit or the target's restart
 *                                                 never makes it go down)
 *   llmsoak_target_process_open_fds               sum over the tree (absent without permission)
 *   llmsoak_target_process_threads                sum over the tree
 *   llmsoak_target_process_start_time_seconds     start of the root process, seconds since the epoch
 * Absent target: these gauges are removed, last_success 0, one log line.
 */
import { join } from 'node:path';
import type { Gauge } from 'prom-client';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';
import { DeltaTracker, MonotonicCounter, SnapshotGauge, getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';
import { BoundedLabel } from '../metrics/bounded-label.js';
import { USER_HZ, countFds, listPids, parseBootTime, parseCmdline, parseStatusRss, readOptionalSync, readPidStat, readTextSync, type PidStat } from './procfs.js';

export interface ProcessCollectorOptions extends PeriodicOptions {
  procRoot: string;
  /** Explicit pid, read at every resolution (may change). */
  pid: () => number | undefined;
  /** Regex over the command line (argv joined by spaces) or comm. */
  pattern?: RegExp;
  /** Value of the `process` label; default: the target's comm. */
  label?: string;
  /** Include every descendant of the target in the sums. */
  includeChildren: boolean;
  /** After every successful run: the target's start time, seconds since the epoch (restart detection). */
  onStartTime?: (sec: number) => void;
}

interface Target {
  pid: number;
  startTicks: number;
  label: string;
}

const LABEL_MAX = 32;

export function sanitizeLabel(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, LABEL_MAX);
  return clean === '' ? 'target' : clean;
}

export class ProcessCollector extends PeriodicCollector {
  private readonly opts: ProcessCollectorOptions;
  private readonly rss: SnapshotGauge<'process'>;
  private readonly fds: SnapshotGauge<'process'>;
  private readonly threads: SnapshotGauge<'process'>;
  private readonly startTime: SnapshotGauge<'process'>;
  private readonly cpu: MonotonicCounter<'process'>;
  private readonly cpuDeltas = new DeltaTracker();
  /** The target's comm can change with every redeploy: at most 8 distinct `process` values, the rest `other`. */
  private readonly processLabel = new BoundedLabel('process', 8, 32);
  private target: Target | undefined;
  private bootTime: number | undefined;

  constructor(opts: ProcessCollectorOptions) {
    super('process', opts);
    this.opts = opts;
    const r = opts.registry;
    const g = (name: string, help: string): SnapshotGauge<'process'> => new SnapshotGauge(getOrCreateGauge(r, name, help, ['process']) as Gauge<'process'>);
    this.rss = g('llmsoak_target_process_resident_memory_bytes', 'Resident memory of the target process (and its descendants), bytes.');
    this.fds = g('llmsoak_target_process_open_fds', 'Open file descriptors of the target process (and its descendants).');
    this.threads = g('llmsoak_target_process_threads', 'Threads of the target process (and its descendants).');
    this.startTime = g('llmsoak_target_process_start_time_seconds', 'Start time of the target process, seconds since the epoch.');
    this.cpu = new MonotonicCounter(getOrCreateCounter(r, 'llmsoak_target_process_cpu_seconds_total', 'User and system CPU time of the target process (and its descendants), seconds.', ['process']));
  }

  /** The pid currently watched (for tests and status pages). */
  get currentPid(): number | undefined {
    return this.target?.pid;
  }

  // Synchronous: every /proc read here is in-memory and short (see readTextSync in procfs.ts).
  protected async collect(signal: AbortSignal): Promise<RunResult> {
    const p = this.opts.procRoot;
    if (this.bootTime === undefined) this.bootTime = parseBootTime(readTextSync(join(p, 'stat')));

    let rootStat = this.target ? readPidStat(p, this.target.pid) : undefined;
    if (this.target && (rootStat === undefined || rootStat.startTicks !== this.target.startTicks || rootStat.state === 'Z')) {
      this.log.debug({ pid: this.target.pid }, 'target process is gone');
      this.target = undefined;
      rootStat = undefined;
    }
    // an explicit pid that changed (daemon restarted its simulator) wins over the current target
    const wanted = this.opts.pid();
    if (this.target && wanted !== undefined && wanted !== this.target.pid) {
      this.target = undefined;
      rootStat = undefined;
    }
    if (this.target === undefined) {
      const found = this.resolve();
      if (found === undefined) return this.absent(wanted);
      this.target = { pid: found.pid, startTicks: found.startTicks, label: this.opts.label ?? this.processLabel.value(sanitizeLabel(found.comm)) };
      rootStat = found;
      this.log.debug({ pid: found.pid, label: this.target.label }, 'target process resolved');
    }
    if (rootStat === undefined) return this.absent(wanted);
    const target = this.target;

    const tree = this.opts.includeChildren ? this.descendants(rootStat) : [rootStat];
    const perPid = tree.map((st) => {
      const status = readOptionalSync(join(p, String(st.pid), 'status'));
      return { st, rss: status === undefined ? undefined : parseStatusRss(status), fds: countFds(p, st.pid) };
    });
    if (signal.aborted) return fail('aborted');

    let rss = 0;
    let threads = 0;
    let fds: number | undefined = 0;
    const labels = { process: target.label };
    for (const e of perPid) {
      rss += e.rss ?? 0;
      threads += Number.isFinite(e.st.numThreads) ? e.st.numThreads : 0;
      if (e.fds === undefined) {
        if (e.st.pid === rootStat.pid) fds = undefined; // no permission: absent, not a wrong number
      } else if (fds !== undefined) {
        fds += e.fds;
      }
      const d = this.cpuDeltas.delta(`${e.st.pid}/${e.st.startTicks}`, e.st.cpuTicks / USER_HZ, 'full');
      this.cpu.add(labels, d);
    }
    this.cpuDeltas.sweep();
    this.rss.set(labels, rss);
    this.threads.set(labels, threads);
    this.fds.set(labels, fds);
    if (this.bootTime !== undefined) {
      const started = this.bootTime + rootStat.startTicks / USER_HZ;
      this.startTime.set(labels, started);
      this.opts.onStartTime?.(started);
    }
    this.commit();
    return OK;
  }

  private commit(): void {
    this.rss.commit();
    this.threads.commit();
    this.fds.commit();
    this.startTime.commit();
  }

  private absent(wanted: number | undefined): RunResult {
    this.commit(); // nothing set this round: the stale values go away
    const what = [wanted !== undefined ? `pid ${wanted} not running` : undefined, this.opts.pattern ? `no process matches /${this.opts.pattern.source}/` : undefined]
      .filter((s): s is string => s !== undefined)
      .join(' and ');
    return fail(`target process not found (${what || 'no pid or pattern configured'})`);
  }

  private resolve(): PidStat | undefined {
    const p = this.opts.procRoot;
    const wanted = this.opts.pid();
    if (wanted !== undefined) {
      const st = readPidStat(p, wanted);
      if (st !== undefined && st.state !== 'Z') return st;
    }
    const re = this.opts.pattern;
    if (re === undefined) return undefined;
    const matches: PidStat[] = [];
    for (const pid of listPids(p)) {
      if (pid === process.pid) continue;
      const raw = readOptionalSync(join(p, String(pid), 'cmdline'));
      if (raw === undefined) continue;
      const cmd = parseCmdline(raw);
      if (cmd === '') continue; // kernel thread
      const st = readPidStat(p, pid);
      if (st !== undefined && st.state !== 'Z' && (re.test(cmd) || re.test(st.comm))) matches.push(st);
    }
    if (matches.length === 0) return undefined;
    const matchPids = new Set(matches.map((m) => m.pid));
    const roots = matches.filter((m) => !matchPids.has(m.ppid));
    const pool = roots.length > 0 ? roots : matches;
    pool.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid);
    return pool[0];
  }

  /** The root and every descendant (one pass over /proc/<pid>/stat). */
  private descendants(root: PidStat): PidStat[] {
    const p = this.opts.procRoot;
    const stats = listPids(p)
      .map((pid) => readPidStat(p, pid))
      .filter((s): s is PidStat => s !== undefined && s.state !== 'Z');
    const children = new Map<number, PidStat[]>();
    for (const s of stats) {
      if (s.pid === root.pid) continue;
      let list = children.get(s.ppid);
      if (list === undefined) children.set(s.ppid, (list = []));
      list.push(s);
    }
    const out: PidStat[] = [root];
    const seen = new Set<number>([root.pid]);
    for (let i = 0; i < out.length; i++) {
      const cur = out[i] as PidStat;
      for (const c of children.get(cur.pid) ?? []) {
        if (!seen.has(c.pid)) {
          seen.add(c.pid);
          out.push(c);
        }
      }
    }
    return out;
  }
}
