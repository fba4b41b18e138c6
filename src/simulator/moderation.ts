/**
 * POST /v1/moderations in OpenAI's shape: `{ id, model, results: [{ flagged,
 * categories, category_scores, category_applied_input_types }] }`, one result
 * per input string (a multi-modal array of parts is one input).
 *
 * The request runs through the engine as a prefill-only sequence (like an
 * embedding), so it queues and costs prefill time. The verdict is
 * deterministic: every category scores a small value derived from the text's
 * hash (below 0.01), and a category is flagged only when the text carries the
 * marker `[flag:<category>]` (e.g. `[flag:violence]`), so tests and quality
 * checks can ask for a flagged answer on purpose. Ordinary prose is never
 * flagged.
 */
import type { ServerResponse } from 'node:http';
import type { Seq } from './engine.js';
import { BaseRequest, type SimContext } from './requests.js';
import { fnv1a, Rng } from './rng.js';
import { BadRequest, TOKENS_PER_IMAGE, countTextTokens } from './tokens.js';
import { sendJson } from './wire.js';

/** OpenAI's moderation categories (omni-moderation). */
export const MODERATION_CATEGORIES: readonly string[] = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
];

/** One input to classify: its text and whether it carried images. */
export interface ModerationInput {
  text: string;
  images: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The inputs of a moderations body and their prompt tokens; BadRequest when `input` is not what the API accepts. */
export function moderationInputs(input: unknown): { inputs: ModerationInput[]; tokens: number } {
  const bad = (): never => {
    throw new BadRequest("'input' must be a non-empty string, an array of strings, or an array of text/image_url parts", 'input');
  };
  if (typeof input === 'string') return { inputs: [{ text: input, images: 0 }], tokens: Math.max(1, countTextTokens(input)) };
  if (!Array.isArray(input) || input.length === 0) return bad();
  if (input.every((x) => typeof x === 'string')) {
    const inputs = (input as string[]).map((text) => ({ text, images: 0 }));
    return {
      inputs,
      tokens: Math.max(
        1,
        inputs.reduce((n, x) => n + countTextTokens(x.text), 0),
      ),
    };
  }
  let text = '';
  let images = 0;
  for (const part of input as unknown[]) {
    if (!isRecord(part)) return bad();
    if (part.type === 'text' && typeof part.text === 'string') text += (text ? '\n' : '') + part.text;
    else if (part.type === 'image_url') images++;
    else return bad();
  }
  return { inputs: [{ text, images }], tokens: Math.max(1, countTextTokens(text) + images * TOKENS_PER_IMAGE) };
}

/** The verdict of one input (see the top of this file). */
export function moderate(x: ModerationInput): Record<string, unknown> {
  const rng = new Rng(fnv1a(x.text) ^ x.images);
  const categories: Record<string, boolean> = {};
  const scores: Record<string, number> = {};
  const applied: Record<string, string[]> = {};
  let flagged = false;
  for (const c of MODERATION_CATEGORIES) {
    const marked = x.text.includes(`[flag:${c}]`);
    categories[c] = marked;
    scores[c] = marked ? 0.9 + 0.09 * rng.next() : 0.01 * rng.next() * rng.next();
    applied[c] = x.images > 0 && (c === 'violence' || c === 'violence/graphic' || c === 'sexual' || c.startsWith('self-harm')) ? ['text', 'image'] : ['text'];
    flagged ||= marked;
  }
  return { flagged, categories, category_scores: scores, category_applied_input_types: applied };
}

/** A moderations request: a prefill-only sequence; answers when its prefill step ends. */
export class ModerationRequest extends BaseRequest {
  constructor(
    ctx: SimContext,
    res: ServerResponse,
    arrivalNs: bigint,
    private readonly inputs: ModerationInput[],
    private readonly tokens: number,
    private readonly model: string,
  ) {
    super(ctx, res, arrivalNs);
  }

  onToken(): void {
    // Prefill only: never called.
  }

  onPrefilled(_seq: Seq): void {
    if (this.done) return;
    const timings = this.oneShotTimings(process.hrtime.bigint(), this.tokens);
    this.finish('stop');
    sendJson(this.res, 200, {
      id: 'modr-' + this.ctx.nextId(),
      model: this.model,
      results: this.inputs.map((x) => moderate(x)),
      timings,
    });
  }
}
