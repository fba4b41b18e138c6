/**
 * Turns weighted scenarios into concrete requests: picks a scenario, draws
 * prompt and output lengths, builds the body, and keeps multi-turn chat
 * sessions (each grows turn by turn). Knows nothing of timing or sending.
 */
import type { ScenarioConfig } from './config.js';
import type { PreparedRequest } from './client.js';
import type { Rng } from './random.js';
import { sampleLength } from './lengths.js';
import type { PromptBuilder } from './prompts.js';
import { SharedPrefixes, type SharedPrefixConfig } from './shared-prefix.js';
import { DEFAULT_CONTEXT_TOKENS, EdgeCaseBuilder } from './edge-cases.js';
import { CHAT_INSTRUCTIONS } from './prompt-templates.js';

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A multi-turn conversation; its history is sent again with each turn. */
export interface ChatSession {
  scenario: string;
  messages: Message[];
  /** Tokens in `messages` (built to a count, replies as their output tokens), so prompts need no recount. */
  tokens: number;
  turnsDone: number;
  turnsTotal: number;
}

export interface Prepared {
  scenario: ScenarioConfig;
  request: PreparedRequest;
  session?: ChatSession;
}

export const PATHS = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings', moderations: '/moderations' } as const;

/** What a Workload adds to the scenarios' requests (the daemon resolves it once). */
export interface WorkloadOptions {
  /** Long prefixes on chat and completions prompts (off when absent or not enabled). */
  sharedPrefix?: SharedPrefixConfig;
  /** Context length of the target for edge-case scenarios, tokens (default 8192). */
  contextTokens?: number;
}

/** What the engine needs of a workload: the next scenario, a request for it, and the outcome back. */
export interface WorkloadSource {
  pick(): ScenarioConfig;
  prepare(sc: ScenarioConfig): Prepared;
  complete(session: ChatSession, ok: boolean, text: string | undefined, outputTokens: number): void;
}

/** The generation parameters of a chat or completions body (prompt or messages added by the caller). */
export function buildGenerationBody(model: string, maxTokens: number, stream: boolean, ignoreEos: boolean): Record<string, unknown> {
  const gen: Record<string, unknown> = { model, max_tokens: maxTokens, stream };
  if (stream) gen.stream_options = { include_usage: true };
  if (ignoreEos) gen.ignore_eos = true;
  return gen;
}
/** Idle sessions kept per scenario at most (bounded memory). */
const MAX_IDLE_SESSIONS = 64;
/** Share of multi-turn arrivals that continue an idle session rather than start one. */
const CONTINUE_SHARE = 0.75;

export class Workload implements WorkloadSource {
  private readonly weights: number[];
  private readonly idle = new Map<string, ChatSession[]>();
  private seq = 0;
  private readonly prefixes: SharedPrefixes | undefined;
  private readonly edge: EdgeCaseBuilder;

  constructor(
    private readonly scenarios: ScenarioConfig[],
    private readonly model: string,
    private readonly rng: Rng,
    private readonly prompts: PromptBuilder,
    /** Path prefix of the OpenAI API on the target, e.g. /v1 */
    private readonly basePath: string,
    options: WorkloadOptions = {},
  ) {
    this.weights = scenarios.map((s) => s.weight);
    const sp = options.sharedPrefix;
    this.prefixes = sp?.enabled ? new SharedPrefixes(sp, rng, prompts) : undefined;
    this.edge = new EdgeCaseBuilder(prompts, options.contextTokens ?? DEFAULT_CONTEXT_TOKENS);
  }

  pick(): ScenarioConfig {
    return this.scenarios[this.rng.pickWeighted(this.weights)] as ScenarioConfig;
  }

