/**
 * One object per in-flight request: it owns the HTTP response, receives the
 * engine's tokens, writes them in OpenAI's wire format, applies the request's
 * mid-response faults, measures the server-side timings at the moment each
 * chunk is written, and feeds the vLLM-style histograms.
 */
import type { ServerResponse } from 'node:http';
import type { ServerTimings } from '../types.js';
import type { SimulatorConfig } from './config.js';
import type { Engine, Seq, SeqHandler } from './engine.js';
import type { FaultController, MidResponsePlan } from './faults.js';
import type { FinishedReason, SimMetrics } from './metrics.js';
import type { Rng } from './rng.js';
import { TOKEN_JSON, TOKEN_TEXT, embed, pickToken } from './tokens.js';
import { SSE_DONE, SSE_HEADERS, errorBody, r3, sendError, sendJson, timingsJson, usageJson } from './wire.js';

/** What request objects need from the simulator. */
export interface SimContext {
  readonly cfg: SimulatorConfig;
  readonly rng: Rng;
  readonly faults: FaultController;
  readonly metrics: SimMetrics;
  readonly engine: Engine;
  /** JSON string literal of the model name. */
  readonly modelJson: string;
  /** A new response id suffix. */
  nextId(): string;
  /** Timers that close() must clear. */
  readonly timers: Set<NodeJS.Timeout>;
}

const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

/** What every request kind shares: queue-time and prompt-token accounting, failure, client gone. */
export abstract class BaseRequest implements SeqHandler {
  protected done = false;
  seq: Seq | undefined;

  constructor(
    protected readonly ctx: SimContext,
    protected readonly res: ServerResponse,
    readonly arrivalNs: bigint,
  ) {}

  onScheduled(seq: Seq, nowNs: bigint): void {
    const m = this.ctx.metrics;
    m.queueTime.observe(Number(nowNs - this.arrivalNs) / 1e9);
    m.promptTokens.inc(seq.promptTokens);
    if (seq.blocks !== undefined) {
      m.prefixCacheQueries.inc(seq.promptTokens);
      m.prefixCacheHits.inc(seq.cachedTokens);
    }
  }

  abstract onToken(seq: Seq, last: boolean, stepEndNs: bigint): void;
  abstract onPrefilled(seq: Seq, stepEndNs: bigint): void;

  onFail(_seq: Seq, message: string): void {
    if (this.done) return;
    this.finish('error');
    if (!this.res.headersSent) {
      sendError(this.res, 400, message, null, 'context_length_exceeded');
    } else {
      this.res.end(`data: ${JSON.stringify(errorBody(400, message))}\n\n${SSE_DONE}`);
    }
  }

  /** The response closed: if we were not done, the client went away. */
  onClose(): void {
    if (this.done) return;
    this.finish('abort');
    if (this.seq !== undefined) this.ctx.engine.abort(this.seq);
  }

  protected finish(reason: FinishedReason): void {
    this.done = true;
    this.ctx.metrics.finished(reason);
    if (reason === 'stop' || reason === 'length') {
      this.ctx.metrics.e2e.observe(Number(process.hrtime.bigint() - this.arrivalNs) / 1e9);
    }
  }

  protected queueMs(): number {
    const s = this.seq;
    return s === undefined || s.firstScheduledNs === 0n ? 0 : r3(nsToMs(s.firstScheduledNs - this.arrivalNs));
  }

  /** Ground truth of a request answered in one piece after prefill (embeddings, moderations): its TTFT is the whole answer. */
  protected oneShotTimings(now: bigint, promptTokens: number): ServerTimings {
    this.ctx.metrics.ttft.observe(Number(now - this.arrivalNs) / 1e9);
    return {
      queue_ms: this.queueMs(),
      ttft_ms: r3(nsToMs(now - this.arrivalNs)),
      itl_ms: [],
      prompt_tokens: promptTokens,
      completion_tokens: 0,
      preemptions: this.seq?.preemptions ?? 0,
    };
  }
}

export type GenKind = 'chat' | 'completions';

