/**
 * Host limits that connection storms hit (part of the host collector, Linux
 * /proc only): TCP retransmits and listen-queue overflows, sockets in use,
 * file descriptors against the system limit, and ephemeral ports in use
 * against the local port range. A few small async reads per interval; the
 * socket tables (/proc/net/tcp, tcp6: one line per socket) are read once per
 * interval and scanned without splitting them into arrays.
 *
 * Series:
 *   llmsoak_host_tcp_retransmits_total           Tcp RetransSegs (/proc/net/snmp)
 *   llmsoak_host_tcp_listen_overflows_total      TcpExt ListenOverflows (/proc/net/netstat): accept queue full
 *   llmsoak_host_tcp_listen_drops_total          TcpExt ListenDrops: SYNs dropped at a listener (overflows included)
 *   llmsoak_host_sockets_in_use{protocol}        tcp, tcp6, udp, udp6 (/proc/net/sockstat, sockstat6)
 *   llmsoak_host_tcp_time_wait_sockets           TCP sockets in TIME_WAIT (they hold their port)
 *   llmsoak_host_file_descriptors_open           allocated − free handles (/proc/sys/fs/file-nr)
 *   llmsoak_host_file_descriptors_limit          fs.file-max
 *   llmsoak_host_ephemeral_ports_in_use          distinct local TCP ports inside the range, any state
 *   llmsoak_host_ephemeral_ports_range           size of net.ipv4.ip_local_port_range
 * llmsoak's own descriptors against its RLIMIT_NOFILE are prom-client's
 * default `process_open_fds` and `process_max_fds` (read from /proc/self/fd
 * and /proc/self/limits), already on /metrics: not repeated here.
 * Counters mirror the kernel's totals (first sample included), never decreasing.
 */
import { join } from 'node:path';
import type { Gauge, Registry } from 'prom-client';
import { DeltaTracker, MonotonicCounter, SnapshotGauge, getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';
import { readOptional } from './procfs.js';

// ------------------------------------------------------------------ parsers

/**
 * /proc/net/snmp and /proc/net/netstat: pairs of lines, names then values,
 * both prefixed by the section ("Tcp:", "TcpExt:"). → section → name → value.
 */
export function parseNetstatPairs(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i] as string;
    const vals = lines[i + 1] as string;
    const colon = head.indexOf(':');
    if (colon <= 0 || !vals.startsWith(head.slice(0, colon + 1))) continue;
    const names = head
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const values = vals
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (names.length !== values.length || names.some((n) => /^-?\d+$/.test(n))) continue;
    const m = new Map<string, number>();
    names.forEach((n, k) => {
      const v = Number(values[k]);
      if (Number.isFinite(v)) m.set(n, v);
    });
    out.set(head.slice(0, colon), m);
    i++;
  }
  return out;
}

export interface Sockstat {
  /** protocol (lower case, e.g. "tcp", "udp", "tcp6") → sockets in use. */
  inUse: Map<string, number>;
  /** TCP sockets in TIME_WAIT (the "tw" of the TCP line). */
  timeWait?: number;
}

/** /proc/net/sockstat or sockstat6: "TCP: inuse 177 orphan 0 tw 16 alloc 177 mem 0". */
export function parseSockstat(text: string): Sockstat {
  const out: Sockstat = { inUse: new Map() };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const proto = line.slice(0, colon).trim().toLowerCase();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    for (let k = 0; k + 1 < f.length; k += 2) {
      const v = Number(f[k + 1]);
      if (!Number.isFinite(v)) continue;
      if (f[k] === 'inuse') out.inUse.set(proto, v);
      if (f[k] === 'tw' && proto === 'tcp') out.timeWait = v;
    }
  }
  return out;
}

/** /proc/sys/fs/file-nr: "allocated free max" → open = allocated − free. */
export function parseFileNr(text: string): { open: number; limit: number } | undefined {
  const [alloc, free, max] = text.trim().split(/\s+/).map(Number);
  if (alloc === undefined || free === undefined || max === undefined || ![alloc, free, max].every(Number.isFinite)) return undefined;
  return { open: alloc - free, limit: max };
}

/** /proc/sys/net/ipv4/ip_local_port_range: "32768\t60999" (inclusive). */
export function parsePortRange(text: string): { low: number; high: number } | undefined {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  if (low === undefined || high === undefined || !Number.isInteger(low) || !Number.isInteger(high) || high < low) return undefined;
  return { low, high };
}

/**
 * Adds to `ports` the local ports inside [low, high] of the sockets listed
 * in a /proc/net/tcp or tcp6 table (" 1: 0100007F:B203 00000000:0000 0A …",
 * IPv6 addresses being 32 hex digits). Scans by index: no per-line arrays.
 */
