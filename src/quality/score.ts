/**
 * Scoring of one answer against its expectation (see suite.ts for the forms).
 * Pure: no I/O, no clock; `detail` says why an answer failed, for logs and status.
 */
import type { Expectation } from './suite.js';

export interface CheckResult {
  pass: boolean;
  /** Why it failed (absent when it passed). */
  detail?: string;
}

/** A number as written in an answer: sign, thousands separators, decimals, exponent. */
const NUMBER = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+/g;

/** The last number in a text (the answer usually ends with it: "17 + 25 = 42"); undefined when none. */
export function lastNumber(text: string): number | undefined {
  const all = text.match(NUMBER);
  const last = all?.[all.length - 1];
  if (last === undefined) return undefined;
  const n = Number(last.replace(/,/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The JSON in an answer: the whole text, else inside a ``` fence, else from
 * the first `{` or `[` to the last `}` or `]`. Undefined when none parses.
 */
export function extractJson(text: string): { value: unknown } | undefined {
  const candidates: string[] = [text.trim()];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence?.[1] !== undefined) candidates.push(fence[1].trim());
  const start = text.search(/[{[]/);
  const end = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  for (const c of candidates) {
    try {
      return { value: JSON.parse(c) as unknown };
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

function show(s: string, max = 80): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > max ? `${one.slice(0, max)}…` : one);
}

/** Score one answer. */
export function checkAnswer(expect: Expectation, answer: string): CheckResult {
  switch (expect.kind) {
    case 'exact': {
      const a = answer.trim();
      const e = expect.value.trim();
      const pass = expect.ignoreCase ? a.toLowerCase() === e.toLowerCase() : a === e;
      return pass ? { pass } : { pass, detail: `expected exactly ${show(e)}, got ${show(a)}` };
    }
    case 'contains': {
      const pass = expect.ignoreCase ? answer.toLowerCase().includes(expect.value.toLowerCase()) : answer.includes(expect.value);
      return pass ? { pass } : { pass, detail: `expected to contain ${show(expect.value)}, got ${show(answer)}` };
    }
    case 'regex': {
      const pass = expect.re.test(answer);
      return pass ? { pass } : { pass, detail: `expected to match /${expect.source}/, got ${show(answer)}` };
    }
    case 'number': {
      const n = lastNumber(answer);
      if (n === undefined) return { pass: false, detail: `expected a number near ${expect.value}, got no number in ${show(answer)}` };
      const pass = Math.abs(n - expect.value) <= expect.tolerance;
      return pass ? { pass } : { pass, detail: `expected ${expect.value} ± ${expect.tolerance}, got ${n}` };
    }
    case 'jsonSchema': {
      const json = extractJson(answer);
      if (!json) return { pass: false, detail: `expected JSON, got ${show(answer)}` };
      const pass = expect.validate(json.value);
      if (pass) return { pass };
      const why = (expect.validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}`).join('; ');
      return { pass, detail: `JSON does not match the schema (${why}): ${show(answer)}` };
    }
  }
}
