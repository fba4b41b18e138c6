/**
 * Golden-prompt suites: loading (a YAML file, or prompts inline in the
 * config) and validation. Every problem is collected and reported at once as
 * `path: message` in a ConfigError; for a file the path starts with the file.
 *
 * A suite file is a mapping `{ description?, prompts: [...] }` or just the
 * list of prompts. A prompt:
 *
 *   - id: add-small                  # unique in the suite; a label of nothing, shown in logs and status
 *     prompt: "What is 17 + 25?"     # the user message; or `messages: [{ role, content }, ...]`
 *     expect: { number: { value: 42, tolerance: 0 } }
 *     maxTokens: 16                  # default 64
 *
 * `expect` holds exactly one of:
 *   exact: "Paris"                   the whole answer, trimmed, equals it
 *   contains: "Paris"                the answer contains it
 *   regex: "^\\s*Paris\\b"           the answer matches (JavaScript syntax)
 *   number: { value, tolerance }     the last number in the answer is within tolerance (default 0) of value
 *   jsonSchema: { ... }              the answer (code fences removed) is JSON valid against this schema
 * and optionally `ignoreCase: true` (exact, contains, regex).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, errorMessage } from '../errors.js';
import type { QualityConfig } from './config.js';

export type Expectation =
  | { kind: 'exact'; value: string; ignoreCase: boolean }
  | { kind: 'contains'; value: string; ignoreCase: boolean }
  | { kind: 'regex'; source: string; re: RegExp }
  | { kind: 'number'; value: number; tolerance: number }
  | { kind: 'jsonSchema'; schema: Record<string, unknown>; validate: ValidateFunction };

export type ExpectationKind = Expectation['kind'];
export const EXPECTATION_KINDS: readonly ExpectationKind[] = ['exact', 'contains', 'regex', 'number', 'jsonSchema'];

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

export interface GoldenPrompt {
  id: string;
  messages: ChatMessage[];
  expect: Expectation;
  /** Sent as max_tokens. */
  maxTokens: number;
}

export interface Suite {
  name: string;
  /** The file it came from, or 'inline'. */
  source: string;
  prompts: GoldenPrompt[];
}

export const DEFAULT_MAX_TOKENS = 64;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_PROMPTS = 10_000;
const ROLES = ['system', 'developer', 'user', 'assistant'];
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;

let ajv: Ajv | undefined;
function schemaCompiler(): Ajv {
  // addUsedSchema: false, so a schema with an $id can be compiled again (suites are loaded twice: config check, then start).
  ajv ??= new Ajv({ allErrors: true, strict: false, addUsedSchema: false });
  return ajv;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** 'a' + 'b' → 'a.b'; '' + 'b' → 'b'; prefixes ending in ': ' are kept as they are. */
function join(at: string, key: string): string {
  return at === '' || at.endsWith(': ') ? `${at}${key}` : `${at}.${key}`;
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string, problems: string[]): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) problems.push(`${join(at, k)}: unknown key (allowed: ${allowed.join(', ')})`);
}

/** Load and validate every suite of the config (files read now). Throws ConfigError with every problem. */
export function loadSuites(cfg: Pick<QualityConfig, 'suites'>, at = 'quality'): Suite[] {
  const problems: string[] = [];
  const suites: Suite[] = [];
  const names = new Set<string>();
  cfg.suites.forEach((s, i) => {
    const sat = `${at}.suites[${i}]`;
    if (names.has(s.name)) problems.push(`${sat}.name: duplicate suite name "${s.name}"`);
    names.add(s.name);
    if ((s.file === undefined) === (s.prompts === undefined)) {
      problems.push(`${sat}: needs exactly one of file or prompts`);
      return;
    }
    const prompts = s.file !== undefined ? readSuiteFile(s.file, `${sat}.file`, problems) : validatePrompts(s.prompts, `${sat}.prompts`, problems);
    if (prompts) suites.push({ name: s.name, source: s.file ?? 'inline', prompts });
  });
  if (problems.length) throw new ConfigError(problems, at);
  return suites;
}

