/**
 * Synthetic prompts whose token counts land exactly where asked, cut from the
 * bundled corpus (corpus.ts), tiled when longer than it. Token counts are
 * gpt-tokenizer's default encoding (o200k_base, GPT-4o); the target server's
 * own tokenizer will differ by some percent, and its `usage.prompt_tokens`
 * stays the authoritative input count.
 *
 * How the count is made exact without encoding anything at run time. The
 * corpus (with a leading space) was encoded ahead of time (corpus-tokens.ts:
 * the length of every token), so the character offset of every token is
 * known. A token whose text is a space followed by an ASCII letter (" word")
 * always starts a pre-tokenizer chunk (o200k's split regex only lets a single
 * leading non-letter join a letter run at the start of a chunk), and BPE never
 * merges across chunks, and the split regex looks only forward. So a window
 * of tokens [s, s + n) whose first token s and whose successor s + n are both
 * such "safe" tokens decodes to a substring that re-encodes to exactly the
 * same n tokens. text() draws a random safe start until the end is safe too
 * (about half of the draws), then slices the corpus string by character
 * offsets. The corpus ends with "." and begins with " A", so the wrap-around
 * joint is safe as well. The templates' counts are in the same table, so the
 * default mix never loads the tokenizer (~14 MB of a traffic worker's heap).
 */
import { countTokens as gptCountTokens } from '../tokenizer.js';
import { corpusUnit } from './corpus.js';
import { CORPUS_TOKEN_LENGTHS, TEMPLATE_TOKENS } from './corpus-tokens.js';
import { QA_SYSTEM, QUESTIONS, qaPrefix, SUMMARY_PREFIX, SUMMARY_SYSTEM } from './prompt-templates.js';
import type { Rng } from './random.js';

/** A chat message as sent to /v1/chat/completions. */
export interface PromptMessage {
  role: 'system' | 'user';
  content: string;
}

/** The encoded corpus, built once per process on first use. */
interface CorpusIndex {
  /** The tiled unit: ' ' + CORPUS (trimmed). */
  text: string;
  /** Number of tokens in `text`. */
  tokens: number;
  /** offsets[i] = character offset of token i in `text`; offsets[tokens] = text.length. */
  offsets: Uint32Array;
  /** safe[i] = 1 when token i is " " + ASCII letter (a chunk start); index `tokens` wraps to 0. */
  safe: Uint8Array;
  /** Indices of safe tokens. */
  safeList: Uint32Array;
}

let corpusIndex: CorpusIndex | undefined;

