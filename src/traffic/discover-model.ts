/**
 * The model to request when target.model is not set: the first id of
 * GET /v1/models, asked until the target answers (it may still be starting).
 */
import { request } from 'undici';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** How long to wait between two tries, ms (checked every 100 ms, so that a stop is not kept waiting). */
const RETRY_MS = 5000;
const CANCEL_CHECK_MS = 100;
/** A models list larger than this is refused, bytes (a hostile target may answer with an endless body). */
const MAX_MODELS_BODY_BYTES = 1024 * 1024;

/**
 * GET {baseUrl}/models until it answers with a model id; the first id wins.
 * Returns 'unknown' once `cancelled()` says the daemon is stopping.
 */
export async function discoverModel(baseUrl: string, headers: Record<string, string>, o: { logger: Logger; cancelled: () => boolean }): Promise<string> {
  let warned = false;
  for (;;) {
    try {
      // A hostile target may answer with an endless or huge body: whole-request timeout and a size cap.
      const res = await request(`${baseUrl}/models`, { headers, headersTimeout: 10_000, bodyTimeout: 10_000, signal: AbortSignal.timeout(15_000) });
      const body = JSON.parse(await readCapped(res.body, MAX_MODELS_BODY_BYTES)) as { data?: { id?: unknown }[] };
      const id = body.data?.[0]?.id;
      if (res.statusCode === 200 && typeof id === 'string') return id;
      throw new Error(`GET /models answered ${res.statusCode} without a model id`);
    } catch (err) {
      if (o.cancelled()) return 'unknown';
      if (!warned) {
        warned = true;
        o.logger.warn(`cannot list models at ${baseUrl}/models (${errorMessage(err)}); retrying every 5 s (or set target.model)`);
      }
      for (let i = 0; i < RETRY_MS / CANCEL_CHECK_MS && !o.cancelled(); i++) await new Promise((r) => setTimeout(r, CANCEL_CHECK_MS));
    }
  }
}

/** A response body as text, abandoned (and the request aborted) past `maxBytes`. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, maxBytes: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > maxBytes) {
      body.destroy();
      throw new Error(`response body over ${maxBytes} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}