/** A chat or completions request, streamed or not. */
export class GenRequest extends BaseRequest {
  private readonly id: string;
  private readonly created: number;
  /** Stream only: everything of a content chunk before the token's JSON string. */
  private readonly prefix: string;
  private readonly itl: number[] = [];
  private firstWriteNs = 0n;
  private lastWriteNs = 0n;
  private written = 0;
  /** Non-stream: token indexes generated. */
  private readonly tokens: number[] = [];
  /** Stream stall: tokens produced while stalled, with whether each was the last. */
  private pending: number[] | undefined;
  private pendingLast = false;

  constructor(
    ctx: SimContext,
    res: ServerResponse,
    arrivalNs: bigint,
    private readonly kind: GenKind,
    private readonly stream: boolean,
    private readonly includeUsage: boolean,
    private readonly finishReason: 'stop' | 'length',
    private readonly plan: MidResponsePlan | undefined,
    /** A golden answer's token texts (answers.ts): sent instead of random words, token i as index i. */
    private readonly answer?: readonly string[],
  ) {
    super(ctx, res, arrivalNs);
    this.id = (kind === 'chat' ? 'chatcmpl-' : 'cmpl-') + ctx.nextId();
    this.created = Math.floor(Date.now() / 1000);
    const head = `{"id":"${this.id}","object":"${kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'}","created":${this.created},"model":${ctx.modelJson},"choices":[`;
    this.prefix = kind === 'chat' ? `data: ${head}{"index":0,"delta":{"content":` : `data: ${head}{"index":0,"text":`;
  }

  onPrefilled(): void {
    // Generation requests always have a target ≥ 1.
  }

  onToken(seq: Seq, last: boolean): void {
    if (this.done) return;
    const j = seq.generated;
    const tok = this.answer === undefined ? pickToken(this.ctx.rng) : Math.min(j - 1, this.answer.length - 1);
    const plan = this.plan;
    if (plan !== undefined) {
      if (plan.resetBefore === j) {
        this.ctx.faults.count('reset');
        this.finish('abort');
        this.ctx.engine.abort(seq);
        this.res.socket?.resetAndDestroy();
        return;
      }
      if (plan.stallBefore === j && plan.stallMs !== undefined && this.pending === undefined) {
        this.ctx.faults.count('stall');
        this.pending = [];
        const t = setTimeout(() => {
          this.ctx.timers.delete(t);
          this.flushStall();
        }, plan.stallMs);
        this.ctx.timers.add(t);
      }
    }
    if (this.pending !== undefined) {
      this.pending.push(tok);
      this.pendingLast = last;
      return;
    }
    if (this.stream) this.write(tok, last);
    else this.collect(tok, last);
  }

