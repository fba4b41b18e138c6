/**
 * Linux /proc parsing for the host and process collectors: pure functions over
 * file contents (unit-testable with fixtures) plus small readers: async ones
 * for the host collectors, synchronous ones for the process collector's walk
 * over every pid (readTextSync says why).
 * Reading /proc is a handful of cheap syscalls: no child process is spawned.
 */
import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * USER_HZ: the unit of the tick counts in /proc/<pid>/stat and /proc/stat.
 * The kernel exports these in USER_HZ, which is 100 on every mainstream Linux
 * architecture (x86, arm64, ppc64le, s390x, riscv) regardless of CONFIG_HZ.
 */
export const USER_HZ = 100;

/**
 * Reusable read buffers. /proc files report size 0, so readFile() allocates a
 * fresh 64 KiB buffer for each one; the process collector reads /proc/<pid>/stat
 * of every process each interval, and those megabytes of short-lived external
 * memory made V8 run a full mark-compact every couple of seconds (measured: 23
 * a minute at a 1 s interval, 1 without it), which delays the traffic engine.
 */
const READ_CHUNK = 16 * 1024;
const freeBuffers: Buffer[] = [];

export async function readText(path: string, signal?: AbortSignal): Promise<string> {
  signal?.throwIfAborted();
  const fh = await open(path, 'r');
  const buf = freeBuffers.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
  try {
    let parts: Buffer[] | undefined;
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) {
        // Larger than one chunk (a long cmdline, /proc/net/tcp): keep a copy and go on.
        (parts ??= []).push(Buffer.from(buf.subarray(0, n)));
        n = 0;
      }
      signal?.throwIfAborted();
    }
    if (parts === undefined) return buf.toString('utf8', 0, n);
    parts.push(buf.subarray(0, n));
    return Buffer.concat(parts).toString('utf8');
  } finally {
    freeBuffers.push(buf);
    await fh.close();
  }
}

/** Reads a file; undefined when it does not exist or cannot be read. */
export async function readOptional(path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await readText(path, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    return undefined;
  }
}

// ---------------------------------------------------------------- /proc/stat

export interface CpuTimes {
  /** Ticks spent doing anything but idle and iowait. */
  busy: number;
  /** All ticks. */
  total: number;
}

/** The aggregate `cpu` line of /proc/stat. */
export function parseProcStatCpu(text: string): CpuTimes | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu ')) continue;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    // guest time is already included in user/nice.
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    if (!Number.isFinite(total)) return undefined;
    return { busy: total - idle - iowait, total };
  }
  return undefined;
}

/** `btime` of /proc/stat: boot time, seconds since the epoch. */
export function parseBootTime(text: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('btime ')) {
      const v = Number(line.slice(6).trim());
      return Number.isFinite(v) ? v : undefined;
    }
  }
  return undefined;
}

// ------------------------------------------------------------- /proc/meminfo

/** /proc/meminfo as bytes per key (values given in kB are converted). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const parts = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const v = Number(parts[0]);
    if (!Number.isFinite(v)) continue;
    out.set(line.slice(0, colon), parts[1] === 'kB' ? v * 1024 : v);
  }
  return out;
}

// ------------------------------------------------------------- /proc/loadavg

export function parseLoadavg(text: string): number | undefined {
  const v = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(v) ? v : undefined;
}

// ------------------------------------------------------------- /proc/net/dev

export interface NetDevCounters {
  device: string;
  receiveBytes: number;
  transmitBytes: number;
}

export function parseNetDev(text: string): NetDevCounters[] {
  const out: NetDevCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.includes('|')) continue;
    const device = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const rx = f[0];
    const tx = f[8];
    if (device === '' || rx === undefined || tx === undefined || !Number.isFinite(rx) || !Number.isFinite(tx)) continue;
    out.push({ device, receiveBytes: rx, transmitBytes: tx });
  }
  return out;
}

// ----------------------------------------------------------- /proc/diskstats

export interface DiskCounters {
  device: string;
  readBytes: number;
  writtenBytes: number;
}

/** /proc/diskstats counts sectors of 512 bytes, whatever the device's sector size. */
export function parseDiskstats(text: string): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const device = f[2] ?? '';
    const sectorsRead = Number(f[5]);
    const sectorsWritten = Number(f[9]);
    if (device === '' || !Number.isFinite(sectorsRead) || !Number.isFinite(sectorsWritten)) continue;
    out.push({ device, readBytes: sectorsRead * 512, writtenBytes: sectorsWritten * 512 });
  }
  return out;
}

