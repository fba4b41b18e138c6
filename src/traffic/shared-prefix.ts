/**
 * Shared prefixes: real applications start most requests with one of a few
 * long system prompts, which a server's prefix cache serves without
 * prefilling them again. With `traffic.sharedPrefix.enabled`, every chat and
 * completions request starts with a prefix of exactly `tokens` tokens
 * (gpt-tokenizer count): `share` of them one of `prefixes` fixed shared
 * prompts, the rest a prompt of the same length that no other request has.
 * So the token volume does not depend on `share`; only what a cache can
 * reuse does.
 *
 * The shared prompts are deterministic (fixed seeds, not the run's seed): the
 * same in every run and every replica, so a fleet of llmsoak replicas shares
 * them as an application's users would. Which requests get one is spread
 * evenly (an accumulator, not a coin per request): every run of n requests has
 * share × n of them within one, so the server's hit ratio is steady over short
 * scrape intervals. Which of the shared prompts is drawn from the run's RNG.
 *
 * Hit ratio to expect (tokens, what vLLM's counters measure): a shared prefix
 * is cached after its first use; then about share × tokens of every request's
 * prompt tokens hit (rounded down to the server's block size), e.g. share 0.6,
 * 4096-token prefixes and 256 more prompt tokens: 0.6 × 4096 / 4352 ≈ 0.565.
 * Chat adds the message framing and whatever else repeats after the prefix
 * (the same instructions) to what a server may reuse.
 */
import { PromptBuilder } from './prompts.js';
import { createRng, type Rng } from './random.js';
import type { SharedPrefixConfig } from './config.js';

export type { SharedPrefixConfig } from './config.js';

/** One request's prefix. */
export interface Prefix {
  text: string;
  /** Its tokens (gpt-tokenizer count). */
  tokens: number;
  /** Index of the shared prompt; undefined for a unique one. */
  shared?: number;
}

/** Seed of shared prompt i: fixed, so every run and replica has the same ones. */
const SHARED_SEED = 0x5eed_0001;

/** Builds prefixes; one per Workload. */
export class SharedPrefixes {
  private readonly shared: Prefix[] = [];
  private acc = 0;
  private seq = 0;

  constructor(
    private readonly cfg: SharedPrefixConfig,
    private readonly rng: Rng,
    private readonly prompts: PromptBuilder,
  ) {
    for (let i = 0; i < cfg.prefixes; i++) {
      const header = `Shared system prompt ${i + 1}. Follow these instructions and use this background in every answer:\n`;
      const builder = new PromptBuilder(createRng(SHARED_SEED + i));
      this.shared.push(this.build(header, builder, i));
    }
  }

  /** The shared prompts (tests and docs). */
  get sharedPrompts(): readonly Prefix[] {
    return this.shared;
  }

  /** The prefix of the next request. */
  next(): Prefix {
    this.acc += this.cfg.share;
    if (this.acc >= 1 - 1e-9 && this.shared.length > 0) {
      this.acc -= 1;
      return this.shared[this.rng.int(0, this.shared.length - 1)] as Prefix;
    }
    // A header no other request has: the very first block differs, so nothing of it can hit.
    const nonce = `${(++this.seq).toString(36)}-${this.rng.int(0, 0x7fffffff).toString(36)}`;
    return this.build(`Context for request ${nonce}. Use this background in your answer:\n`, this.prompts);
  }

  /** header (ends in ":\n", a whole pre-tokenizer chunk) + corpus text starting with " word": the counts add up. */
  private build(header: string, builder: PromptBuilder, shared?: number): Prefix {
    const headerTokens = builder.countTokens(header);
    const body = builder.text(Math.max(1, this.cfg.tokens - headerTokens));
    const text = header + body;
    return shared === undefined ? { text, tokens: headerTokens + Math.max(1, this.cfg.tokens - headerTokens) } : { text, tokens: builder.countTokens(text), shared };
  }
}