/** Read a suite file; its problems are prefixed with the file's name. */
function readSuiteFile(file: string, at: string, problems: string[]): GoldenPrompt[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${at}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    return undefined;
  }
  if (text.length > MAX_FILE_BYTES) {
    problems.push(`${at}: ${file} is larger than ${MAX_FILE_BYTES} bytes`);
    return undefined;
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      problems.push(`${file}: ${pos ? `line ${pos.line} column ${pos.col}` : 'YAML'}: ${err.message.split('\n')[0] ?? ''}`);
      return undefined;
    }
    throw err;
  }
  return parseSuiteDocument(doc, file, problems);
}

/** A parsed suite document (a mapping with `prompts`, or the list itself); `source` prefixes every problem. */
export function parseSuiteDocument(doc: unknown, source: string, problems: string[]): GoldenPrompt[] | undefined {
  const at = `${source}: `;
  if (Array.isArray(doc)) return validatePrompts(doc, `${at}prompts`, problems);
  if (!isRecord(doc)) {
    problems.push(`${source}: must be a mapping with prompts, or a list of prompts (got ${typeOf(doc)})`);
    return undefined;
  }
  unknownKeys(doc, ['description', 'prompts'], at, problems);
  if (doc.description !== undefined && typeof doc.description !== 'string') problems.push(`${at}description: must be a string`);
  if (doc.prompts === undefined) {
    problems.push(`${at}prompts: is required`);
    return undefined;
  }
  return validatePrompts(doc.prompts, `${at}prompts`, problems);
}

/** Validate a list of prompts at `at` (e.g. `quality.suites[0].prompts`). */
export function validatePrompts(raw: unknown, at: string, problems: string[]): GoldenPrompt[] | undefined {
  if (!Array.isArray(raw)) {
    problems.push(`${at}: must be a list of prompts (got ${typeOf(raw)})`);
    return undefined;
  }
  if (raw.length === 0) {
    problems.push(`${at}: must hold at least one prompt`);
    return undefined;
  }
  if (raw.length > MAX_PROMPTS) {
    problems.push(`${at}: more than ${MAX_PROMPTS} prompts`);
    return undefined;
  }
  const before = problems.length;
  const ids = new Set<string>();
  const out: GoldenPrompt[] = [];
  raw.forEach((p: unknown, i) => {
    const pat = `${at}[${i}]`;
    const prompt = validatePrompt(p, pat, problems);
    if (!prompt) return;
    if (ids.has(prompt.id)) problems.push(`${pat}.id: duplicate id "${prompt.id}"`);
    ids.add(prompt.id);
    out.push(prompt);
  });
  return problems.length === before ? out : undefined;
}

function validatePrompt(raw: unknown, at: string, problems: string[]): GoldenPrompt | undefined {
  if (!isRecord(raw)) {
    problems.push(`${at}: must be a mapping (got ${typeOf(raw)})`);
    return undefined;
  }
  const before = problems.length;
  unknownKeys(raw, ['id', 'prompt', 'messages', 'expect', 'maxTokens'], at, problems);
  const id = raw.id;
  if (id === undefined) problems.push(`${at}.id: is required`);
  else if (typeof id !== 'string' || !ID.test(id)) problems.push(`${at}.id: must be a string of letters, digits, _ . : - (1 to 128)`);

  let messages: ChatMessage[] | undefined;
  if ((raw.prompt === undefined) === (raw.messages === undefined)) {
    problems.push(`${at}: needs exactly one of prompt or messages`);
  } else if (raw.prompt !== undefined) {
    if (typeof raw.prompt !== 'string' || raw.prompt.trim() === '') problems.push(`${at}.prompt: must be a non-empty string`);
    else messages = [{ role: 'user', content: raw.prompt }];
  } else {
    messages = validateMessages(raw.messages, `${at}.messages`, problems);
  }

  let maxTokens = DEFAULT_MAX_TOKENS;
  if (raw.maxTokens !== undefined) {
    const m = raw.maxTokens;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > 1_000_000) problems.push(`${at}.maxTokens: must be an integer from 1 to 1000000`);
    else maxTokens = m;
  }

  let expect: Expectation | undefined;
  if (raw.expect === undefined) problems.push(`${at}.expect: is required`);
  else expect = validateExpect(raw.expect, `${at}.expect`, problems);
  if (problems.length > before || typeof id !== 'string' || !messages || !expect) return undefined;
  return { id, messages, expect, maxTokens };
}

