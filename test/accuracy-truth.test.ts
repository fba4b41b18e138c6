/**
 * Timing accuracy against ground truth, with bounds that can fail:
 *
 * 1. A loopback SSE server in this process stamps (process.hrtime, the clock
 *    llmsoak's client uses) when the request arrived and when each chunk was
 *    written. The client's send time may not come after the arrival, and
 *    every content chunk's receive time (first token + the recorded gaps) may
 *    not come before its write. A role-only first chunk, written 40 ms before
 *    the first content, must not set TTFT: taking TTFT at the role chunk puts
 *    the first token 40 ms before its own write.
 * 2. The built-in simulator in its own process reports its own per-request
 *    timings (`timings`: time to first write, every gap between writes). The
 *    client's TTFT is never below the server's (the request is sent before it
 *    arrives, the token written before it is read), and client TTFT and gaps
 *    stay within stated bounds of the server's.
 * 3. Schedule lag against the open-loop grid (below).
 * npm test runs this file alone (scripts/test.sh, serial phase).
 */
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { startEmbeddedSimulator } from '../src/embedded-target.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { sendRequest, type ClientOptions, type PreparedRequest } from '../src/traffic/client.js';
import type { RequestRecord } from '../src/types.js';

function clientOptions(url: string): ClientOptions & { pool: Pool } {
  const pool = new Pool(url, { connections: 16, headersTimeout: 10_000, bodyTimeout: 10_000, connect: { timeout: 2000 } });
  return {
    pool,
    dispatcher: pool,
    headers: { 'content-type': 'application/json' },
    clock: systemClock,
    totalTimeoutMs: 20_000,
    maxBodyBytes: 1024 * 1024,
    countTokens: (s) => s.split(' ').filter(Boolean).length,
  };
}

function chatRequest(id: string, maxTokens: number): PreparedRequest {
  return {
    id,
    scenario: 's',
    endpoint: 'chat',
    model: 'sim-llama-3-8b',
    stream: true,
    path: '/v1/chat/completions',
    body: JSON.stringify({
      model: 'sim-llama-3-8b',
      messages: [{ role: 'user', content: 'Say something.' }],
      stream: true,
      max_tokens: maxTokens,
      ignore_eos: true,
      stream_options: { include_usage: true },
    }),
    promptTokens: 4,
    keepText: false,
  };
}

/** Receive time of every content chunk: the first token, then each recorded gap after it. */
function receiveTimes(r: RequestRecord): bigint[] {
  if (r.firstTokenAt === undefined) return [];
  const out = [r.firstTokenAt];
  for (const g of r.tokenGapsNs) out.push((out[out.length - 1] as bigint) + BigInt(g));
  return out;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

t.test('against write stamps: sent before arrival, each token read after its write, role chunk is not a token', async (t) => {
  const WORDS = 6;
  const stamps = new Map<string, { arrivedNs: bigint; writesNs: bigint[]; roleNs: bigint }>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const arrivedNs = process.hrtime.bigint();
    const id = req.headers['x-test-id'] as string;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }));
      const s = { arrivedNs, writesNs: [] as bigint[], roleNs: process.hrtime.bigint() };
      stamps.set(id, s);
      let i = 0;
      const next = (): void => {
        if (i < WORDS) {
          s.writesNs.push(process.hrtime.bigint());
          res.write(sse({ choices: [{ index: 0, delta: { content: ` w${i++}` } }] }));
          setTimeout(next, 5);
        } else res.end(sse({ choices: [], usage: { prompt_tokens: 4, completion_tokens: WORDS, total_tokens: 4 + WORDS } }) + 'data: [DONE]\n\n');
      };
      // The first content comes 40 ms after the role-only chunk.
      setTimeout(next, 40);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const o = clientOptions(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.teardown(() => o.pool.close());

  for (let k = 0; k < 20; k++) {
    const id = `r${k}`;
    const { record } = await sendRequest({ ...o, headers: { ...o.headers, 'x-test-id': id } }, chatRequest(id, WORDS), systemClock.monoNs(), () => {});
    const s = stamps.get(id);
    if (!s) throw new Error(`the server never saw ${id}`);
    t.equal(record.outcome, 'ok', `${id} ok`);
    t.ok(record.sentAt <= s.arrivedNs, `${id}: sent ${Number(s.arrivedNs - record.sentAt) / 1e3} µs before the server saw it (never after)`);
    const recv = receiveTimes(record);
    t.equal(recv.length, WORDS, `${id}: one receive time per content chunk (the role chunk is not one)`);
    for (let i = 0; i < WORDS; i++) {
      const readAfterWriteUs = Number((recv[i] as bigint) - (s.writesNs[i] as bigint)) / 1e3;
      if (!(readAfterWriteUs >= 0)) t.fail(`${id}: token ${i} read ${readAfterWriteUs} µs after its write: it cannot be read before it is written`);
    }
    // Timers may fire up to a millisecond early against hrtime: the 40 ms wait is checked with room for that.
    const ttftAfterRoleMs = Number((record.firstTokenAt as bigint) - s.roleNs) / 1e6;
    t.ok(ttftAfterRoleMs >= 38, `${id}: first token ${ttftAfterRoleMs.toFixed(2)} ms after the role-only chunk (≥ 38 ms: the role chunk did not set TTFT)`);
  }
});

