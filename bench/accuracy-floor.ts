/**
 * The floor under any client's timing accuracy on this machine: a bare
 * client (node:http, one timestamp per SSE event, nothing else: no JSON, no
 * histograms, no analyzer) sends the same streams at the same constant rate
 * and compares its inter-token gaps and TTFT with the simulator's ground
 * truth exactly as the llmsoak accuracy bench does. Whatever error this
 * client shows comes from the machine (process wake-up, the simulator and
 * the client sharing cores), not from llmsoak's measurement path.
 */
import http from 'node:http';
import type { AccuracyResult } from './traffic.js';

interface Timings {
  ttft_ms: number;
  itl_ms: number[];
}

/** Runs `warmupSec + seconds` at `rate`; requests of the warm-up are not compared (as in accuracyCollector). */
export async function bareClientAccuracy(simUrl: string, rate: number, seconds: number, warmupSec = 2, outputTokens = 64): Promise<AccuracyResult> {
  const url = new URL('/v1/chat/completions', simUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4096 });
  const body = JSON.stringify({
    model: 'sim-llama-3-8b',
    messages: [{ role: 'user', content: 'hello '.repeat(30) }],
    max_tokens: outputTokens,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  });
  const itlErr: number[] = [];
  const ttftErr: number[] = [];
  let requests = 0;

  const one = (compare: boolean) =>
    new Promise<void>((resolve) => {
      const sentAt = process.hrtime.bigint();
      const tokenAt: bigint[] = [];
      let buf = '';
      let timings: Timings | undefined;
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const now = process.hrtime.bigint();
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, end);
            buf = buf.slice(end + 2);
            if (ev.includes('"delta":{"content"')) tokenAt.push(now);
            else if (ev.includes('"timings"')) timings = (JSON.parse(ev.slice(6)) as { timings: Timings }).timings;
          }
        });
        res.on('end', () => {
          if (compare && timings && tokenAt.length > 0 && timings.itl_ms.length === tokenAt.length - 1) {
            requests++;
            for (let i = 1; i < tokenAt.length; i++) {
              itlErr.push(Math.abs(Number((tokenAt[i] as bigint) - (tokenAt[i - 1] as bigint)) / 1e6 - (timings.itl_ms[i - 1] as number)));
            }
            ttftErr.push(Number((tokenAt[0] as bigint) - sentAt) / 1e6 - timings.ttft_ms);
          }
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
      req.end(body);
    });

  // Fire times from the start (k / rate), like the engine's constant arrivals.
  const pending: Promise<void>[] = [];
  const t0 = process.hrtime.bigint();
  const total = Math.round(rate * (warmupSec + seconds));
  const warmup = Math.round(rate * warmupSec);
  for (let k = 0; k < total; k++) {
    const due = t0 + BigInt(Math.round((k / rate) * 1e9));
    const waitMs = Number(due - process.hrtime.bigint()) / 1e6;
    if (waitMs > 1) await new Promise((r) => setTimeout(r, waitMs - 1));
    while (process.hrtime.bigint() < due) await new Promise((r) => setImmediate(r));
    pending.push(one(k >= warmup));
  }
  await Promise.all(pending);
  agent.destroy();
  const abs = ttftErr.map(Math.abs);
  return {
    requests,
    gaps: itlErr.length,
    itlAbsErrP50Ms: pct(itlErr, 0.5),
    itlAbsErrP99Ms: pct(itlErr, 0.99),
    ttftErrMeanMs: ttftErr.reduce((a, b) => a + b, 0) / Math.max(1, ttftErr.length),
    ttftAbsErrP50Ms: pct(abs, 0.5),
    ttftAbsErrP99Ms: pct(abs, 0.99),
  };
}

function pct(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}