function getCorpusIndex(): CorpusIndex {
  if (corpusIndex !== undefined) return corpusIndex;
  const text = corpusUnit();
  const lengths = Buffer.from(CORPUS_TOKEN_LENGTHS, 'base64');
  const m = lengths.length;
  const offsets = new Uint32Array(m + 1);
  const safe = new Uint8Array(m + 1);
  const safeList: number[] = [];
  let off = 0;
  for (let i = 0; i < m; i++) {
    offsets[i] = off;
    const len = lengths[i] ?? 0;
    if (len >= 2 && text.charCodeAt(off) === 0x20 && isAsciiLetter(text.charCodeAt(off + 1))) {
      safe[i] = 1;
      safeList.push(i);
    }
    off += len;
  }
  if (off !== text.length) throw new Error('prompts: the token table (corpus-tokens.ts) does not match corpus.ts: run npm run gen:corpus-tokens');
  offsets[m] = off;
  safe[m] = safe[0] ?? 0;
  if (safeList.length === 0 || safe[0] !== 1) throw new Error('prompts: corpus must start with " <letter>"');
  corpusIndex = { text, tokens: m, offsets, safe, safeList: Uint32Array.from(safeList) };
  return corpusIndex;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Random draws of a start before falling back to measuring with the tokenizer. */
const SAFE_TRIES = 64;

/** Builds prompts of exact token lengths from the bundled corpus; cheap to construct. */
export class PromptBuilder {
  /** Token counts of template strings missing from the table. */
  private readonly templateCounts = new Map<string, number>();

  /** @param rng source of window offsets (and question choice); seeded => reproducible prompts */
  constructor(private readonly rng: Rng) {}

  /**
   * Text of exactly `tokens` tokens (gpt-tokenizer countTokens) cut at a random
   * offset of the corpus, wrapping around as needed. Starts with a space.
   * tokens < 1 gives ''. Exact by construction; in the rare case no aligned
   * window is found it falls back to measuring, which lands within +-1.
   */
  text(tokens: number): string {
    const n = Math.floor(tokens);
    if (!(n >= 1)) return '';
    const ix = getCorpusIndex();
    const last = ix.safeList.length - 1;
    for (let i = 0; i < SAFE_TRIES; i++) {
      const s = ix.safeList[this.rng.int(0, last)] ?? 0;
      if (ix.safe[(s + n) % ix.tokens] === 1) return this.slice(ix, s, n);
    }
    return this.measured(ix, n);
  }

  /** Indexes the corpus now (once per thread, from corpus-tokens.ts), not at the first request's fire time. */
  warm(): void {
    getCorpusIndex();
  }

  /** Token count of arbitrary text (gpt-tokenizer, o200k_base; loads the tokenizer in this thread). */
  countTokens(text: string): number {
    return gptCountTokens(text);
  }

  /**
   * Messages for a chat request whose content tokens (system + user contents,
   * gpt-tokenizer count) add up to `tokens`, within +-1. The chat template's own
   * tokens (role markers, a few per message) are not included. If `tokens` is
   * smaller than the instructions themselves, the passage is 1 token long.
   * - qa: a question about a passage, the passage last
   * - summary: a request to summarize a passage
   */
  chatMessages(kind: 'qa' | 'summary', tokens: number): PromptMessage[] {
    let system: string;
    let prefix: string;
    if (kind === 'qa') {
      const q = QUESTIONS[this.rng.int(0, QUESTIONS.length - 1)] ?? QUESTIONS[0];
      system = QA_SYSTEM;
      prefix = qaPrefix(q);
    } else {
      system = SUMMARY_SYSTEM;
      prefix = SUMMARY_PREFIX;
    }
    // prefix ends in punctuation + newline(s), a complete chunk; the passage starts
    // with a " word" chunk: the counts add up.
    const overhead = this.templateTokens(system) + this.templateTokens(prefix);
    const passage = this.text(Math.max(1, Math.floor(tokens) - overhead));
    return [
      { role: 'system', content: system },
      { role: 'user', content: prefix + passage },
    ];
  }

  /** A template's count (prompt-templates.ts) from the table, without the tokenizer; any other string is counted, and kept. */
  templateTokens(s: string): number {
    let c = TEMPLATE_TOKENS[s] ?? this.templateCounts.get(s);
    if (c === undefined) {
      c = gptCountTokens(s);
      this.templateCounts.set(s, c);
    }
    return c;
  }

  /** Text of corpus tokens [s, s + n), tiling the corpus. */
  private slice(ix: CorpusIndex, s: number, n: number): string {
    const m = ix.tokens;
    const a = ix.offsets[s] ?? 0;
    if (s + n <= m) return ix.text.slice(a, ix.offsets[s + n]);
    const r = n - (m - s);
    const whole = Math.floor(r / m);
    const rem = r - whole * m;
    let out = ix.text.slice(a);
    if (whole > 0) out += ix.text.repeat(whole);
    if (rem > 0) out += ix.text.slice(0, ix.offsets[rem]);
    return out;
  }

  /** Fallback: safe start, arbitrary end, corrected by re-counting (a few passes). */
  private measured(ix: CorpusIndex, n: number): string {
    const s = ix.safeList[this.rng.int(0, ix.safeList.length - 1)] ?? 0;
    let take = n;
    let best = this.slice(ix, s, take);
    let bestErr = Infinity;
    for (let pass = 0; pass < 4; pass++) {
      const txt = this.slice(ix, s, take);
      const c = gptCountTokens(txt);
      const err = Math.abs(c - n);
      if (err < bestErr) {
        best = txt;
        bestErr = err;
      }
      if (c === n) break;
      take = Math.max(1, take + (n - c));
    }
    return best;
  }
}
