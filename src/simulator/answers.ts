/**
 * Golden answers of the simulator: it recognises a few kinds of simple
 * questions and answers them correctly and deterministically, so quality
 * checks (src/quality/) have something to score. Everything else gets the
 * usual random words.
 *
 * Recognised, in this order, in the last user message (chat) or the prompt
 * (completions), only when the request does not set `ignore_eos` and the text
 * is short (a golden prompt, not soak traffic):
 *   - arithmetic with a JSON instruction ("Answer with JSON ...: what is 6 * 7?",
 *     "JSON" anywhere in the system or user messages) → {"answer":42}
 *   - arithmetic: "What is 17 + 25?", "Compute 12 * 7", "Calculate (3 + 4) * 5",
 *     "What's 9 minus 3?", "How much is 100 divided by 8?" → 42, 84, 35, 6, 12.5
 *     (+ - * / × ÷ plus minus times "multiplied by" "divided by", parentheses, unary minus)
 *   - capitals: "What is the capital of France?" → Paris (a small table)
 *   - a few facts: days in a week, hours in a day, minutes in an hour,
 *     legs of a spider → the number
 *   - "Repeat exactly: <text>" → <text>
 *   - "Reply with the word <W>" / "Reply with "<text>"" → W / text
 *
 * Each recognised question also has a deterministic wrong answer, which the
 * `quality` fault sends instead with its probability.
 */
import { decode, encode } from '../tokenizer.js';

export interface GoldenAnswer {
  /** The correct answer, as the whole message content. */
  readonly text: string;
  /** A wrong answer to the same question (the `quality` fault sends it). */
  readonly wrong: string;
}

