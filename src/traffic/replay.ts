/**
 * Replay of recorded requests as the workload: a JSONL file, one request a
 * line, sent at its own pace (scaled by `speed`), looping when it ends.
 *
 * A line:
 *   {"t": 0.25, "endpoint": "chat", "stream": true, "inputTokens": 512, "outputTokens": 128, "scenario": "support_bot"}
 *   {"t": 1.5, "endpoint": "completions", "body": { ...a full request body... }}
 * `t` is seconds from the start of the recording (or `timestamp`, an ISO date;
 * the first line is then time 0). Without `body`, a prompt of `inputTokens`
 * tokens is built from the corpus and `outputTokens` is sent as max_tokens.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { ScenarioConfig } from './config.js';
import type { Endpoint } from '../types.js';
import type { ArrivalProcess } from './arrivals.js';
import type { PromptBuilder } from './prompts.js';
import type { Prepared, WorkloadSource } from './workload.js';
import { buildGenerationBody, PATHS } from './workload.js';

export interface ReplayEntry {
  /** Seconds from the start of the recording. */
  t: number;
  endpoint: Endpoint;
  scenario: string;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  /** A full request body to send as is (its model is replaced by the target's). */
  body?: Record<string, unknown>;
}

const ENDPOINTS = new Set<Endpoint>(['chat', 'completions', 'embeddings']);
/** Largest replay file read, bytes (the entries stay in memory). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export function loadReplay(file: string, at = 'traffic.replay.file'): ReplayEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${at}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`]);
  }
  if (text.length > MAX_FILE_BYTES) throw new ConfigError([`${at}: ${file} is larger than ${MAX_FILE_BYTES} bytes`]);
  const problems: string[] = [];
  const entries: ReplayEntry[] = [];
  let t0: number | undefined;
  text.split('\n').forEach((line, i) => {
    if (!line.trim() || problems.length >= 20) return;
    const where = `${at}: line ${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`${where}: not JSON`);
      return;
    }
    let t: number | undefined;
    if (typeof o.t === 'number') t = o.t;
    else if (typeof o.timestamp === 'string' && !Number.isNaN(Date.parse(o.timestamp))) {
      const ms = Date.parse(o.timestamp);
      t0 ??= ms;
      t = (ms - t0) / 1000;
    }
    if (t === undefined || t < 0) return void problems.push(`${where}: needs "t" (seconds >= 0) or "timestamp" (ISO date)`);
    const endpoint = (o.endpoint ?? 'chat') as Endpoint;
    if (!ENDPOINTS.has(endpoint)) return void problems.push(`${where}: endpoint must be chat, completions or embeddings`);
    const body = o.body !== undefined && typeof o.body === 'object' && o.body !== null && !Array.isArray(o.body) ? (o.body as Record<string, unknown>) : undefined;
    if (o.body !== undefined && !body) return void problems.push(`${where}: body must be an object`);
    const inputTokens = typeof o.inputTokens === 'number' ? Math.max(1, Math.round(o.inputTokens)) : 0;
    const outputTokens = typeof o.outputTokens === 'number' ? Math.max(1, Math.round(o.outputTokens)) : 0;
    if (!body && (inputTokens === 0 || (endpoint !== 'embeddings' && outputTokens === 0))) {
      return void problems.push(`${where}: needs "body", or "inputTokens" and "outputTokens"`);
    }
    const scenario = typeof o.scenario === 'string' && /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/.test(o.scenario) ? o.scenario : `replay_${endpoint}`;
    const stream = endpoint === 'embeddings' ? false : typeof o.stream === 'boolean' ? o.stream : body ? body.stream === true : true;
    entries.push({ t, endpoint, scenario, stream, inputTokens, outputTokens, ...(body ? { body } : {}) });
  });
  if (problems.length) throw new ConfigError(problems);
  if (!entries.length) throw new ConfigError([`${at}: ${file} holds no requests`]);
  entries.sort((a, b) => a.t - b.t);
  return entries;
}

/** The scenarios a replay uses (one per scenario name), for binding series. */
export function replayScenarios(entries: ReplayEntry[]): ScenarioConfig[] {
  const byName = new Map<string, ScenarioConfig>();
  for (const e of entries) {
    if (byName.has(e.scenario)) continue;
    byName.set(e.scenario, {
      name: e.scenario,
      weight: 1,
      endpoint: e.endpoint,
      stream: e.stream,
      promptKind: 'qa',
      ignoreEos: true,
      prompt: { dist: 'fixed', value: Math.max(1, e.inputTokens) },
      output: { dist: 'fixed', value: Math.max(1, e.outputTokens) },
      turns: { min: 1, max: 1 },
    });
  }
  return [...byName.values()];
}