export function collectLocalPorts(text: string, low: number, high: number, ports: Set<number>): void {
  let pos = text.indexOf('\n') + 1; // header line
  while (pos > 0 && pos < text.length) {
    const end = text.indexOf('\n', pos);
    const stop = end < 0 ? text.length : end;
    const sl = text.indexOf(': ', pos);
    if (sl >= 0 && sl < stop) {
      const addrEnd = text.indexOf(' ', sl + 2);
      const colon = text.lastIndexOf(':', addrEnd);
      if (addrEnd > 0 && addrEnd <= stop && colon > sl + 1) {
        const port = parseInt(text.slice(colon + 1, addrEnd), 16);
        if (port >= low && port <= high) ports.add(port);
      }
    }
    pos = end < 0 ? text.length : end + 1;
  }
}

// ------------------------------------------------------------------ series

export class HostLimits {
  private readonly retrans: MonotonicCounter<never>;
  private readonly overflows: MonotonicCounter<never>;
  private readonly drops: MonotonicCounter<never>;
  private readonly sockets: SnapshotGauge<'protocol'>;
  private readonly timeWait: Gauge;
  private readonly fdsOpen: Gauge;
  private readonly fdsLimit: Gauge;
  private readonly portsInUse: Gauge;
  private readonly portsRange: Gauge;
  private readonly deltas = new DeltaTracker();

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => new MonotonicCounter(getOrCreateCounter<never>(registry, name, help, []));
    const gauge = (name: string, help: string) => getOrCreateGauge(registry, name, help, []);
    this.retrans = counter('llmsoak_host_tcp_retransmits_total', 'TCP segments retransmitted by the host (Tcp RetransSegs).');
    this.overflows = counter('llmsoak_host_tcp_listen_overflows_total', "Connections dropped because a listener's accept queue was full (TcpExt ListenOverflows).");
    this.drops = counter('llmsoak_host_tcp_listen_drops_total', 'SYNs dropped at a listening socket, overflows included (TcpExt ListenDrops).');
    this.sockets = new SnapshotGauge(getOrCreateGauge(registry, 'llmsoak_host_sockets_in_use', 'Sockets in use on the host, by protocol (sockstat inuse).', ['protocol']));
    this.timeWait = gauge('llmsoak_host_tcp_time_wait_sockets', 'TCP sockets in TIME_WAIT on the host (each holds its local port).');
    this.fdsOpen = gauge('llmsoak_host_file_descriptors_open', 'File handles allocated on the host and in use (fs.file-nr).');
    this.fdsLimit = gauge('llmsoak_host_file_descriptors_limit', 'Most file handles the host allows (fs.file-max).');
    this.portsInUse = gauge('llmsoak_host_ephemeral_ports_in_use', 'Distinct local TCP ports inside the ephemeral port range held by a socket (any state, TIME_WAIT included).');
    this.portsRange = gauge('llmsoak_host_ephemeral_ports_range', 'Number of ports in the ephemeral range (net.ipv4.ip_local_port_range).');
  }

  /** One collection; a file that cannot be read leaves its series out (an older kernel, a sandbox). */
  async collect(procRoot: string, signal: AbortSignal): Promise<void> {
    const net = (f: string) => readOptional(join(procRoot, 'net', f), signal);
    const [snmp, netstat, sockstat, sockstat6, fileNr, portRange] = await Promise.all([
      net('snmp'),
      net('netstat'),
      net('sockstat'),
      net('sockstat6'),
      readOptional(join(procRoot, 'sys', 'fs', 'file-nr'), signal),
      readOptional(join(procRoot, 'sys', 'net', 'ipv4', 'ip_local_port_range'), signal),
    ]);
    if (signal.aborted) return;
    const total = (c: MonotonicCounter<never>, key: string, v: number | undefined) => {
      if (v !== undefined) c.add({}, this.deltas.delta(key, v, 'full'));
    };
    if (snmp !== undefined) total(this.retrans, 'retrans', parseNetstatPairs(snmp).get('Tcp')?.get('RetransSegs'));
    if (netstat !== undefined) {
      const ext = parseNetstatPairs(netstat).get('TcpExt');
      total(this.overflows, 'overflows', ext?.get('ListenOverflows'));
      total(this.drops, 'drops', ext?.get('ListenDrops'));
    }
    for (const text of [sockstat, sockstat6]) {
      if (text === undefined) continue;
      const s = parseSockstat(text);
      for (const proto of ['tcp', 'udp', 'tcp6', 'udp6']) this.sockets.set({ protocol: proto }, s.inUse.get(proto));
      if (s.timeWait !== undefined) this.timeWait.set(s.timeWait);
    }
    this.sockets.commit();
    const fds = fileNr === undefined ? undefined : parseFileNr(fileNr);
    if (fds !== undefined) {
      this.fdsOpen.set(fds.open);
      this.fdsLimit.set(fds.limit);
    }
    const range = portRange === undefined ? undefined : parsePortRange(portRange);
    if (range !== undefined) {
      this.portsRange.set(range.high - range.low + 1);
      // Read one table at a time: a busy host's table is megabytes.
      const ports = new Set<number>();
      let seen = false;
      for (const f of ['tcp', 'tcp6']) {
        const text = await net(f);
        if (text === undefined || signal.aborted) continue;
        seen = true;
        collectLocalPorts(text, range.low, range.high, ports);
      }
      if (seen) this.portsInUse.set(ports.size);
    }
    this.deltas.sweep();
  }
}