/** Longest text considered a golden prompt, characters. */
export const GOLDEN_MAX_CHARS = 2000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a message content: a string, or the text parts of an array. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p: unknown) => (isRecord(p) && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

/**
 * The golden answer of a chat or completions request body (already validated
 * by the token counters), or undefined when it asks nothing recognised.
 */
export function goldenAnswerForBody(kind: 'chat' | 'completions', body: Record<string, unknown>): GoldenAnswer | undefined {
  if (kind === 'completions') {
    const p = body.prompt;
    const text = typeof p === 'string' ? p : Array.isArray(p) && p.length === 1 && typeof p[0] === 'string' ? p[0] : undefined;
    return text === undefined ? undefined : goldenAnswer(text, /\bJSON\b/.test(text));
  }
  const messages = body.messages;
  if (!Array.isArray(messages)) return undefined;
  let question: string | undefined;
  let json = false;
  for (const m of messages as unknown[]) {
    if (!isRecord(m) || (m.role !== 'user' && m.role !== 'system' && m.role !== 'developer')) continue;
    const text = contentText(m.content);
    if (text.length > GOLDEN_MAX_CHARS) return undefined;
    if (/\bJSON\b/.test(text)) json = true;
    if (m.role === 'user') question = text;
  }
  return question === undefined ? undefined : goldenAnswer(question, json);
}

/** The golden answer of a question, or undefined. `json`: answer arithmetic as {"answer":n}. */
export function goldenAnswer(text: string, json = /\bJSON\b/.test(text)): GoldenAnswer | undefined {
  if (text.length === 0 || text.length > GOLDEN_MAX_CHARS) return undefined;
  const n = arithmetic(text);
  if (n !== undefined) {
    const w = wrongNumber(n);
    return json ? { text: JSON.stringify({ answer: n }), wrong: JSON.stringify({ answer: w }) } : { text: formatNumber(n), wrong: formatNumber(w) };
  }
  return capital(text) ?? fact(text) ?? repeat(text);
}

// --- arithmetic ------------------------------------------------------------------

const ASK = /(?:what\s+is|what's|compute|calculate|evaluate|how\s+much\s+is)\s*:?\s*([-+*/().\d\s]+)/gi;

function arithmetic(text: string): number | undefined {
  const normalised = text
    .replace(/multiplied\s+by/gi, '*')
    .replace(/divided\s+by/gi, '/')
    .replace(/\btimes\b/gi, '*')
    .replace(/\bplus\b/gi, '+')
    .replace(/\bminus\b/gi, '-')
    .replace(/×/g, '*')
    .replace(/÷/g, '/');
  for (const m of normalised.matchAll(ASK)) {
    const v = evaluate((m[1] ?? '').replace(/[\s.]+$/, ''));
    if (v !== undefined && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** Recursive-descent evaluation of + - * / ( ) over decimals; undefined unless it has a binary operator. */
export function evaluate(expr: string): number | undefined {
  const toks = expr.match(/\d+(?:\.\d+)?|[-+*/()]/g);
  if (!toks || toks.join('') !== expr.replace(/\s+/g, '')) return undefined;
  let i = 0;
  let binary = 0;
  const peek = (): string | undefined => toks[i];
  const factor = (): number | undefined => {
    const t = toks[i++];
    if (t === '-') {
      const v = factor();
      return v === undefined ? undefined : -v;
    }
    if (t === '+') return factor();
    if (t === '(') {
      const v = sum();
      if (toks[i++] !== ')') return undefined;
      return v;
    }
    if (t !== undefined && /^\d/.test(t)) return Number(t);
    return undefined;
  };
  const product = (): number | undefined => {
    let v = factor();
    while (v !== undefined && (peek() === '*' || peek() === '/')) {
      const op = toks[i++];
      const r = factor();
      if (r === undefined || (op === '/' && r === 0)) return undefined;
      binary++;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (v !== undefined && (peek() === '+' || peek() === '-')) {
      const op = toks[i++];
      const r = product();
      if (r === undefined) return undefined;
      binary++;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  return v !== undefined && i === toks.length && binary > 0 ? v : undefined;
}

/** Integers as they are; others to at most 6 decimals, trailing zeros dropped. */
export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/** A wrong answer, far enough from the right one for any sensible tolerance. */
function wrongNumber(n: number): number {
  return n === 0 ? 7 : n + Math.max(1, Math.round(Math.abs(n) / 2));
}

// --- capitals, facts, repetition ---------------------------------------------------

const CAPITALS: readonly (readonly [string, string])[] = [
  ['france', 'Paris'],
  ['germany', 'Berlin'],
  ['italy', 'Rome'],
  ['spain', 'Madrid'],
  ['japan', 'Tokyo'],
  ['canada', 'Ottawa'],
  ['australia', 'Canberra'],
  ['egypt', 'Cairo'],
  ['kenya', 'Nairobi'],
  ['brazil', 'Brasilia'],
];

function capital(text: string): GoldenAnswer | undefined {
  const m = /capital\s+(?:city\s+)?of\s+([a-z][a-z .'-]*?)\s*(?:[?.!,;:]|$)/i.exec(text);
  if (!m) return undefined;
  const country = (m[1] ?? '').toLowerCase().replace(/^the\s+/, '');
  const i = CAPITALS.findIndex(([c]) => c === country);
  if (i < 0) return undefined;
  const right = CAPITALS[i]?.[1] as string;
  const wrong = CAPITALS[(i + 1) % CAPITALS.length]?.[1] as string;
  return { text: right, wrong };
}

const FACTS: readonly (readonly [RegExp, number])[] = [
  [/how\s+many\s+days\s+(?:are\s+(?:there\s+)?)?in\s+a\s+week/i, 7],
  [/how\s+many\s+hours\s+(?:are\s+(?:there\s+)?)?in\s+a\s+day/i, 24],
  [/how\s+many\s+minutes\s+(?:are\s+(?:there\s+)?)?in\s+an\s+hour/i, 60],
  [/how\s+many\s+legs\s+does\s+a\s+spider\s+have/i, 8],
];

function fact(text: string): GoldenAnswer | undefined {
  for (const [re, n] of FACTS) if (re.test(text)) return { text: String(n), wrong: String(wrongNumber(n)) };
  return undefined;
}

function repeat(text: string): GoldenAnswer | undefined {
  const wrong = 'I am not sure.';
  const r = /repeat\s+(?:exactly|after\s+me|this)?\s*:\s*([\s\S]+)$/i.exec(text);
  if (r) {
    const said = (r[1] ?? '').trim().replace(/^["“'](.*)["”']$/s, '$1');
    return said ? { text: said, wrong } : undefined;
  }
  const w = /(?:reply|respond|answer)\s+with\s+(?:only\s+|just\s+|exactly\s+)?(?:the\s+word\s+["']?([A-Za-z0-9_-]+)["']?|["“']([^"”']+)["”'])/i.exec(text);
  const said = w?.[1] ?? w?.[2];
  return said ? { text: said, wrong } : undefined;
}

// --- wire ----------------------------------------------------------------------------

/**
 * The answer cut into its tokens' texts (o200k_base), so a stream sends one
 * token per chunk and usage counts what a tokenizer would; text that does not
 * round-trip token by token (split multi-byte characters) is one piece.
 */
export function answerPieces(text: string): string[] {
  if (text.length === 0) return [''];
  const pieces = encode(text).map((t) => decode([t]));
  return pieces.join('') === text ? pieces : [text];
}
