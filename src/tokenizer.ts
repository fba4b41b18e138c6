/**
 * The tokenizer behind every token count and prompt in llmsoak and its
 * simulator: gpt-tokenizer's default encoding (o200k_base), loaded on first
 * use. Loading it builds a 200k-entry rank table, about 66 MB of RSS (20 MB of
 * V8 heap) in each thread that loads it, so a thread that never counts a token
 * never pays for it: the daemon's main thread, whose traffic runs in a worker
 * (its start-up preflight counts in a short-lived thread: token-count-thread.ts),
 * and a traffic worker whose target reports usage (prompts are cut from a
 * table computed ahead of time: traffic/corpus-tokens.ts).
 *
 * Loaded through require (the package ships CommonJS beside ESM) because
 * callers count synchronously; everything in src/ reaches it through this
 * module, so a process never holds two copies of the table.
 */
import { createRequire } from 'node:module';
import type * as Gpt from 'gpt-tokenizer';

type Tokenizer = typeof Gpt;

let loaded: Tokenizer | undefined;
const onLoad: (() => void)[] = [];

function tokenizer(): Tokenizer {
  if (loaded === undefined) {
    loaded = createRequire(import.meta.url)('gpt-tokenizer') as Tokenizer;
    for (const listener of onLoad) listener();
  }
  return loaded;
}

/** Calls `listener` once this thread loads the tokenizer (a traffic worker reports it at once). */
export function onTokenizerLoaded(listener: () => void): void {
  onLoad.push(listener);
}

/** Loads it now (about 0.3 s), where a delay costs nothing: before a server answers or an engine fires its first request. */
export function warmTokenizer(): void {
  tokenizer().countTokens(' warm');
}

/** Whether this thread has loaded the tokenizer (tests and the footprint bench). */
export function tokenizerLoaded(): boolean {
  return loaded !== undefined;
}

export const encode: Tokenizer['encode'] = (...args) => tokenizer().encode(...args);
export const decode: Tokenizer['decode'] = (...args) => tokenizer().decode(...args);
export const countTokens: Tokenizer['countTokens'] = (...args) => tokenizer().countTokens(...args);
