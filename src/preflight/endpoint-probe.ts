/**
 * One small request to one endpoint through the soak's own client
 * (src/traffic/client.ts), so the preflight classifies exactly as the soak
 * will: a short prompt, a small max_tokens, ignore_eos where a scenario asks
 * for it, stream_options.include_usage on a stream. It notes what came back:
 * outcome and the server's words, tokens and their source, the kinds of
 * deltas (content, reasoning, tool calls).
 */
import type { ClientOptions } from '../traffic/client.js';
import { sendRequest } from '../traffic/client.js';
import { PATHS, buildGenerationBody } from '../traffic/workload.js';
import type { Endpoint } from '../types.js';
import type { DeltaKind, EndpointProbe } from './types.js';

/** max_tokens of a generation probe: small, and below what the prompt asks for, so a cut is visible. */
export const PROBE_MAX_TOKENS = 8;
const PROBE_PROMPT = 'Count from one to fifty in words, separated by commas.';
/** Statuses that say the endpoint is not there at all (not that it failed). */
const MISSING_STATUSES = new Set([404, 405, 501]);

function nonEmpty(v: unknown): boolean {
  return (typeof v === 'string' && v.length > 0) || (Array.isArray(v) && v.length > 0);
}

/** The delta kinds of one API object (a chunk's delta, or an answer's message). */
export function deltaKindsOf(obj: unknown, into: Set<DeltaKind>): void {
  if (obj === null || typeof obj !== 'object') return;
  const choices = (obj as { choices?: unknown }).choices;
  if (!Array.isArray(choices)) return;
  for (const c of choices as unknown[]) {
    if (c === null || typeof c !== 'object') continue;
    const choice = c as { delta?: Record<string, unknown>; message?: Record<string, unknown>; text?: unknown };
    const d = choice.delta ?? choice.message;
    if (d && typeof d === 'object') {
      if (nonEmpty(d.content)) into.add('content');
      if (nonEmpty(d.reasoning_content) || nonEmpty(d.reasoning)) into.add('reasoning');
      if (nonEmpty(d.tool_calls)) into.add('tool_calls');
    }
    if (nonEmpty(choice.text)) into.add('content');
  }
}

function bodyFor(endpoint: Endpoint, model: string, stream: boolean, ignoreEos: boolean): string {
  if (endpoint === 'embeddings' || endpoint === 'moderations') return JSON.stringify({ model, input: 'Hello.' });
  const gen = buildGenerationBody(model, PROBE_MAX_TOKENS, stream, ignoreEos);
  if (endpoint === 'completions') gen.prompt = PROBE_PROMPT;
  else gen.messages = [{ role: 'user', content: PROBE_PROMPT }];
  return JSON.stringify(gen);
}

export interface ProbeTarget {
  client: ClientOptions;
  /** Path prefix of the API on the target, e.g. /v1 */
  basePath: string;
  model: string;
}

export async function probeEndpoint(t: ProbeTarget, endpoint: Endpoint, stream: boolean, ignoreEos: boolean, signal?: AbortSignal): Promise<EndpointProbe> {
  const kinds = new Set<DeltaKind>();
  const client: ClientOptions = { ...t.client, observe: (obj) => deltaKindsOf(obj, kinds) };
  const path = t.basePath + PATHS[endpoint];
  const generates = endpoint === 'chat' || endpoint === 'completions';
  const body = bodyFor(endpoint, t.model, stream, generates && ignoreEos);
  // Counted before the clock starts: the first count may start the counting thread (~0.2 s, token-count-thread.ts).
  const promptTokens = client.countTokens(PROBE_PROMPT);
  const started = client.clock.monoNs();
  const { record, text } = await sendRequest(
    client,
    {
      id: `preflight-${endpoint}${stream ? '-stream' : ''}`,
      scenario: 'preflight',
      endpoint,
      model: t.model,
      stream,
      path,
      body,
      promptTokens,
      keepText: true,
    },
    started,
    () => undefined,
    signal,
  );
  const ms = Number(record.endedAt - started) / 1e6;
  const probe: EndpointProbe = {
    endpoint,
    stream,
    path,
    outcome: record.outcome,
    missing: record.httpStatus !== undefined && MISSING_STATUSES.has(record.httpStatus),
    ms: Number(ms.toFixed(1)),
  };
  if (record.httpStatus !== undefined) probe.httpStatus = record.httpStatus;
  if (record.errorDetail !== undefined) probe.message = record.errorDetail;
  if (generates && record.outcome === 'ok') {
    probe.askedTokens = PROBE_MAX_TOKENS;
    probe.ignoreEos = ignoreEos;
    probe.outputTokens = record.outputTokens;
    probe.tokenSource = record.tokenSource;
    if (text !== undefined) probe.tokenizerTokens = client.countTokens(text);
    probe.deltaKinds = [...kinds].sort();
    if (stream) probe.chunks = record.contentChunks;
  }
  return probe;
}
