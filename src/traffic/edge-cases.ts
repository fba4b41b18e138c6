/**
 * Edge-case requests at a small weight, each kind its own scenario (label
 * `edge_<kind>`), so what a target does with them is counted apart from the
 * ordinary traffic:
 *
 * - nearContextLimit (`edge_near_context_limit`): alternately a chat prompt
 *   that with its max_tokens fills about 90% of the context, and one 10%
 *   beyond it. A server should answer the first and refuse the second with a
 *   400 (recorded as http_4xx, never as a crash of llmsoak).
 * - unicode (`edge_unicode`): prose laced with C0/C1 control characters,
 *   NUL, zero-width and bidi-override characters, stacked combining marks,
 *   emoji ZWJ sequences, a lone surrogate, several scripts.
 * - nestedJson (`edge_nested_json`): a prompt carrying JSON nested
 *   NESTED_JSON_DEPTH levels deep (as text; the request body itself is flat).
 * - runawayOutput (`edge_runaway_output`): a short prompt asking for output
 *   up to the rest of the context (max_tokens = context - prompt, ignore_eos):
 *   the longest stream the target allows.
 *
 * The context length comes from `traffic.edgeCases.contextTokens`, else from
 * the target's GET /v1/models (`max_model_len`, as vLLM and the simulator say
 * it), else DEFAULT_CONTEXT_TOKENS with one warning.
 */
import { request } from 'undici';
import type { ScenarioConfig } from './config.js';
import type { PromptBuilder } from './prompts.js';
import type { EdgeCasesConfig } from './config.js';

export type { EdgeCasesConfig } from './config.js';

export type EdgeCaseKind = 'nearContextLimit' | 'unicode' | 'nestedJson' | 'runawayOutput';
export const EDGE_CASE_KINDS: readonly EdgeCaseKind[] = ['nearContextLimit', 'unicode', 'nestedJson', 'runawayOutput'];

export const DEFAULT_CONTEXT_TOKENS = 8192;
export const NESTED_JSON_DEPTH = 512;
/** max_tokens of near-limit requests. */
const NEAR_LIMIT_OUTPUT = 16;
/** Room left for the chat template's own tokens, which llmsoak's count leaves out. */
const TEMPLATE_MARGIN = 64;

const SCENARIO_NAMES: Readonly<Record<EdgeCaseKind, string>> = {
  nearContextLimit: 'edge_near_context_limit',
  unicode: 'edge_unicode',
  nestedJson: 'edge_nested_json',
  runawayOutput: 'edge_runaway_output',
};

export function edgeScenarioName(kind: EdgeCaseKind): string {
  return SCENARIO_NAMES[kind];
}

/**
 * The scenarios to add for the edge cases: one per kind, weighted so that
 * edge cases are `weight` of all requests. Empty when off.
 */
export function edgeCaseScenarios(scenarios: readonly ScenarioConfig[], cfg: EdgeCasesConfig): ScenarioConfig[] {
  if (!(cfg.weight > 0) || cfg.kinds.length === 0) return [];
  const kinds = [...new Set(cfg.kinds)];
  const total = scenarios.reduce((n, s) => n + s.weight, 0);
  // An edge-only config (no weighted scenario) sends edge cases only.
  const each = total > 0 ? (cfg.weight * total) / ((1 - cfg.weight) * kinds.length) : 1;
  return kinds.map((kind) => ({
    name: SCENARIO_NAMES[kind],
    weight: each,
    endpoint: 'chat',
    stream: true,
    prompt: { dist: 'fixed', value: 1 },
    output: { dist: 'fixed', value: NEAR_LIMIT_OUTPUT },
    turns: { min: 1, max: 1 },
    ignoreEos: kind === 'runawayOutput',
    promptKind: 'qa',
    edgeCase: kind,
  }));
}

/** A built edge-case chat body (without model/stream fields) and its prompt tokens (llmsoak's count). */
export interface EdgeRequest {
  messages: { role: 'system' | 'user'; content: string }[];
  /** Sent as max_tokens. */
  maxTokens: number;
  ignoreEos: boolean;
  promptTokens: number;
}

/** Control, invisible, bidi, combining and astral characters that break naive text handling. */
const NASTY: readonly string[] = [
  '\u0000',
  '\u0007',
  '\u0008',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u00ad',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2028',
  '\u2029',
  '\u202e',
  '\u2066',
  '\ufeff',
  '\ufffd',
  '\r\n',
  '\t\t',
  'e\u0301',
  'a\u0308\u0304',
  'Z\u0351\u0352\u0357\u035b\u0346\u0314\u0301\u0300',
  '\u{1F469}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}',
  '\u{1F1FA}\u{1F1F3}',
  '\u{1F44D}\u{1F3FD}',
  '\ud800',
  'مرحبا بالعالم',
  'שלום עולם',
  'नमस्ते दुनिया',
  '你好，世界',
  'こんにちは世界',
  'Ünïcödé',
  '\u{1D54F}\u{1D552}\u{1D55D}',
];

