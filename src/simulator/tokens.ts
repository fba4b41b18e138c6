/**
 * Token accounting of the simulator.
 *
 * Prompt tokens are counted with gpt-tokenizer (o200k_base). For chat, the
 * count follows OpenAI's published recipe for chat models: for every message
 * 3 tokens of framing + the tokens of its role + the tokens of its content
 * (+ the tokens of `name` and 1 more when a name is given), and 3 more tokens
 * that prime the assistant's reply. Text parts of array contents are counted;
 * an image part counts as 85 tokens (OpenAI's low-detail figure); tool calls
 * of assistant messages count as their JSON text.
 *
 * Output text: every generated token is one word from WORDS with a leading
 * space; each of those is a single token in o200k_base and they never merge
 * across word boundaries, so tokenizing the generated text gives back exactly
 * the number of tokens generated (verified by a test).
 */
import { countTokens, encode } from '../tokenizer.js';
import { fnv1a, Rng } from './rng.js';

/** Common English words, each a single o200k_base token when preceded by a space. */
export const WORDS: readonly string[] = [
  'the',
  'of',
  'and',
  'to',
  'in',
  'is',
  'was',
  'for',
  'that',
  'on',
  'with',
  'as',
  'by',
  'at',
  'from',
  'it',
  'be',
  'this',
  'are',
  'or',
  'have',
  'not',
  'an',
  'which',
  'but',
  'you',
  'they',
  'his',
  'her',
  'all',
  'one',
  'there',
  'can',
  'has',
  'more',
  'were',
  'we',
  'been',
  'if',
  'their',
  'who',
  'will',
  'would',
  'so',
  'no',
  'when',
  'what',
  'said',
  'about',
  'out',
  'up',
  'into',
  'them',
  'some',
  'only',
  'time',
  'could',
  'than',
  'other',
  'its',
  'these',
  'two',
  'may',
  'first',
  'new',
  'then',
  'any',
  'like',
  'our',
  'over',
  'such',
  'my',
  'most',
  'also',
  'after',
  'made',
  'many',
  'people',
  'way',
  'well',
  'back',
  'years',
  'just',
  'how',
  'where',
  'much',
  'those',
  'before',
  'through',
  'work',
  'good',
  'very',
  'even',
  'because',
  'great',
  'same',
  'world',
  'year',
  'still',
  'down',
  'should',
  'own',
  'while',
  'last',
  'never',
  'since',
  'long',
  'here',
  'being',
  'against',
  'might',
  'state',
  'under',
  'three',
  'right',
  'used',
  'both',
  'part',
  'little',
  'place',
  'around',
  'old',
  'between',
  'high',
  'small',
  'country',
  'system',
  'number',
  'public',
  'life',
  'day',
  'another',
  'found',
  'again',
  'without',
  'home',
  'every',
  'water',
  'group',
  'end',
  'given',
  'during',
  'large',
  'next',
  'house',
  'later',
  'often',
  'each',
  'point',
  'however',
  'city',
  'school',
  'important',
  'until',
  'form',
  'few',
  'night',
  'family',
  'along',
  'side',
  'name',
  'land',
  'order',
  'area',
  'power',
  'early',
  'set',
  'different',
  'line',
  'left',
  'known',
  'head',
  'hand',
  'real',
  'best',
  'children',
  'local',
  'want',
  'case',
  'third',
  'big',
  'far',
  'began',
  'open',
  'days',
  'program',
  'development',
  'thought',
  'today',
  'week',
  'women',
  'light',
  'question',
  'whole',
  'almost',
  'went',
  'enough',
  'fact',
  'result',
  'room',
  'market',
  'change',
  'free',
  'sure',
  'full',
  'half',
  'body',
  'took',
  'lot',
  'level',
  'major',
  'need',
  'office',
  'story',
  'better',
  'white',
  'young',
  'move',
  'kind',
  'music',
  'above',
  'plan',
  'cost',
  'rather',
  'among',
  'black',
  'road',
  'within',
  'health',
  'hard',
  'view',
  'study',
  'book',
];

/** ' word' for every word. */
export const TOKEN_TEXT: readonly string[] = WORDS.map((w) => ' ' + w);
/** JSON string literal of ' word' (pre-escaped for building SSE chunks by concatenation). */
export const TOKEN_JSON: readonly string[] = TOKEN_TEXT.map((t) => JSON.stringify(t));

/** Index of a random output word. */
export function pickToken(rng: Rng): number {
  return rng.int(TOKEN_TEXT.length);
}