function validateMessages(raw: unknown, at: string, problems: string[]): ChatMessage[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(`${at}: must be a non-empty list of { role, content }`);
    return undefined;
  }
  const out: ChatMessage[] = [];
  const before = problems.length;
  raw.forEach((m: unknown, i) => {
    const mat = `${at}[${i}]`;
    if (!isRecord(m)) {
      problems.push(`${mat}: must be a mapping { role, content } (got ${typeOf(m)})`);
      return;
    }
    unknownKeys(m, ['role', 'content'], mat, problems);
    if (typeof m.role !== 'string' || !ROLES.includes(m.role)) problems.push(`${mat}.role: must be one of ${ROLES.join(', ')}`);
    if (typeof m.content !== 'string') problems.push(`${mat}.content: must be a string`);
    if (typeof m.role === 'string' && ROLES.includes(m.role) && typeof m.content === 'string') out.push({ role: m.role as ChatMessage['role'], content: m.content });
  });
  if (problems.length === before && !out.some((m) => m.role === 'user')) problems.push(`${at}: needs at least one user message`);
  return problems.length === before ? out : undefined;
}

function validateExpect(raw: unknown, at: string, problems: string[]): Expectation | undefined {
  if (!isRecord(raw)) {
    problems.push(`${at}: must be a mapping with one of ${EXPECTATION_KINDS.join(', ')} (got ${typeOf(raw)})`);
    return undefined;
  }
  unknownKeys(raw, [...EXPECTATION_KINDS, 'ignoreCase'], at, problems);
  const kinds = EXPECTATION_KINDS.filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    problems.push(`${at}: needs exactly one of ${EXPECTATION_KINDS.join(', ')}${kinds.length ? ` (got ${kinds.join(', ')})` : ''}`);
    return undefined;
  }
  const kind = kinds[0] as ExpectationKind;
  const v = raw[kind];
  const ic = raw.ignoreCase;
  if (ic !== undefined && typeof ic !== 'boolean') problems.push(`${at}.ignoreCase: must be a boolean`);
  if (ic !== undefined && (kind === 'number' || kind === 'jsonSchema')) problems.push(`${at}.ignoreCase: applies to exact, contains and regex only`);
  const ignoreCase = ic === true;
  switch (kind) {
    case 'exact':
    case 'contains':
      if (typeof v !== 'string' || (kind === 'contains' && v === '')) {
        problems.push(`${at}.${kind}: must be a${kind === 'contains' ? ' non-empty' : ''} string`);
        return undefined;
      }
      return { kind, value: v, ignoreCase };
    case 'regex': {
      if (typeof v !== 'string' || v === '') {
        problems.push(`${at}.regex: must be a non-empty string`);
        return undefined;
      }
      try {
        return { kind, source: v, re: new RegExp(v, ignoreCase ? 'i' : '') };
      } catch (err) {
        problems.push(`${at}.regex: not a valid regular expression (${errorMessage(err)})`);
        return undefined;
      }
    }
    case 'number': {
      if (!isRecord(v)) {
        problems.push(`${at}.number: must be a mapping { value, tolerance }`);
        return undefined;
      }
      unknownKeys(v, ['value', 'tolerance'], `${at}.number`, problems);
      const value = v.value;
      const tolerance = v.tolerance ?? 0;
      const before = problems.length;
      if (value === undefined) problems.push(`${at}.number.value: is required`);
      else if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${at}.number.value: must be a number`);
      if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) problems.push(`${at}.number.tolerance: must be a number >= 0`);
      if (problems.length > before || typeof value !== 'number' || typeof tolerance !== 'number') return undefined;
      return { kind, value, tolerance };
    }
    case 'jsonSchema': {
      if (!isRecord(v)) {
        problems.push(`${at}.jsonSchema: must be a mapping (a JSON Schema)`);
        return undefined;
      }
      const compiler = schemaCompiler();
      try {
        if (!compiler.validateSchema(v)) {
          problems.push(`${at}.jsonSchema: not a valid JSON Schema (${compiler.errorsText(compiler.errors, { separator: '; ' })})`);
          return undefined;
        }
        return { kind, schema: v, validate: compiler.compile(v) };
      } catch (err) {
        problems.push(`${at}.jsonSchema: not a valid JSON Schema (${errorMessage(err)})`);
        return undefined;
      }
    }
  }
}