/** Length of one lap of a recording, s: one mean gap after the last request before the next lap starts. */
export function replayPeriodSec(entries: ReplayEntry[]): number {
  const last = entries[entries.length - 1] as ReplayEntry;
  const meanGap = entries.length > 1 ? last.t / (entries.length - 1) : 1;
  return last.t + meanGap;
}

/** Arrival offsets of the recording, divided by `speed`, repeating after its end (every `periodSec` of recorded time). */
export class ReplayArrivals implements ArrivalProcess {
  private i = 0;
  private lap = 0;
  private readonly periodNs: number;
  constructor(
    private readonly entries: ReplayEntry[],
    private readonly speed: number,
    private readonly loop: boolean,
    periodSec = replayPeriodSec(entries),
  ) {
    this.periodNs = (periodSec / speed) * 1e9;
  }
  next(): number {
    if (this.i >= this.entries.length) {
      if (!this.loop) return Infinity;
      this.i = 0;
      this.lap++;
    }
    const e = this.entries[this.i++] as ReplayEntry;
    return this.lap * this.periodNs + (e.t / this.speed) * 1e9;
  }
}

/** The recorded requests, in order, as the workload. */
export class ReplayWorkload implements WorkloadSource {
  private i = 0;
  private current: ReplayEntry | undefined;
  private seq = 0;
  private readonly scenarios: Map<string, ScenarioConfig>;

  constructor(
    private readonly entries: ReplayEntry[],
    private readonly model: string,
    private readonly prompts: PromptBuilder,
    private readonly basePath: string,
  ) {
    this.scenarios = new Map(replayScenarios(entries).map((s) => [s.name, s]));
  }

  pick(): ScenarioConfig {
    this.current = this.entries[this.i] as ReplayEntry;
    this.i = (this.i + 1) % this.entries.length;
    return this.scenarios.get(this.current.scenario) as ScenarioConfig;
  }

  prepare(sc: ScenarioConfig): Prepared {
    const e = this.current ?? (this.entries[0] as ReplayEntry);
    const id = `r${++this.seq}`;
    const base = { id, scenario: sc.name, endpoint: e.endpoint, model: this.model, stream: e.stream, path: this.basePath + PATHS[e.endpoint], keepText: false };
    if (e.body) {
      const body: Record<string, unknown> = { ...e.body, model: this.model };
      if (e.stream) body.stream_options = { include_usage: true };
      return { scenario: sc, request: { ...base, body: JSON.stringify(body), promptTokens: e.inputTokens } };
    }
    const text = this.prompts.text(e.inputTokens);
    if (e.endpoint === 'embeddings') {
      return { scenario: sc, request: { ...base, body: JSON.stringify({ model: this.model, input: text }), promptTokens: e.inputTokens } };
    }
    const body = buildGenerationBody(this.model, e.outputTokens, e.stream, true);
    if (e.endpoint === 'chat') body.messages = [{ role: 'user', content: text }];
    else body.prompt = text;
    return { scenario: sc, request: { ...base, body: JSON.stringify(body), promptTokens: e.inputTokens } };
  }

  complete(): void {}
}
