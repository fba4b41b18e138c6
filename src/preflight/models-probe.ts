/**
 * GET /models: does it answer, with which ids; then the same request again
 * on the warm connection, timed: the round trip of a trivial request (what
 * every latency llmsoak measures includes at least this much).
 */
import { request, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import { finishDetail, httpErrorLine } from '../traffic/error-detail.js';
import type { ModelsProbe } from './types.js';

/** Largest /models answer read, bytes. */
const MAX_MODELS_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  reason: string;
  contentType: string;
  body: Buffer;
}

async function get(url: string, o: { dispatcher: Dispatcher; headers: Record<string, string>; timeoutMs: number }): Promise<Answer> {
  const res = await request(url, {
    dispatcher: o.dispatcher,
    headers: o.headers,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    signal: AbortSignal.timeout(o.timeoutMs),
  });
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > MAX_MODELS_BYTES) {
      res.body.destroy();
      throw new Error(`GET /models answered more than ${MAX_MODELS_BYTES} bytes`);
    }
    parts.push(chunk);
  }
  // undici's request() has no reason phrase: the status alone leads the line.
  return { status: res.statusCode, reason: '', contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts) };
}

function idsOf(body: Buffer): string[] | undefined {
  try {
    const data = (JSON.parse(body.toString('utf8')) as { data?: unknown }).data;
    if (!Array.isArray(data)) return undefined;
    return (data as unknown[])
      .map((m) => (m !== null && typeof m === 'object' ? (m as { id?: unknown }).id : undefined))
      .filter((id): id is string => typeof id === 'string')
      .slice(0, 32);
  } catch {
    return undefined;
  }
}

export async function probeModels(
  baseUrl: string,
  o: { dispatcher: Dispatcher; headers: Record<string, string>; timeoutMs: number; clock: Clock; scrub: (text: string) => string },
): Promise<ModelsProbe> {
  const url = `${baseUrl}/models`;
  let first: Answer;
  try {
    first = await get(url, o);
  } catch (err) {
    return { ok: false, ids: [], message: finishDetail(errorMessage(err), o.scrub) };
  }
  const ids = first.status === 200 ? idsOf(first.body) : undefined;
  if (ids === undefined) {
    const message = first.status === 200 ? '200 but not a model list' : httpErrorLine(first.status, first.reason, first.body, first.contentType);
    return { ok: false, httpStatus: first.status, ids: [], message: finishDetail(message, o.scrub) };
  }
  const t0 = o.clock.monoNs();
  let rttMs: number | undefined;
  try {
    await get(url, o);
    rttMs = Number((Number(o.clock.monoNs() - t0) / 1e6).toFixed(2));
  } catch {
    // the first answered: a failed second leaves the round trip unknown, nothing more
  }
  return { ok: true, httpStatus: first.status, ids: ids.map((id) => o.scrub(id)), ...(rttMs !== undefined ? { rttMs } : {}) };
}