const NO_SPECIAL = { disallowedSpecial: new Set<string>() };
/**
 * Values keyed by text, bounded by the text held rather than by entries:
 * unique long prompts (most of a soak's) would otherwise fill an entry-bounded
 * cache slowly for thousands of requests, and a simulator whose RSS grows for
 * ten minutes at low rates looks like a leak. Oldest first out; a text longer
 * than an eighth of the budget is not kept.
 */
class TextCache<V> {
  private readonly map = new Map<string, V>();
  private chars = 0;
  constructor(private readonly maxChars: number) {}

  get(text: string): V | undefined {
    return this.map.get(text);
  }

  set(text: string, value: V): void {
    if (text.length > this.maxChars / 8) return;
    for (const k of this.map.keys()) {
      if (this.chars + text.length <= this.maxChars) break;
      this.map.delete(k);
      this.chars -= k.length;
    }
    this.map.set(text, value);
    this.chars += text.length;
  }
}

const counts = new TextCache<number>(2 * 1024 * 1024);

/** Tokens of a text (o200k_base; special-token text is counted as plain text). Cached: prompts repeat (chat history, shared system prompts). */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  const hit = counts.get(text);
  if (hit !== undefined) return hit;
  const n = knownCount(text) ?? countTokens(text, NO_SPECIAL);
  counts.set(text, n);
  return n;
}

/**
 * Token ids of recent texts for the prefix cache (prefix-cache.ts); shared
 * system prompts repeat and stay. The last text encoded is kept apart so that
 * the count which follows its encoding (countTextTokens) needs no second pass
 * of the tokenizer.
 */
const idsCache = new TextCache<Uint32Array>(512 * 1024);
let lastIds: { text: string; n: number } | undefined;

/** Token ids of a text (o200k_base, special-token text as plain text). */
export function textTokenIds(text: string): ArrayLike<number> {
  if (text.length === 0) return [];
  const hit = idsCache.get(text);
  if (hit !== undefined) return hit;
  const ids = Uint32Array.from(encode(text, NO_SPECIAL));
  lastIds = { text, n: ids.length };
  idsCache.set(text, ids);
  return ids;
}

/** The token count of a text textTokenIds has just encoded or holds; undefined otherwise. */
function knownCount(text: string): number | undefined {
  if (lastIds !== undefined && lastIds.text === text) return lastIds.n;
  return idsCache.get(text)?.length;
}

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_REPLY_PRIMING = 3;
export const TOKENS_PER_IMAGE = 85;

/** Thrown (and turned into a 400) when a request's content is not what the API accepts. */
export class BadRequest extends Error {
  readonly param: string | null;
  constructor(message: string, param: string | null = null) {
    super(message);
    this.name = 'BadRequest';
    this.param = param;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function contentTokens(content: unknown, param: string): number {
  if (content === null || content === undefined) return 0;
  if (typeof content === 'string') return countTextTokens(content);
  if (Array.isArray(content)) {
    let n = 0;
    content.forEach((part: unknown, i) => {
      if (!isRecord(part) || typeof part.type !== 'string') throw new BadRequest(`${param}[${i}] must be an object with a 'type'`, `${param}[${i}]`);
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw new BadRequest(`${param}[${i}].text must be a string`, `${param}[${i}].text`);
        n += countTextTokens(part.text);
      } else if (part.type === 'image_url' || part.type === 'input_image') {
        n += TOKENS_PER_IMAGE;
      }
    });
    return n;
  }
  throw new BadRequest(`${param} must be a string, an array of content parts or null`, param);
}

/** Prompt tokens of a chat request's `messages` (see the recipe at the top of this file). */
export function countChatPromptTokens(messages: unknown): number {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest("'messages' must be a non-empty array", 'messages');
  }
  let n = TOKENS_REPLY_PRIMING;
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m) || typeof m.role !== 'string') {
      throw new BadRequest(`messages[${i}] must be an object with a string 'role'`, `messages[${i}]`);
    }
    n += TOKENS_PER_MESSAGE + countTextTokens(m.role) + contentTokens(m.content, `messages[${i}].content`);
    if (typeof m.name === 'string') n += countTextTokens(m.name) + 1;
    if (m.tool_calls !== undefined && m.tool_calls !== null) n += countTextTokens(JSON.stringify(m.tool_calls));
  }
  return n;
}