/**
 * Bounds for the simulator comparison, met ten runs in ten on the 2-core CI
 * machine with the rest of the suite running beside it. The client reads on
 * its own process, so a scheduling delay of the client or of the simulator's
 * write shows in the difference; medians are held tight, the tail loosely.
 */
const TTFT_MEDIAN_MS = 6;
const TTFT_P90_MS = 25;
const GAP_MEDIAN_ABS_MS = 1;
const GAP_P90_ABS_MS = 6;
const NEVER_BELOW_MS = 0.1;

t.test("against the simulator's own timings: client TTFT never below the server's, TTFT and gaps within bounds", async (t) => {
  const sim = defaultSimulatorConfig();
  sim.engine.decodeStepBaseMs = 5;
  sim.engine.decodeStepPerSeqMs = 0;
  const target = await startEmbeddedSimulator({ ...sim, host: '127.0.0.1', port: 0 }, 'silent', silentLogger());
  t.teardown(() => target.stop());
  const o = clientOptions(target.url);
  t.teardown(() => o.pool.close());

  const TOKENS = 24;
  const records: RequestRecord[] = [];
  // 120 requests, 4 at a time: a steady batch like a soak's.
  for (let wave = 0; wave < 30; wave++) {
    const got = await Promise.all(Array.from({ length: 4 }, (_, i) => sendRequest(o, chatRequest(`s${wave}-${i}`, TOKENS), systemClock.monoNs(), () => {})));
    records.push(...got.map((g) => g.record));
  }
  t.ok(
    records.every((r) => r.outcome === 'ok'),
    'every request ok',
  );
  const ttftDiffMs: number[] = [];
  const gapDiffMs: number[] = [];
  for (const r of records) {
    const st = r.serverTimings;
    if (!st || r.firstTokenAt === undefined) {
      t.fail(`${r.id}: no server timings or no first token`);
      continue;
    }
    t.equal(r.tokenGapsNs.length, st.itl_ms.length, `${r.id}: one client gap per server gap (${st.itl_ms.length})`);
    ttftDiffMs.push(Number(r.firstTokenAt - r.sentAt) / 1e6 - st.ttft_ms);
    const n = Math.min(r.tokenGapsNs.length, st.itl_ms.length);
    for (let i = 0; i < n; i++) gapDiffMs.push(Math.abs((r.tokenGapsNs[i] as number) / 1e6 - (st.itl_ms[i] as number)));
  }
  const minTtft = Math.min(...ttftDiffMs);
  t.ok(minTtft >= -NEVER_BELOW_MS, `client TTFT minus server TTFT ≥ −${NEVER_BELOW_MS} ms for every request (min ${minTtft.toFixed(3)} ms)`);
  const medTtft = quantile(ttftDiffMs, 0.5);
  const p90Ttft = quantile(ttftDiffMs, 0.9);
  t.ok(medTtft <= TTFT_MEDIAN_MS, `TTFT client − server median ${medTtft.toFixed(3)} ms ≤ ${TTFT_MEDIAN_MS} ms`);
  t.ok(p90Ttft <= TTFT_P90_MS, `TTFT client − server p90 ${p90Ttft.toFixed(3)} ms ≤ ${TTFT_P90_MS} ms`);
  const medGap = quantile(gapDiffMs, 0.5);
  const p90Gap = quantile(gapDiffMs, 0.9);
  t.ok(medGap <= GAP_MEDIAN_ABS_MS, `|gap client − server| median ${medGap.toFixed(3)} ms ≤ ${GAP_MEDIAN_ABS_MS} ms (${gapDiffMs.length} gaps)`);
  t.ok(p90Gap <= GAP_P90_ABS_MS, `|gap client − server| p90 ${p90Gap.toFixed(3)} ms ≤ ${GAP_P90_ABS_MS} ms`);
});

