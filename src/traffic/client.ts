/**
 * One request to an OpenAI-compatible endpoint, timed at the exact points
 * where bytes arrive (undici dispatch handler callbacks), ending as exactly
 * one RequestRecord whatever the target does. Failures are data (an
 * ErrorClass), never exceptions.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Endpoint, ErrorClass, RequestRecord, ServerTimings } from '../types.js';
import { SseParser, isDone, type SseEvent } from './sse.js';
import { tokenizerLoaded } from '../tokenizer.js';
import { newTraceContext } from '../tracing/trace-context.js';
import { phasesOf, releaseRequest, watchRequest, type WireTimings } from '../tracing/wire-phases.js';
import { BODY_PEEK_BYTES, bodyMessage, fallbackDetail, finishDetail, httpErrorLine } from './error-detail.js';

export interface PreparedRequest {
  id: string;
  scenario: string;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** Path below the origin, e.g. /v1/chat/completions */
  path: string;
  /** JSON request body. */
  body: string;
  /** Tokenizer count of the prompt, used when the server sends no usage. */
  promptTokens: number;
  /** Keep the generated text (multi-turn chats feed it back). */
  keepText: boolean;
}

export interface ClientOptions {
  dispatcher: Dispatcher;
  /** Headers sent with every request (authorization included; never logged). */
  headers: Record<string, string>;
  clock: Clock;
  totalTimeoutMs: number;
  /** Largest response body kept (non-streamed JSON, error bodies, text), bytes. */
  maxBodyBytes: number;
  /**
   * Largest SSE event (or unterminated line) buffered, bytes; default 1 MiB.
   * A stream past it is `malformed` (garbage without line breaks must not
   * grow memory without end).
   */
  maxEventBytes?: number;
  /**
   * Generated text kept per request for the tokenizer fallback and multi-turn
   * history, characters; default 32 Ki. Tokens of content past it are
   * estimated from the kept text's tokens per character, so a runaway stream
   * neither grows memory nor blocks the event loop in the tokenizer.
   */
  maxTextChars?: number;
  countTokens: (text: string) => number;
  /** Replaces secrets in a failure's detail before it is cut (src/security/secrets.ts); absent: kept as is. */
  scrub?: (text: string) => string;
  /** Sees every parsed API object (each SSE event's data, or the whole body); the preflight reads delta kinds here. Absent on the soak's path. */
  observe?: (obj: unknown) => void;
}

export interface RequestResult {
  record: RequestRecord;
  /** Generated text, when keepText was asked and something arrived. */
  text?: string;
}

/** Why llmsoak itself aborted a request; mapped to an ErrorClass. */
class AbortReason extends Error {
  constructor(
    readonly cls: ErrorClass,
    message: string,
  ) {
    super(message);
  }
}