  private flushStall(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p === undefined || this.done) return;
    for (let i = 0; i < p.length; i++) {
      const tok = p[i] ?? 0;
      const last = this.pendingLast && i === p.length - 1;
      if (this.stream) this.write(tok, last);
      else this.collect(tok, last);
      if (this.done) return;
    }
  }

  /** Record a token's write/production time. */
  private mark(): bigint {
    const now = process.hrtime.bigint();
    const m = this.ctx.metrics;
    if (this.written === 0) {
      this.firstWriteNs = now;
      m.ttft.observe(Number(now - this.arrivalNs) / 1e9);
    } else {
      const gapNs = Number(now - this.lastWriteNs);
      this.itl.push(Math.round(gapNs / 1000) / 1000);
      m.itl.observe(gapNs / 1e9);
    }
    this.lastWriteNs = now;
    this.written++;
    return now;
  }

  private timings(): ServerTimings {
    return {
      queue_ms: this.queueMs(),
      ttft_ms: r3(nsToMs(this.firstWriteNs - this.arrivalNs)),
      itl_ms: this.itl,
      prompt_tokens: this.seq?.promptTokens ?? 0,
      completion_tokens: this.written,
      preemptions: this.seq?.preemptions ?? 0,
    };
  }

  /** Stream: write one token's chunk (and on the last, the closing chunks). */
  private write(tok: number, last: boolean): void {
    this.mark();
    const res = this.res;
    let out = '';
    if (this.written === 1) {
      res.writeHead(200, SSE_HEADERS);
      if (this.kind === 'chat') {
        out =
          `data: {"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${this.ctx.modelJson},` +
          `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
      }
    }
    if (this.plan?.malformedBefore === this.written) {
      this.ctx.faults.count('malformed');
      out += `data: {"id":"${this.id}","choices":[{"index":0,"delta":{"content":" trunc\n\n`;
    }
    const close = this.kind === 'chat' ? '}' : '';
    if (!last) {
      res.write(out + this.prefix + this.tokenJson(tok) + close + ',"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n');
      return;
    }
    const t = this.timings();
    const completion = this.written;
    const prompt = t.prompt_tokens;
    out += this.prefix + this.tokenJson(tok) + close + `,"logprobs":null,"finish_reason":"${this.finishReason}","stop_reason":null}]`;
    if (this.includeUsage) {
      out +=
        `}\n\ndata: {"id":"${this.id}","object":"${this.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'}","created":${this.created},"model":${this.ctx.modelJson},"choices":[],` +
        usageJson(prompt, completion) +
        ',' +
        timingsJson(t) +
        '}\n\n';
    } else {
      out += ',' + timingsJson(t) + '}\n\n';
    }
    this.finish(this.finishReason);
    res.end(out + SSE_DONE);
  }

  /** JSON string literal of token `tok` (a word index, or an answer piece index). */
  private tokenJson(tok: number): string {
    return this.answer === undefined ? (TOKEN_JSON[tok] as string) : JSON.stringify(this.answer[tok] ?? '');
  }

  /** Non-stream: keep the token; on the last, answer the whole body. */
  private collect(tok: number, last: boolean): void {
    this.mark();
    this.tokens.push(tok);
    if (!last) return;
    let text = '';
    for (const i of this.tokens) text += this.answer === undefined ? TOKEN_TEXT[i] : this.answer[i];
    const t = this.timings();
    const usage = {
      prompt_tokens: t.prompt_tokens,
      total_tokens: t.prompt_tokens + t.completion_tokens,
      completion_tokens: t.completion_tokens,
      prompt_tokens_details: null,
    };
    const choice =
      this.kind === 'chat'
        ? { index: 0, message: { role: 'assistant', content: text, refusal: null, tool_calls: [] }, logprobs: null, finish_reason: this.finishReason, stop_reason: null }
        : { index: 0, text, logprobs: null, finish_reason: this.finishReason, stop_reason: null };
    const body = {
      id: this.id,
      object: this.kind === 'chat' ? 'chat.completion' : 'text_completion',
      created: this.created,
      model: this.ctx.cfg.model,
      choices: [choice],
      usage,
      timings: t,
    };
    this.finish(this.finishReason);
    if (this.plan?.malformedBefore !== undefined) {
      this.ctx.faults.count('malformed');
      const json = JSON.stringify(body);
      const cut = json.slice(0, Math.max(1, Math.floor(json.length / 2)));
      this.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) });
      this.res.end(cut);
      return;
    }
    sendJson(this.res, 200, body);
  }
}

/** An embeddings request: a prefill-only sequence; answers when its prefill step ends. */
export class EmbedRequest extends BaseRequest {
  constructor(
    ctx: SimContext,
    res: ServerResponse,
    arrivalNs: bigint,
    private readonly texts: string[],
    private readonly tokens: number,
    private readonly dim: number,
    private readonly base64: boolean,
  ) {
    super(ctx, res, arrivalNs);
  }

  onToken(): void {
    // Prefill only: never called.
  }

  onPrefilled(): void {
    if (this.done) return;
    const data = this.texts.map((text, index) => {
      const v = embed(text, this.dim);
      const embedding = this.base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v);
      return { object: 'embedding', index, embedding };
    });
    const timings = this.oneShotTimings(process.hrtime.bigint(), this.tokens);
    this.finish('stop');
    sendJson(this.res, 200, {
      object: 'list',
      data,
      model: this.ctx.cfg.model,
      usage: { prompt_tokens: this.tokens, total_tokens: this.tokens },
      timings,
    });
  }
}