// ------------------------------------------------------------ /proc/pressure

export interface Pressure {
  /** "some": time at least one task was stalled, seconds. */
  someSeconds?: number;
  /** "full": time all non-idle tasks were stalled at once, seconds. */
  fullSeconds?: number;
}

/** A /proc/pressure/{cpu,memory,io} file; totals are in microseconds there. */
export function parsePressure(text: string): Pressure {
  const out: Pressure = {};
  for (const line of text.split('\n')) {
    const kind = line.startsWith('some ') ? 'some' : line.startsWith('full ') ? 'full' : undefined;
    if (kind === undefined) continue;
    const m = /\btotal=(\d+)/.exec(line);
    if (m?.[1] === undefined) continue;
    const s = Number(m[1]) / 1e6;
    if (kind === 'some') out.someSeconds = s;
    else out.fullSeconds = s;
  }
  return out;
}

// ------------------------------------------------------- /proc/<pid>/stat etc

export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** user + system CPU time, ticks (USER_HZ). */
  cpuTicks: number;
  numThreads: number;
  /** Start time after boot, ticks (USER_HZ). */
  startTicks: number;
}

/** /proc/<pid>/stat. The comm field may hold spaces and parentheses: cut at the LAST ')'. */
export function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // fields after comm, numbered from 3 (state) as in proc(5)
  const f = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const at = (n: number): number => Number(f[n - 3]);
  const st: PidStat = {
    pid,
    comm,
    state: f[0] ?? '?',
    ppid: at(4),
    cpuTicks: at(14) + at(15),
    numThreads: at(20),
    startTicks: at(22),
  };
  if (!Number.isFinite(st.pid) || !Number.isFinite(st.ppid) || !Number.isFinite(st.cpuTicks) || !Number.isFinite(st.startTicks)) {
    return undefined;
  }
  return st;
}

/** VmRSS of /proc/<pid>/status in bytes (undefined for kernel threads / zombies). */
export function parseStatusRss(text: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
}

/** /proc/<pid>/cmdline: NUL-separated argv → one space-separated string. */
export function parseCmdline(raw: string): string {
  return raw.replace(/\0+$/, '').split('\0').join(' ');
}

/**
 * Synchronous reads for the process collector's walk over every pid. /proc
 * files are generated in memory and never wait on a device, so one is a few
 * microseconds of kernel time; the promise API spends four thread-pool round
 * trips on each (open, read, read, close). Measured with `npm run
 * bench-collector-cost` (90 pids): one pass of the process collector with its
 * descendants took 7.3 ms of CPU through the promise API; see docs/footprint.md
 * for the figures after. The walk blocks the main thread for that time; the
 * traffic engine runs in its own thread.
 */
export function readTextSync(path: string): string {
  const fd = openSync(path, 'r');
  const buf = freeBuffers.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
  try {
    let parts: Buffer[] | undefined;
    let n = 0;
    for (;;) {
      const bytesRead = readSync(fd, buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) {
        (parts ??= []).push(Buffer.from(buf.subarray(0, n)));
        n = 0;
      }
    }
    if (parts === undefined) return buf.toString('utf8', 0, n);
    parts.push(buf.subarray(0, n));
    return Buffer.concat(parts).toString('utf8');
  } finally {
    freeBuffers.push(buf);
    closeSync(fd);
  }
}

/** readTextSync; undefined when the file does not exist or cannot be read (a process that just exited). */
export function readOptionalSync(path: string): string | undefined {
  try {
    return readTextSync(path);
  } catch {
    return undefined;
  }
}

/** Numeric entries of /proc. */
export function listPids(procRoot: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync(procRoot)) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(n);
    if (Number.isInteger(pid)) out.push(pid);
  }
  return out;
}

export function readPidStat(procRoot: string, pid: number): PidStat | undefined {
  const t = readOptionalSync(join(procRoot, String(pid), 'stat'));
  return t === undefined ? undefined : parsePidStat(t);
}

/** Number of open descriptors; undefined when /proc/<pid>/fd cannot be listed (permission). */
export function countFds(procRoot: string, pid: number): number | undefined {
  try {
    return readdirSync(join(procRoot, String(pid), 'fd')).length;
  } catch {
    return undefined;
  }
}