/** Builds the requests of the edge-case kinds. */
export class EdgeCaseBuilder {
  private nearLimitSeq = 0;

  constructor(
    private readonly prompts: PromptBuilder,
    /** Context length of the target, tokens. */
    readonly contextTokens: number,
  ) {}

  build(kind: EdgeCaseKind): EdgeRequest {
    switch (kind) {
      case 'nearContextLimit':
        return this.nearContextLimit();
      case 'unicode':
        return this.user(this.unicodeText(), NEAR_LIMIT_OUTPUT, false);
      case 'nestedJson':
        return this.user(`Check whether this JSON document is valid and say how deep it is nested:\n${nestedJson(NESTED_JSON_DEPTH)}`, NEAR_LIMIT_OUTPUT, false);
      case 'runawayOutput': {
        const r = this.user('Write a story that never ends. Keep going for as long as you are allowed to, and do not stop on your own.', 1, true);
        r.maxTokens = Math.max(1, this.contextTokens - r.promptTokens - TEMPLATE_MARGIN);
        return r;
      }
    }
  }

  /** Alternately ~90% of the context (answerable) and 110% (a 400 from a server that checks). */
  private nearContextLimit(): EdgeRequest {
    const over = this.nearLimitSeq++ % 2 === 1;
    const tokens = over ? Math.ceil(this.contextTokens * 1.1) : Math.max(1, Math.floor(this.contextTokens * 0.9) - NEAR_LIMIT_OUTPUT - TEMPLATE_MARGIN);
    const messages = this.prompts.chatMessages('summary', tokens);
    return { messages, maxTokens: NEAR_LIMIT_OUTPUT, ignoreEos: false, promptTokens: tokens };
  }

  private user(content: string, maxTokens: number, ignoreEos: boolean): EdgeRequest {
    return { messages: [{ role: 'user', content }], maxTokens, ignoreEos, promptTokens: this.countTokens(content) };
  }

  /** ~200 tokens of prose with a nasty piece after every few words. */
  private unicodeText(): string {
    const words = this.prompts.text(200).split(' ');
    let out = 'Summarize this text, keeping every character you cannot interpret as it is:';
    for (let i = 0; i < words.length; i++) {
      out += ' ' + (words[i] ?? '');
      if (i % 4 === 3) out += NASTY[(i >> 2) % NASTY.length];
    }
    return out;
  }

  /** Text with special-token lookalikes must not throw: count as plain text. */
  private countTokens(text: string): number {
    try {
      return this.prompts.countTokens(text);
    } catch {
      return Math.ceil(text.length / 4);
    }
  }
}

/** JSON nested `depth` levels, objects and arrays alternating, with escapes on the way. */
export function nestedJson(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    if (i % 2 === 0) {
      open += `{"k${i}":`;
      close = '}' + close;
    } else {
      open += `[${i % 7 === 1 ? '"q\\"uote\\\\",' : ''}`;
      close = ']' + close;
    }
  }
  return open + 'null' + close;
}

/**
 * The context length to build edge cases for: configured, else the target's
 * `max_model_len` from GET /models (undefined when it does not say).
 */
export async function discoverContextTokens(baseUrl: string, headers: Record<string, string>): Promise<number | undefined> {
  try {
    const res = await request(`${baseUrl}/models`, { headers, headersTimeout: 10_000, bodyTimeout: 10_000, signal: AbortSignal.timeout(15_000) });
    // A hostile target may answer with a huge body: read at most 1 MiB.
    let text = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > 1024 * 1024) {
        res.body.destroy();
        return undefined;
      }
    }
    if (res.statusCode !== 200) return undefined;
    const body = JSON.parse(text) as { data?: { max_model_len?: unknown }[] };
    const len = body.data?.[0]?.max_model_len;
    return typeof len === 'number' && Number.isInteger(len) && len > 0 ? len : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The context length edge cases are built for: `contextTokens` when set, else
 * the target's max_model_len, else DEFAULT_CONTEXT_TOKENS with one warning.
 * No request is made when no edge case needs it.
 */
export async function resolveContextTokens(cfg: EdgeCasesConfig, baseUrl: string, headers: Record<string, string>, warn: (msg: string) => void): Promise<number | undefined> {
  if (!(cfg.weight > 0) || !cfg.kinds.some((k) => k === 'nearContextLimit' || k === 'runawayOutput')) return cfg.contextTokens;
  if (cfg.contextTokens !== undefined) return cfg.contextTokens;
  const found = await discoverContextTokens(baseUrl, headers);
  if (found !== undefined) return found;
  warn(`traffic.edgeCases: the target does not say its context length (max_model_len in GET /models); edge cases assume ${DEFAULT_CONTEXT_TOKENS} tokens (set traffic.edgeCases.contextTokens)`);
  return DEFAULT_CONTEXT_TOKENS;
}