/**
 * Schedule lag is measured from the intended time of an open-loop schedule:
 * with constant arrivals every request's intended time lies on the grid
 * (first + i / rate, exactly), the send is never before it, and the lag is
 * small on an idle machine. Lag measured from another origin (the previous
 * send, the moment the pacer woke up) puts intended times off the grid.
 */
const LAG_MEDIAN_MS = 1;
const LAG_P99_MS = 10;

t.test('schedule lag: intended times on the constant-rate grid, sends never early, lag small', async (t) => {
  // 100/s: 300 lags after the first second, so p99 is the third largest; at 50/s (150 lags) it was
  // the second, and one 11 ms hiccup of this shared VM in ~65 runs failed the bound alone.
  const RATE = 100;
  const records: RequestRecord[] = [];
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0, engine: { timeScale: 0 } },
      traffic: { rate: RATE, arrival: 'constant', seed: 3, scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 16 }, output: { dist: 'fixed', value: 4 } }] },
      collectors: { gpu: { enabled: false } },
      analyzer: { enabled: false },
      run: { drainMs: 2000 },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger(), onRecord: (r) => records.push(r) });
  await daemon.start();
  await new Promise((r) => setTimeout(r, 4000));
  await daemon.stop('test');
  const sorted = [...records].sort((a, b) => (a.scheduledAt < b.scheduledAt ? -1 : 1));
  t.ok(sorted.length >= 3.5 * RATE, `${sorted.length} requests in 4 s at ${RATE}/s`);
  const first = (sorted[0] as RequestRecord).scheduledAt;
  const periodNs = 1e9 / RATE;
  let offGrid = 0;
  let early = 0;
  const lagsMs: number[] = [];
  sorted.forEach((r, i) => {
    const offsetNs = Number(r.scheduledAt - first);
    if (Math.abs(offsetNs - i * periodNs) > 1000) offGrid++;
    const lagNs = Number(r.sentAt - r.scheduledAt);
    if (lagNs < 0) early++;
    lagsMs.push(lagNs / 1e6);
  });
  t.equal(offGrid, 0, 'every intended time is first + i / rate (±1 µs)');
  t.equal(early, 0, 'no request sent before its intended time');
  const med = quantile(lagsMs.slice(RATE), 0.5);
  const p99 = quantile(lagsMs.slice(RATE), 0.99);
  t.ok(med <= LAG_MEDIAN_MS, `schedule lag median ${med.toFixed(3)} ms ≤ ${LAG_MEDIAN_MS} ms (after the first second)`);
  t.ok(p99 <= LAG_P99_MS, `schedule lag p99 ${p99.toFixed(3)} ms ≤ ${LAG_P99_MS} ms`);
});
