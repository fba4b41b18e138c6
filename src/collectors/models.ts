/**
 * Served-models collector: GET <base>/models on its own interval (a model
 * swap or redeploy shows as a new id list) and hands the ids, sorted, to the
 * target-change detector. Health like every collector
 * (llmsoak_collector_last_success{collector="models"}); a target that is down
 * fails the run and reports nothing (an absence is not a change).
 */
import { Agent, request } from 'undici';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';

export interface ModelsCollectorOptions extends PeriodicOptions {
  /** OpenAI base URL including /v1 (credentials are in `headers`, never in the URL). */
  baseUrl: string;
  headers: Record<string, string>;
  /** The ids served now, sorted; called after every successful run. */
  onModels: (ids: string[]) => void;
}

const MAX_BYTES = 1024 * 1024;

export class ModelsCollector extends PeriodicCollector {
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 1 });

  constructor(private readonly opts: ModelsCollectorOptions) {
    super('models', opts);
  }

  protected async collect(signal: AbortSignal): Promise<RunResult> {
    const res = await request(`${this.opts.baseUrl}/models`, {
      headers: this.opts.headers,
      signal,
      dispatcher: this.dispatcher,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > MAX_BYTES) {
        res.body.destroy();
        return fail(`GET /models answered more than ${MAX_BYTES} bytes`);
      }
      parts.push(chunk);
    }
    if (res.statusCode !== 200) return fail(`GET /models answered ${res.statusCode}`);
    let ids: string[];
    try {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { data?: { id?: unknown }[] };
      ids = (body.data ?? []).map((d) => d.id).filter((id): id is string => typeof id === 'string' && id !== '');
    } catch {
      return fail('GET /models answered something other than JSON');
    }
    if (ids.length === 0) return fail('GET /models listed no model');
    if (signal.aborted) return fail('aborted');
    this.opts.onModels([...new Set(ids)].sort());
    return OK;
  }

  protected override async dispose(): Promise<void> {
    await this.dispatcher.close();
  }
}
