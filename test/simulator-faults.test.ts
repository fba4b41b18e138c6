/**
 * Every fault shows up in what a client sees, and is switched on and off
 * through the admin API over HTTP while the simulator runs.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startSimulator } from '../src/simulator/server.js';
import { defaultSimulatorConfig } from '../src/simulator/config.js';
import { silentLogger } from '../src/log.js';
import type { ServerTimings } from '../src/types.js';
import type { FaultState } from '../src/simulator/faults.js';

const cfg = defaultSimulatorConfig();
Object.assign(cfg.engine, { decodeStepBaseMs: 2, decodeStepPerSeqMs: 0.1, prefillTokensPerSec: 1e6 });
const sim = await startSimulator(cfg, { logger: silentLogger(), port: 0 });
t.teardown(() => sim.close());

async function admin(method: 'GET' | 'POST' | 'DELETE', path = '', body?: unknown): Promise<{ status: number; json: FaultState & { error?: { message: string } } }> {
  const res = await request(`${sim.url}/admin/faults${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, json: (await res.body.json()) as FaultState & { error?: { message: string } } };
}

interface StreamResult {
  status: number;
  /** Arrival instants of each content chunk, ms. */
  arrivals: number[];
  events: string[];
  error?: Error;
  bytes: number;
  timings?: ServerTimings;
}

/** A streamed chat request, reading chunk by chunk. */
async function stream(maxTokens: number): Promise<StreamResult> {
  const out: StreamResult = { status: 0, arrivals: [], events: [], bytes: 0 };
  try {
    const res = await request(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: cfg.model,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: maxTokens,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    out.status = res.statusCode;
    let buf = '';
    for await (const chunk of res.body) {
      const s = (chunk as Buffer).toString();
      out.bytes += s.length;
      buf += s;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        out.events.push(ev);
        if (ev.includes('"content":"') && !ev.includes('"role"')) out.arrivals.push(performance.now());
        if (ev.includes('"timings"')) {
          try {
            out.timings = (JSON.parse(ev.slice(6)) as { timings: ServerTimings }).timings;
          } catch {
            /* malformed */
          }
        }
      }
    }
  } catch (err) {
    out.error = err as Error;
  }
  return out;
}

async function chat(maxTokens: number): Promise<{ status: number; ms: number; body: Record<string, unknown> }> {
  const t0 = performance.now();
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: cfg.model, messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, ignore_eos: true }),
  });
  const body = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, ms: performance.now() - t0, body };
}