interface ChatDelta {
  content?: unknown;
  reasoning_content?: unknown;
  reasoning?: unknown;
  tool_calls?: unknown;
}
interface Choice {
  delta?: ChatDelta;
  message?: ChatDelta;
  text?: unknown;
  finish_reason?: unknown;
}
interface ApiObject {
  choices?: Choice[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  timings?: ServerTimings;
  error?: unknown;
  data?: unknown;
  /** Moderations: one verdict per input. */
  results?: unknown;
}

function nonEmpty(v: unknown): boolean {
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return false;
}

/** The text a chunk or message carries (content, reasoning, or a tool-call delta). */
function contentOf(choice: Choice | undefined, stream: boolean): string | undefined {
  if (!choice) return undefined;
  const d = stream ? choice.delta : choice.message;
  if (d) {
    if (nonEmpty(d.content)) return d.content as string;
    if (nonEmpty(d.reasoning_content)) return d.reasoning_content as string;
    if (nonEmpty(d.reasoning)) return d.reasoning as string;
    if (nonEmpty(d.tool_calls)) return JSON.stringify(d.tool_calls);
  }
  if (nonEmpty(choice.text)) return choice.text as string;
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const LBRACE = 0x7b;

/**
 * The content of a plain streamed chat delta, read from the event's text in
 * one pass without building objects: strings are skipped whole (so nothing
 * inside one is mistaken for a key), and a string followed by ':' is a key.
 * It answers only for `... "delta":{"content":"<non-empty>" ...` with one
 * delta and no usage (unless null), timings, error, tool call or reasoning
 * key anywhere; every other shape (undefined) goes through JSON.parse.
 * Compact JSON only (what vLLM, SGLang, llama.cpp and the simulator send);
 * spaced JSON takes the JSON.parse path, correct and slower.
 */
export function contentDelta(data: string): { text: string; finished: boolean } | undefined {
  const n = data.length;
  if (n === 0 || data.charCodeAt(0) !== LBRACE) return undefined;
  let deltas = 0;
  let finished = false;
  let wantContent = false;
  let from = -1;
  let to = -1;
  let escaped = false;
  for (let i = 1; i < n; i++) {
    if (data.charCodeAt(i) !== QUOTE) continue;
    // A string from i + 1 to its closing quote at j.
    let j = i + 1;
    let esc = false;
    for (; j < n; j++) {
      const c = data.charCodeAt(j);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        esc = true;
        j++;
      }
    }
    if (j >= n) return undefined;
    if (wantContent) {
      // The value of delta.content.
      wantContent = false;
      from = i + 1;
      to = j;
      escaped = esc;
    } else if (data.charCodeAt(j + 1) === COLON) {
      const len = j - i - 1;
      const c0 = data.charCodeAt(i + 1);
      if (len === 5 && c0 === 0x64 && data.startsWith('delta', i + 1)) {
        if (++deltas > 1) return undefined;
      } else if (len === 7 && c0 === 0x63 && data.startsWith('content', i + 1) && data.startsWith('"delta":{', i - 9)) {
        if (data.charCodeAt(j + 2) !== QUOTE) return undefined; // content null or not a string
        wantContent = true;
      } else if (len === 13 && c0 === 0x66 && data.startsWith('finish_reason', i + 1)) {
        finished = data.charCodeAt(j + 2) === QUOTE;
      } else if (
        (len === 5 && c0 === 0x75 && data.startsWith('usage', i + 1) && !data.startsWith('null', j + 2)) ||
        (len === 5 && c0 === 0x65 && data.startsWith('error', i + 1)) ||
        (len === 7 && c0 === 0x74 && data.startsWith('timings', i + 1)) ||
        (len === 10 && c0 === 0x74 && data.startsWith('tool_calls', i + 1)) ||
        (len >= 9 && c0 === 0x72 && data.startsWith('reasoning', i + 1))
      ) {
        return undefined;
      }
    }
    i = j;
  }
  if (from < 0 || to <= from) return undefined; // no content, or empty
  if (!escaped) return { text: data.slice(from, to), finished };
  try {
    return { text: JSON.parse(data.slice(from - 1, to + 1)) as string, finished };
  } catch {
    return undefined;
  }
}

/** Inter-chunk gaps kept per request at most (ITL of longer streams is sampled from their first gaps). */
export const MAX_TOKEN_GAPS = 16_384;
const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
const DEFAULT_MAX_TEXT_CHARS = 32 * 1024;
/** Requests with usage whose text is also counted by the tokenizer: one in this many (the first included). */
export const TOKENIZER_SAMPLE_EVERY = 20;
let tokenizerSample = 0;

/** The constant headers as undici's flat array, made once per headers object (each request adds its traceparent first). */
const flatHeaders = new WeakMap<Record<string, string>, string[]>();
function flat(headers: Record<string, string>): string[] {
  let f = flatHeaders.get(headers);
  if (!f) {
    f = Object.entries(headers).flat();
    flatHeaders.set(headers, f);
  }
  return f;
}

export function sendRequest(opts: ClientOptions, req: PreparedRequest, scheduledAt: bigint, onTokens: (n: number) => void, signal?: AbortSignal): Promise<RequestResult> {
  const clock = opts.clock;
  return new Promise<RequestResult>((resolve) => {
    const record: RequestRecord = {
      id: req.id,
      scenario: req.scenario,
      endpoint: req.endpoint,
      model: req.model,
      stream: req.stream,
      scheduledAt,
      sentAt: 0n,
      endedAt: 0n,
      tokenGapsNs: [],
      contentChunks: 0,
      inputTokens: req.promptTokens,
      outputTokens: 0,
      tokenSource: 'tokenizer',
      outcome: 'ok',
    };
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let responseStarted = false;
    let sse: SseParser | undefined;
    let bodyParts: Buffer[] = [];
    let bodyBytes = 0;
    const textParts: string[] = [];
    let textBytes = 0;
    const maxText = opts.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
    const maxEvent = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    /** Characters of content past maxText: estimated at the kept text's tokens per character. */
    let droppedChars = 0;
    let usageCompletion: number | undefined;
    let usagePrompt: number | undefined;
    let sawDone = false;
    let sawFinish = false;
    let streamError: ErrorClass | undefined;
    let finished = false;
    let chunkAt = 0n;
    let wire: WireTimings | undefined;
    /** Why it failed, in the server's words or the transport's (record.errorDetail). */
    let detail: string | undefined;
    let reason: string | undefined;
    let contentType = '';

    const finish = (outcome: ErrorClass | 'ok') => {
      if (finished) return;
      finished = true;
      clearTimeout(totalTimer);
      signal?.removeEventListener('abort', onAbort);
      record.endedAt = clock.monoNs();
      record.outcome = outcome;
      if (status) record.httpStatus = status;
      if (outcome !== 'ok') record.errorDetail = finishDetail(detail ?? fallbackDetail(outcome, status), opts.scrub);
      if (wire) {
        releaseRequest(wire);
        record.phases = phasesOf(wire, record.sentAt, record.firstTokenAt, record.lastTokenAt, record.endedAt);
      }
      const text = textParts.length ? textParts.join('') : undefined;
      if (usagePrompt !== undefined) record.inputTokens = usagePrompt;
      if (usageCompletion !== undefined) {
        record.outputTokens = usageCompletion;
        record.tokenSource = 'usage';
        // Where the fallback is loaded (a target that leaves usage out, or a workload that counts text),
        // one request in TOKENIZER_SAMPLE_EVERY is also counted by the tokenizer, so the fallback's error
        // against usage is known (llmsoak_output_token_tokenizer_error_ratio). A target that always reports
        // usage never loads it for this (~14 MB): the start-up preflight compares the two instead.
        if (text && droppedChars === 0 && tokenizerLoaded() && tokenizerSample++ % TOKENIZER_SAMPLE_EVERY === 0) record.tokenizerOutputTokens = opts.countTokens(text);
      } else if (req.endpoint !== 'embeddings' && req.endpoint !== 'moderations') {
        const counted = text ? opts.countTokens(text) : 0;
        record.outputTokens = counted + (droppedChars > 0 && textBytes > 0 ? Math.round((droppedChars * counted) / textBytes) : 0);
        record.tokenizerOutputTokens = record.outputTokens;
        record.tokenSource = 'tokenizer';
      }
      bodyParts = [];
      resolve(text !== undefined && req.keepText ? { record, text } : { record });
    };

    const abort = (cls: ErrorClass, why: string) => {
      detail ??= why;
      if (controller && !controller.aborted) controller.abort(new AbortReason(cls, why));
      else finish(cls);
    };

    const totalTimer = setTimeout(() => abort('timeout_total', 'total timeout'), opts.totalTimeoutMs);
    const onAbort = () => abort('cancelled', 'cancelled by llmsoak');
    if (signal) {
      if (signal.aborted) {
        record.sentAt = clock.monoNs();
        finish('cancelled');
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }

    const keepText = (t: string) => {
      if (textBytes >= maxText) {
        droppedChars += t.length;
        return;
      }
      const part = t.length > maxText - textBytes ? t.slice(0, maxText - textBytes) : t;
      droppedChars += t.length - part.length;
      textParts.push(part);
      textBytes += part.length;
    };

    const contentArrived = (t: string) => {
      const now = chunkAt;
      if (record.firstTokenAt === undefined) record.firstTokenAt = now;
      else if (record.lastTokenAt !== undefined && record.tokenGapsNs.length < MAX_TOKEN_GAPS) record.tokenGapsNs.push(Number(now - record.lastTokenAt));
      record.lastTokenAt = now;
      record.contentChunks++;
      keepText(t);
      onTokens(1);
    };

    const takeUsage = (o: ApiObject) => {
      const u = o.usage;
      if (u && typeof u === 'object') {
        if (typeof u.completion_tokens === 'number') usageCompletion = u.completion_tokens;
        if (typeof u.prompt_tokens === 'number') usagePrompt = u.prompt_tokens;
      }
      if (o.timings && typeof o.timings === 'object') record.serverTimings = o.timings;
    };

    const onEvent = (ev: SseEvent) => {
      if (finished || streamError) return;
      if (isDone(ev)) {
        sawDone = true;
        return;
      }
      // An `event: error` is the server giving up mid-stream, whatever its data says (JSON or not).
      if (ev.event === 'error') {
        streamError = 'stream_cut';
        abort('stream_cut', 'error event mid-stream');
        return;
      }
      // Most events are one content delta: found from the text, no JSON.parse (see contentDelta).
      // (An observer, the preflight's, sees every event parsed: it is off the soak's path.)
      const fast = opts.observe ? undefined : contentDelta(ev.data);
      if (fast !== undefined) {
        contentArrived(fast.text);
        if (fast.finished) sawFinish = true;
        return;
      }
      let obj: ApiObject;
      try {
        obj = JSON.parse(ev.data) as ApiObject;
      } catch {
        streamError = 'malformed';
        abort('malformed', `unparsable SSE data: ${ev.data.slice(0, 120)}`);
        return;
      }
      opts.observe?.(obj);
      if (obj && typeof obj === 'object' && obj.error !== undefined && obj.error !== null) {
        streamError = 'stream_cut';
        abort('stream_cut', `error event mid-stream: ${bodyMessage(ev.data)}`);
        return;
      }
      if (!obj || typeof obj !== 'object') {
        streamError = 'malformed';
        abort('malformed', 'SSE data is not an object');
        return;
      }
      const choice = Array.isArray(obj.choices) ? obj.choices[0] : undefined;
      const t = contentOf(choice, true);
      if (t !== undefined) contentArrived(t);
      if (choice && typeof choice.finish_reason === 'string') sawFinish = true;
      takeUsage(obj);
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
      },
      onResponseStart(_c, statusCode, headers, statusMessage) {
        responseStarted = true;
        status = statusCode;
        reason = statusMessage;
        const ct = String(headers['content-type'] ?? '');
        contentType = ct;
        if (statusCode === 200 && ct.includes('text/event-stream')) sse = new SseParser(onEvent);
      },
      onResponseData(c, chunk) {
        chunkAt = clock.monoNs();
        if (sse) {
          sse.push(chunk);
          if (sse.pendingBytes > maxEvent && !finished) {
            detail ??= `SSE event over ${maxEvent} bytes`;
            c.abort(new AbortReason('malformed', detail));
          }
          return;
        }
        bodyBytes += chunk.length;
        if (bodyBytes > opts.maxBodyBytes) {
          detail ??= `${status} response body over ${opts.maxBodyBytes} bytes`;
          c.abort(new AbortReason('malformed', detail));
          return;
        }
        bodyParts.push(chunk);
      },
      onResponseEnd() {
        if (finished) return;
        // Only the start of an error body is read for its message (Buffer.concat with a length copies no more).
        if (status < 200 || status >= 300) detail = httpErrorLine(status, reason, Buffer.concat(bodyParts, Math.min(bodyBytes, BODY_PEEK_BYTES)), contentType);
        if (status === 429) return finish('http_429');
        if (status >= 500) return finish('http_5xx');
        if (status >= 400) return finish('http_4xx');
        if (status < 200 || status >= 300) return finish('malformed');
        if (sse) {
          if (streamError) return finish(streamError);
          if (record.contentChunks === 0 && usageCompletion === undefined && !sawDone && !sawFinish) {
            detail = `${status} stream closed with no event`;
            return finish('empty');
          }
          if (!sawDone && !sawFinish) {
            detail = 'stream closed without [DONE] or a finish_reason';
            return finish('stream_cut');
          }
          return finish('ok');
        }
        finish(parseBody());
      },
      onResponseError(_c, err) {
        if (finished) return;
        if (err instanceof AbortReason) return finish(err.cls);
        const code = (err as { code?: string }).code ?? '';
        detail = code !== '' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
        if (code === 'UND_ERR_CONNECT_TIMEOUT') return finish('timeout_connect');
        if (code === 'UND_ERR_HEADERS_TIMEOUT') return finish('timeout_headers');
        if (code === 'UND_ERR_BODY_TIMEOUT') return finish('timeout_idle');
        // No response yet: refused, unreachable, or reset before answering.
        if (!responseStarted) return finish('connect');
        return finish('stream_cut');
      },
    };

    /** A complete non-streamed body: classify and extract tokens and text. */
    const parseBody = (): ErrorClass | 'ok' => {
      if (bodyBytes === 0) return 'empty';
      let obj: ApiObject;
      const text = Buffer.concat(bodyParts).toString('utf8');
      try {
        obj = JSON.parse(text) as ApiObject;
      } catch {
        detail = `${status} body is not JSON: ${bodyMessage(text, contentType)}`;
        return 'malformed';
      }
      if (!obj || typeof obj !== 'object') return 'malformed';
      opts.observe?.(obj);
      takeUsage(obj);
      if (req.endpoint === 'embeddings') {
        if (!Array.isArray(obj.data) || obj.data.length === 0) return 'empty';
        record.firstTokenAt = undefined;
        record.lastTokenAt = chunkAt;
        return 'ok';
      }
      if (req.endpoint === 'moderations') {
        // OpenAI's shape: { id, model, results: [{ flagged, categories, category_scores }] }; no tokens out.
        if (!Array.isArray(obj.results)) return 'malformed';
        if (obj.results.length === 0) return 'empty';
        const r0: unknown = obj.results[0];
        if (typeof r0 !== 'object' || r0 === null || typeof (r0 as { flagged?: unknown }).flagged !== 'boolean') return 'malformed';
        record.firstTokenAt = undefined;
        record.lastTokenAt = chunkAt;
        return 'ok';
      }
      if (!Array.isArray(obj.choices)) return 'malformed';
      const t = contentOf(obj.choices[0], false);
      if (t === undefined && !usageCompletion) return 'empty';
      if (t !== undefined) keepText(t);
      // Not streamed: the content arrives with the body; no TTFT, E2E ends at the last byte.
      record.lastTokenAt = chunkAt;
      record.contentChunks = t === undefined ? 0 : 1;
      return 'ok';
    };

    const trace = newTraceContext();
    record.traceId = trace.traceId;
    // traceparent first: the phase watcher finds the request by it (src/tracing/wire-phases.ts).
    const headers = ['traceparent', trace.traceparent].concat(flat(opts.headers));
    wire = watchRequest(trace.traceparent, clock);
    record.sentAt = clock.monoNs();
    try {
      opts.dispatcher.dispatch({ path: req.path, method: 'POST', headers, body: req.body }, handler);
    } catch {
      finish('connect');
    }
  });
}