/**
 * Framing ids of the chat recipe (3 per message, 3 priming the reply, 85 per
 * image), outside o200k's vocabulary so they never equal a text token.
 */
const FRAME_ID = 1_000_000;
const PRIMING_ID = 1_000_001;
const IMAGE_ID = 1_000_002;

function pushIds(out: number[], ids: ArrayLike<number>): void {
  for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
}

function pushFixed(out: number[], id: number, n: number): void {
  for (let i = 0; i < n; i++) out.push(id);
}

/**
 * The token ids of a chat prompt in the recipe's order (per message: framing,
 * role, content, name, tool calls; then the reply priming), as the prefix
 * cache hashes them. Its length equals countChatPromptTokens (a test checks);
 * the content was validated by that count first.
 */
export function chatPromptTokenIds(messages: readonly unknown[]): number[] {
  const out: number[] = [];
  for (const m of messages) {
    if (!isRecord(m) || typeof m.role !== 'string') continue;
    pushFixed(out, FRAME_ID, TOKENS_PER_MESSAGE);
    pushIds(out, textTokenIds(m.role));
    const c = m.content;
    if (typeof c === 'string') pushIds(out, textTokenIds(c));
    else if (Array.isArray(c)) {
      for (const part of c as unknown[]) {
        if (!isRecord(part)) continue;
        if (part.type === 'text' && typeof part.text === 'string') pushIds(out, textTokenIds(part.text));
        else if (part.type === 'image_url' || part.type === 'input_image') pushFixed(out, IMAGE_ID, TOKENS_PER_IMAGE);
      }
    }
    if (typeof m.name === 'string') {
      pushIds(out, textTokenIds(m.name));
      out.push(FRAME_ID);
    }
    if (m.tool_calls !== undefined && m.tool_calls !== null) pushIds(out, textTokenIds(JSON.stringify(m.tool_calls)));
  }
  pushFixed(out, PRIMING_ID, TOKENS_REPLY_PRIMING);
  return out;
}

/** The token ids of a completions prompt already counted by countCompletionPromptTokens. */
export function completionPromptTokenIds(prompt: unknown): ArrayLike<number> {
  const only: unknown = Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0])) ? prompt[0] : prompt;
  if (typeof only === 'string') return textTokenIds(only);
  if (Array.isArray(only)) return only as number[];
  return [];
}

function isTokenArray(v: unknown[]): boolean {
  return v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

/**
 * Prompt tokens of a completions `prompt` (a string, an array of token ids, or
 * an array holding exactly one of those). Several prompts per request are not
 * simulated (400).
 */
export function countCompletionPromptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return countTextTokens(prompt);
  if (Array.isArray(prompt)) {
    if (prompt.length > 0 && isTokenArray(prompt)) return prompt.length;
    if (prompt.length === 1) {
      const only: unknown = prompt[0];
      if (typeof only === 'string') return countTextTokens(only);
      if (Array.isArray(only) && isTokenArray(only)) return only.length;
    }
    if (prompt.length > 1) throw new BadRequest('the simulator accepts one prompt per request', 'prompt');
  }
  throw new BadRequest("'prompt' must be a string, an array of token ids, or a one-element array of either", 'prompt');
}

/** Inputs of an embeddings request as texts (token-id arrays become their ids joined), and their token count. */
export function embeddingInputs(input: unknown): { texts: string[]; tokens: number } {
  const bad = (): never => {
    throw new BadRequest("'input' must be a non-empty string, array of strings, array of token ids, or array of token-id arrays", 'input');
  };
  if (typeof input === 'string') return { texts: [input], tokens: countTextTokens(input) };
  if (!Array.isArray(input) || input.length === 0) return bad();
  if (isTokenArray(input)) return { texts: [input.join(',')], tokens: input.length };
  const texts: string[] = [];
  let tokens = 0;
  for (const x of input as unknown[]) {
    if (typeof x === 'string') {
      texts.push(x);
      tokens += countTextTokens(x);
    } else if (Array.isArray(x) && x.length > 0 && isTokenArray(x)) {
      texts.push(x.join(','));
      tokens += x.length;
    } else bad();
  }
  return { texts, tokens };
}

/** A deterministic unit-length embedding of a text: same text, same vector. */
export function embed(text: string, dim: number): Float32Array {
  const rng = new Rng(fnv1a(text));
  const v = new Float32Array(dim);
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const x = rng.normal();
    v[i] = x;
    sum += x * x;
  }
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < dim; i++) v[i] = (v[i] ?? 0) / norm;
  return v;
}
