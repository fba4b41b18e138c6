/**
 * Host limits of the host collector: parsers over /proc files copied from a
 * real Linux host (test/fixtures/collectors/proc-limits; tcp6 lines written
 * in the kernel's format, the host had no IPv6 socket), counters that never
 * go down when the kernel's totals reset, then the real /proc with sockets
 * this test opens itself.
 */
import t from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock.js';
import { defaultCollectorsConfig } from '../src/collectors/index.js';
import { HostCollector } from '../src/collectors/host.js';
import { collectLocalPorts, parseFileNr, parseNetstatPairs, parsePortRange, parseSockstat } from '../src/collectors/host-limits.js';
import { createRegistry } from '../src/metrics/registry.js';
import { silentLogger } from '../src/log.js';

function fixtures(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'test', 'fixtures', 'collectors', 'proc-limits');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/collectors/proc-limits not found');
}

async function value(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) return undefined;
  const got = await m.get();
  return got.values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) && Object.keys(v.labels).every((k) => k in labels))?.value;
}

function collector(reg: Registry, procRoot: string): HostCollector {
  const d = defaultCollectorsConfig().host;
  return new HostCollector({
    intervalMs: 1000,
    timeoutMs: 4000,
    logger: silentLogger(),
    clock: systemClock,
    registry: reg,
    procRoot,
    sysRoot: '/nonexistent',
    portable: false,
    networkDeviceExclude: new RegExp(d.networkDeviceExclude),
    diskDeviceExclude: new RegExp(d.diskDeviceExclude),
    maxDevices: d.maxDevices,
  });
}

t.test('parsers over real /proc formats', async (t) => {
  const fx = fixtures();
  const read = (p: string) => readFileSync(join(fx, p), 'utf8');
  const snmp = parseNetstatPairs(read('net/snmp'));
  t.equal(snmp.get('Tcp')?.get('RetransSegs'), 97113);
  t.equal(snmp.get('Tcp')?.get('MaxConn'), -1, 'negative values kept');
  t.equal(snmp.get('Ip')?.get('Forwarding'), 2);
  const ext = parseNetstatPairs(read('net/netstat')).get('TcpExt');
  t.equal(ext?.get('ListenOverflows'), 25047);
  t.equal(ext?.get('ListenDrops'), 25047);
  const ss = parseSockstat(read('net/sockstat'));
  t.equal(ss.inUse.get('tcp'), 180);
  t.equal(ss.inUse.get('udp'), 0);
  t.equal(ss.timeWait, 40);
  t.equal(parseSockstat(read('net/sockstat6')).inUse.get('tcp6'), 0);
  t.same(parseFileNr(read('sys/fs/file-nr')), { open: 1396, limit: 2466183 });
  t.same(parseFileNr('9000\t120\t100000\n'), { open: 8880, limit: 100000 }, 'free handles are not open');
  t.same(parsePortRange(read('sys/net/ipv4/ip_local_port_range')), { low: 32768, high: 60999 });
  t.equal(parsePortRange('60999 32768'), undefined, 'an inverted range is refused');
  const ports = new Set<number>();
  collectLocalPorts(read('net/tcp'), 32768, 60999, ports);
  t.equal(ports.size, 11, 'distinct local ports in range, IPv4 (45571 held by 9 sockets counts once)');
  t.ok(ports.has(45571) && !ports.has(8080) && !ports.has(2024));
  collectLocalPorts(read('net/tcp6'), 32768, 60999, ports);
  t.equal(ports.size, 13, 'plus two IPv6 ones (established and TIME_WAIT); the :8080 listener is out of range');
  const none = new Set<number>();
  collectLocalPorts('  sl  local_address rem_address   st\n', 1, 65535, none);
  t.equal(none.size, 0, 'an empty table');
});

