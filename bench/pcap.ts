/**
 * Just enough of a loopback capture to judge llmsoak by the wire: reads a
 * classic pcap file (µs or ns timestamps, Ethernet or Linux "cooked" or null
 * link), IPv4/IPv6 + TCP, and reassembles each direction of each connection
 * by sequence number, keeping for every byte the capture time of the packet
 * that first carried it.
 */
import { readFileSync } from 'node:fs';

/** One direction of one TCP connection, reassembled. */
export interface TcpStream {
  /** "srcPort>dstPort" (loopback: the addresses are the same). */
  key: string;
  srcPort: number;
  dstPort: number;
  /** The payload in order, retransmissions and overlaps dropped. */
  bytes: Buffer;
  /** Segment starts in `bytes` (ascending) and their capture times, ns from the first packet of the file. */
  segStart: number[];
  segTimeNs: number[];
}

export interface Packet {
  timeNs: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  syn: boolean;
  payload: Buffer;
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;

/** Every TCP packet of the file (payload may be cut by the snap length). */
export function readPcap(file: string): Packet[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  let le = true;
  let magic = b.readUInt32LE(0);
  if (magic !== MAGIC_US && magic !== MAGIC_NS) {
    le = false;
    magic = b.readUInt32BE(0);
  }
  if (magic !== MAGIC_US && magic !== MAGIC_NS) throw new Error(`${file}: not a pcap file`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const fracNs = magic === MAGIC_NS ? 1 : 1000;
  const linkType = u32(20);
  const out: Packet[] = [];
  let sec0 = -1;
  for (let o = 24; o + 16 <= b.length; ) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const data = b.subarray(o + 16, Math.min(o + 16 + incl, b.length));
    o += 16 + incl;
    if (sec0 < 0) sec0 = sec;
    const timeNs = (sec - sec0) * 1e9 + frac * fracNs;
    let ip: number;
    if (linkType === 1)
      ip = 14; // Ethernet
    else if (linkType === 113)
      ip = 16; // Linux cooked
    else if (linkType === 0)
      ip = 4; // BSD loopback
    else if (linkType === 101)
      ip = 0; // raw IP
    else throw new Error(`${file}: link type ${linkType} not supported`);
    if (data.length < ip + 20) continue;
    const version = (data[ip] as number) >> 4;
    let tcp: number;
    let ipEnd: number;
    if (version === 4) {
      if (data[ip + 9] !== 6) continue;
      tcp = ip + ((data[ip] as number) & 0x0f) * 4;
      ipEnd = ip + data.readUInt16BE(ip + 2);
    } else if (version === 6) {
      if (data[ip + 6] !== 6) continue;
      tcp = ip + 40;
      ipEnd = tcp + data.readUInt16BE(ip + 4);
    } else continue;
    if (data.length < tcp + 20) continue;
    const payloadStart = tcp + ((data[tcp + 12] as number) >> 4) * 4;
    out.push({
      timeNs,
      srcPort: data.readUInt16BE(tcp),
      dstPort: data.readUInt16BE(tcp + 2),
      seq: data.readUInt32BE(tcp + 4),
      syn: ((data[tcp + 13] as number) & 0x02) !== 0,
      payload: data.subarray(payloadStart, Math.min(ipEnd, data.length)),
    });
  }
  return out;
}

/** Reassemble every direction of every connection (a complete capture: no snap length). */
export function reassemble(packets: Packet[]): TcpStream[] {
  const byKey = new Map<string, Packet[]>();
  for (const p of packets) {
    const key = `${p.srcPort}>${p.dstPort}`;
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(p);
  }
  const streams: TcpStream[] = [];
  for (const [key, list] of byKey) {
    const syn = list.find((p) => p.syn);
    // Sequence numbers relative to the first byte (wrap-safe within 2^31).
    const isn = syn ? (syn.seq + 1) >>> 0 : (list.find((p) => p.payload.length > 0)?.seq ?? 0);
    const segs = list.filter((p) => p.payload.length > 0).map((p) => ({ rel: (p.seq - isn) | 0, p }));
    segs.sort((a, b) => a.rel - b.rel || a.p.timeNs - b.p.timeNs);
    const parts: Buffer[] = [];
    const segStart: number[] = [];
    const segTimeNs: number[] = [];
    let next = 0;
    for (const { rel, p } of segs) {
      const end = rel + p.payload.length;
      if (end <= next || rel > next) continue; // a retransmission, or a hole (bytes missing from the capture)
      segStart.push(next);
      segTimeNs.push(p.timeNs);
      parts.push(p.payload.subarray(next - rel));
      next = end;
    }
    const [src, dst] = key.split('>').map(Number) as [number, number];
    streams.push({ key, srcPort: src, dstPort: dst, bytes: Buffer.concat(parts), segStart, segTimeNs });
  }
  return streams;
}

/** Capture time of the packet that carried byte `offset` of the stream. */
export function timeAt(s: TcpStream, offset: number): number {
  let lo = 0;
  let hi = s.segStart.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((s.segStart[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return s.segTimeNs[lo] as number;
}