const maxGap = (xs: number[]): number => xs.slice(1).reduce((m, x, i) => Math.max(m, x - (xs[i] ?? x)), 0);
/** Median of xs (NaN when empty). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? Number.NaN) : ((s[m - 1] ?? Number.NaN) + (s[m] ?? Number.NaN)) / 2;
}

t.test('admin API: state, validation, clear', async (tt) => {
  const empty = await admin('GET');
  tt.equal(empty.status, 200);
  tt.same(empty.json.faults, {});
  const bad = await admin('POST', '', { errors: { rate: 2 }, bogus: {} });
  tt.equal(bad.status, 400);
  tt.match(bad.json.error?.message ?? '', /faults\.errors\.rate: must be <= 1/);
  tt.match(bad.json.error?.message ?? '', /unknown fault 'bogus'/);
  tt.same((await admin('GET')).json.faults, {}, 'nothing applied on a bad body');
  tt.equal((await admin('POST', '', [1])).status, 400);
  const set = await admin('POST', '', { reset: {}, cpuBound: { msPerRequest: 1 } });
  tt.same(set.json.faults, { reset: { rate: 0.05 }, cpuBound: { msPerRequest: 1 } }, 'defaults fill fields');
  tt.ok(set.json.since.reset !== undefined);
  const merged = await admin('POST', '', { reset: null, malformed: { rate: 0 } });
  tt.same(merged.json.faults, { cpuBound: { msPerRequest: 1 }, malformed: { rate: 0 } }, 'merge; null clears');
  tt.same((await admin('DELETE', '/cpuBound')).json.faults, { malformed: { rate: 0 } });
  tt.equal((await admin('DELETE', '/nope')).status, 404);
  tt.same((await admin('DELETE')).json.faults, {});
  // The same control in-process.
  sim.faults.set({ errors: { rate: 0, status: 502 } });
  tt.same((await admin('GET')).json.faults, { errors: { rate: 0, status: 502 } });
  sim.faults.clear();
});

t.test('errors', async (tt) => {
  await admin('POST', '', { errors: { rate: 1, status: 503 } });
  const r = await chat(3);
  tt.equal(r.status, 503);
  const e = r.body.error as Record<string, unknown>;
  tt.same(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  tt.equal(e.type, 'server_error');
  await admin('DELETE', '/errors');
  tt.equal((await chat(3)).status, 200, 'off again');
});

t.test('stall: a gap of at least `seconds` mid-stream', async (tt) => {
  await admin('POST', '', { stall: { rate: 1, seconds: 0.5 } });
  const r = await stream(10);
  await admin('DELETE', '/stall');
  tt.equal(r.status, 200);
  tt.equal(r.error, undefined);
  tt.equal(r.arrivals.length, 10, 'all tokens arrive after the stall');
  const gap = maxGap(r.arrivals);
  tt.ok(gap >= 480, `client-side gap ${gap.toFixed(0)} ms`);
  tt.ok(Math.max(...(r.timings?.itl_ms ?? [])) >= 495, 'server timings show the stall');
  const normal = await stream(10);
  tt.ok(maxGap(normal.arrivals) < 200, 'off again');
});

t.test('reset: the client gets a socket error mid-stream', async (tt) => {
  await admin('POST', '', { reset: { rate: 1 } });
  const r = await stream(20);
  const state = await admin('DELETE', '/reset');
  tt.equal(r.status, 200, 'the response had started');
  tt.ok(r.arrivals.length >= 1 && r.arrivals.length < 20, `${r.arrivals.length} tokens before the reset`);
  tt.ok(r.error !== undefined, `socket error: ${r.error?.message ?? 'none'}`);
  tt.equal(state.json.injected.reset, 1);
  const ok = await stream(5);
  tt.equal(ok.error, undefined, 'off again');
});

t.test('malformed: an SSE data line that is not JSON', async (tt) => {
  await admin('POST', '', { malformed: { rate: 1 } });
  const r = await stream(10);
  await admin('DELETE', '/malformed');
  const bad = r.events.filter((e) => {
    if (!e.startsWith('data: ') || e === 'data: [DONE]') return false;
    try {
      JSON.parse(e.slice(6));
      return false;
    } catch {
      return true;
    }
  });
  tt.equal(bad.length, 1, 'one unparsable data line');
  tt.equal(r.events[r.events.length - 1], 'data: [DONE]', 'the stream goes on');
});

t.test('slowdown: ITL grows with time since set', async (tt) => {
  const before = await stream(10);
  await admin('POST', '', { slowdown: { decodeMsPerMinute: 600 } }); // +10 ms per second
  // Wait for the fault to have grown, not for a fixed time: a loaded machine stretches a sleep, not this.
  let extra = 0;
  for (let i = 0; i < 200 && extra < 10; i++) {
    await new Promise((r) => setTimeout(r, 50));
    extra = (await admin('GET')).json.slowdownExtraMs;
  }
  const after = await stream(10);
  await admin('DELETE', '/slowdown');
  // Medians, not means: a stall of this shared machine lengthens a few steps (and the steps after it,
  // paced to absolute deadlines, come shorter), not the median.
  const a = median(before.timings?.itl_ms ?? []);
  const b = median(after.timings?.itl_ms ?? []);
  tt.comment(`ITL median ${a.toFixed(2)} ms → ${b.toFixed(2)} ms (extra ${extra.toFixed(1)} ms when the stream began)`);
  tt.ok(extra >= 10, `the extra grew with time: ${extra.toFixed(1)} ms`);
  tt.ok(b > a + 5, 'decode steps slowed');
});

t.test('cpuBound: latency rises by the busy time', async (tt) => {
  const base = await chat(3);
  await admin('POST', '', { cpuBound: { msPerRequest: 120 } });
  const slow = await chat(3);
  await admin('DELETE', '/cpuBound');
  tt.ok(slow.ms > base.ms + 100, `${base.ms.toFixed(0)} ms → ${slow.ms.toFixed(0)} ms`);
  tt.ok((slow.body.timings as ServerTimings).ttft_ms >= 120, 'server TTFT includes it');
});

t.test('kvPressure: preemptions', async (tt) => {
  const scrape = async (): Promise<number> => {
    const text = await (await request(`${sim.url}/metrics`)).body.text();
    return Number(/^vllm:num_preemptions_total\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  };
  const p0 = await scrape();
  const normal = await Promise.all(Array.from({ length: 6 }, () => chat(40)));
  tt.equal(await scrape(), p0, 'no preemption with the full cache');
  await admin('POST', '', { kvPressure: { kvCacheTokens: 200 } });
  const squeezed = await Promise.all(Array.from({ length: 6 }, () => chat(40)));
  await admin('DELETE', '/kvPressure');
  const p1 = await scrape();
  tt.ok(
    normal.concat(squeezed).every((r) => r.status === 200),
    'all served',
  );
  await admin('POST', '', { kvPressure: { kvCacheTokens: 5 } });
  const cannot = await chat(3);
  await admin('DELETE', '/kvPressure');
  tt.equal(cannot.status, 400, 'a prompt that can never fit the cache is refused');
  tt.equal((cannot.body.error as Record<string, unknown>).code, 'context_length_exceeded');
  tt.ok(p1 > p0, `preemptions ${p0} → ${p1}`);
  const counted = squeezed.reduce((s, r) => s + (r.body.timings as ServerTimings).preemptions, 0);
  tt.equal(counted, p1 - p0, 'timings.preemptions add up to the counter');
});

t.test('leak: the simulator process RSS grows (child process)', async (tt) => {
  const entry = fileURLToPath(new URL('../src/simulator/standalone.js', import.meta.url));
  // --expose-gc: the child collects its start-up garbage before it says ready, for a clean RSS baseline.
  const child = spawn(process.execPath, ['--expose-gc', entry, JSON.stringify({ port: 0 }), '--watch-stdin'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child not ready')), 10_000);
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  const { url } = JSON.parse(line) as { url: string };
  const rss = async (): Promise<number> => {
    const text = await (await request(`${url}/metrics`)).body.text();
    return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
  };
  const post = async (method: 'POST' | 'DELETE', body?: unknown): Promise<FaultState> =>
    (await (await request(`${url}/admin/faults`, { method, body: body === undefined ? undefined : JSON.stringify(body) })).body.json()) as FaultState;
  const r0 = await rss();
  // 200 MiB/s for 1 s: far above what a heap shrinking after start-up could hide.
  await post('POST', { leak: { mbPerMinute: 12000 } });
  await new Promise((r) => setTimeout(r, 1000));
  const r1 = await rss();
  const cleared = await post('DELETE');
  tt.comment(`RSS ${(r0 / 2 ** 20).toFixed(0)} MiB → ${(r1 / 2 ** 20).toFixed(0)} MiB`);
  tt.ok(r1 - r0 > 100 * 2 ** 20, 'RSS grew by over 100 MiB');
  tt.equal(cleared.leakedBytes, 0, 'released when cleared');
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.end(); // --watch-stdin: the child stops when its parent's pipe closes
  await exited;
  tt.equal(child.exitCode, 0, 'child exits cleanly');
});