t.test('the host collector exports the limits from a fixture /proc; counters never go down', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'llmsoak-limits-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(fixtures(), tmp, { recursive: true });
  // The host collector needs its own files too; minimal ones.
  writeFileSync(join(tmp, 'stat'), 'cpu  100 0 50 1000 10 0 0 0 0 0\n');
  writeFileSync(join(tmp, 'meminfo'), 'MemTotal:       1000 kB\nMemAvailable:    500 kB\n');
  writeFileSync(join(tmp, 'loadavg'), '0.50 0.40 0.30 1/100 12345\n');
  const reg = new Registry();
  const c = collector(reg, tmp);
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'host' }), 1);
  t.equal(await value(reg, 'llmsoak_host_tcp_retransmits_total'), 97113);
  t.equal(await value(reg, 'llmsoak_host_tcp_listen_overflows_total'), 25047);
  t.equal(await value(reg, 'llmsoak_host_tcp_listen_drops_total'), 25047);
  t.equal(await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'tcp' }), 180);
  t.equal(await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'tcp6' }), 0);
  t.equal(await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'udp6' }), 0);
  t.equal(await value(reg, 'llmsoak_host_tcp_time_wait_sockets'), 40);
  t.equal(await value(reg, 'llmsoak_host_file_descriptors_open'), 1396);
  t.equal(await value(reg, 'llmsoak_host_file_descriptors_limit'), 2466183);
  t.equal(await value(reg, 'llmsoak_host_ephemeral_ports_range'), 60999 - 32768 + 1);
  t.equal(await value(reg, 'llmsoak_host_ephemeral_ports_in_use'), 13);

  // +7 retransmits, then the totals restart lower (a network namespace re-created): never down.
  const snmp = join(tmp, 'net', 'snmp');
  writeFileSync(snmp, readFileSync(snmp, 'utf8').replace(' 97113 ', ' 97120 '));
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_host_tcp_retransmits_total'), 97120);
  writeFileSync(snmp, readFileSync(snmp, 'utf8').replace(' 97120 ', ' 3 '));
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_host_tcp_retransmits_total'), 97123, 'a reset adds what was counted since');

  // Files a sandbox hides: their series are absent, the collection still succeeds.
  rmSync(join(tmp, 'net', 'tcp'));
  rmSync(join(tmp, 'net', 'tcp6'));
  rmSync(join(tmp, 'net', 'sockstat6'));
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_collector_last_success', { collector: 'host' }), 1);
  t.equal(await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'tcp6' }), undefined, 'tcp6 gone with sockstat6');
  t.equal(await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'tcp' }), 180);
  await c.stop();
});

t.test('the real /proc: ports this test holds are counted; own fds come from prom-client', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const reg = new Registry();
  const c = collector(reg, '/proc');
  const range = parsePortRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
  await c.collectOnce();
  t.equal(await value(reg, 'llmsoak_host_ephemeral_ports_range'), range ? range.high - range.low + 1 : undefined);
  const first = (await value(reg, 'llmsoak_host_ephemeral_ports_in_use')) ?? -1;
  t.ok(first >= 0, `${first} ephemeral ports in use`);
  t.ok(((await value(reg, 'llmsoak_host_file_descriptors_limit')) ?? 0) > 0);
  t.ok(((await value(reg, 'llmsoak_host_file_descriptors_open')) ?? 0) > 0);
  t.ok(((await value(reg, 'llmsoak_host_sockets_in_use', { protocol: 'tcp' })) ?? -1) >= 0);
  t.ok(((await value(reg, 'llmsoak_host_tcp_retransmits_total')) ?? -1) >= 0);

  // 20 loopback connections: their client ports come from the ephemeral range.
  const server = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const hold = () =>
    Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<Socket>((r) => {
            const s = connect(port, '127.0.0.1', () => r(s));
          }),
      ),
    );
  // The ports held here are counted on top of those in use before. The count is the host's: this file runs in the
  // serial phase (scripts/run-tests.mjs), as beside other test files closing loopback connections by the hundred it
  // saw 6 more while holding 20. Alone, the count still moves with older TIME_WAIT sockets, which the kernel reaps
  // in batches: once 15 went between two collections a few milliseconds apart (ci201, right after accuracy-truth's
  // 400 requests). So up to three tries, each with 3 of slack; a collector that misses the ports held fails all three.
  const tries: string[] = [];
  let mineSize = 0;
  let counted = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    await c.collectOnce();
    const before = (await value(reg, 'llmsoak_host_ephemeral_ports_in_use')) ?? -1;
    const clients = await hold();
    const mine = new Set(clients.map((s) => s.localPort as number).filter((p) => range !== undefined && p >= range.low && p <= range.high));
    await c.collectOnce();
    const after = (await value(reg, 'llmsoak_host_ephemeral_ports_in_use')) ?? -1;
    for (const s of clients) s.destroy();
    mineSize = mine.size;
    tries.push(`${after} ports in use, ${after - before} more than before, while this test held ${mine.size}`);
    counted = after - before >= mine.size - 3;
    if (counted) break;
  }
  t.ok(mineSize >= 15, `${mineSize} of the clients' ports are ephemeral`);
  t.ok(counted, tries.join('; '));
  t.ok(((await value(reg, 'llmsoak_collector_duration_seconds', { collector: 'host' })) ?? 10) < 1, 'a cheap collection');
  await c.stop();

  // llmsoak's own descriptors against RLIMIT_NOFILE: prom-client's defaults on the daemon's registry.
  const daemonReg = createRegistry();
  const open = await value(daemonReg, 'process_open_fds');
  const max = await value(daemonReg, 'process_max_fds');
  const limits = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  t.ok(open !== undefined && open > 20, `process_open_fds ${open}`);
  t.equal(max, Number(limits), 'process_max_fds is the soft RLIMIT_NOFILE of /proc/self/limits');
});