  prepare(sc: ScenarioConfig): Prepared {
    const id = `r${++this.seq}`;
    const promptTokens = sampleLength(sc.prompt, this.rng);
    const maxTokens = sampleLength(sc.output, this.rng);
    const path = this.basePath + PATHS[sc.endpoint];
    const base = { id, scenario: sc.name, endpoint: sc.endpoint, model: this.model, stream: sc.stream, path };

    if (sc.endpoint === 'embeddings' || sc.endpoint === 'moderations') {
      const input = this.prompts.text(promptTokens);
      return { scenario: sc, request: { ...base, body: JSON.stringify({ model: this.model, input }), promptTokens, keepText: false } };
    }

    if (sc.edgeCase !== undefined) {
      const e = this.edge.build(sc.edgeCase);
      const body = buildGenerationBody(this.model, e.maxTokens, sc.stream, e.ignoreEos);
      body.messages = e.messages;
      return { scenario: sc, request: { ...base, body: JSON.stringify(body), promptTokens: e.promptTokens, keepText: false } };
    }

    const gen = buildGenerationBody(this.model, maxTokens, sc.stream, sc.ignoreEos);
    const prefix = this.prefixes?.next();

    if (sc.endpoint === 'completions') {
      // The passage starts with " word", a chunk of its own: the prefix's count adds up.
      gen.prompt = prefix === undefined ? this.prompts.text(promptTokens) : prefix.text + this.prompts.text(promptTokens);
      return { scenario: sc, request: { ...base, body: JSON.stringify(gen), promptTokens: promptTokens + (prefix?.tokens ?? 0), keepText: false } };
    }

    if (sc.turns.max <= 1) {
      const messages = this.prompts.chatMessages(sc.promptKind, promptTokens);
      if (prefix !== undefined && messages[0] !== undefined) messages[0].content = prefix.text + ' ' + messages[0].content;
      gen.messages = messages;
      return { scenario: sc, request: { ...base, body: JSON.stringify(gen), promptTokens: promptTokens + (prefix?.tokens ?? 0), keepText: false } };
    }

    const session = this.session(sc);
    const user = this.prompts.text(promptTokens);
    session.messages.push({ role: 'user', content: user });
    session.tokens += promptTokens;
    gen.messages = session.messages;
    return { scenario: sc, session, request: { ...base, body: JSON.stringify(gen), promptTokens: session.tokens, keepText: true } };
  }

  /**
   * A request of a multi-turn session ended: grow the history, or end the session. The reply's
   * tokens are the record's output tokens (the server's usage, or the tokenizer's count without it).
   */
  complete(session: ChatSession, ok: boolean, text: string | undefined, outputTokens: number): void {
    if (!ok || text === undefined) return; // a broken conversation is not continued
    session.messages.push({ role: 'assistant', content: text });
    session.tokens += outputTokens;
    session.turnsDone++;
    if (session.turnsDone >= session.turnsTotal) return;
    const idle = this.idle.get(session.scenario) ?? [];
    if (idle.length < MAX_IDLE_SESSIONS) idle.push(session);
    this.idle.set(session.scenario, idle);
  }

  private session(sc: ScenarioConfig): ChatSession {
    const idle = this.idle.get(sc.name);
    if (idle && idle.length > 0 && this.rng.uniform() < CONTINUE_SHARE) {
      return idle.splice(this.rng.int(0, idle.length - 1), 1)[0] as ChatSession;
    }
    const prefix = this.prefixes?.next();
    const instructions = CHAT_INSTRUCTIONS;
    // " You…" after the prefix starts a chunk of its own: the counts add up without counting the prefix again.
    const system = prefix === undefined ? instructions : `${prefix.text} ${instructions}`;
    return {
      scenario: sc.name,
      messages: [{ role: 'system', content: system }],
      tokens: prefix === undefined ? this.prompts.templateTokens(instructions) : prefix.tokens + this.prompts.templateTokens(` ${instructions}`),
      turnsDone: 0,
      turnsTotal: this.rng.int(sc.turns.min, sc.turns.max),
    };
  }
}
