/**
 * Config loading: YAML file → environment overrides → CLI flags → `${env:NAME}`
 * references → schema validation (defaults filled) → cross-field checks →
 * one typed, normalised `Config`. Every problem is collected and reported at
 * once as `path: message`; nothing reads process.env after this returns.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../errors.js';
import { configSchema } from './schema.js';
import type { Config, ScenarioConfig } from './types.js';
import type { LengthSpec } from '../traffic/lengths.js';
import { validateAlertingConfig } from '../alerting/config.js';
import { isLoopbackHost } from '../server/auth.js';
import { validateQualityConfig } from '../quality/config.js';
import { validateModesConfig } from './modes.js';
import { checkUserRules } from '../analyzer/rules/user.js';
import { builtInRules } from '../analyzer/rules/index.js';
import { checkProfileConfig } from '../traffic/rate-profile.js';
import { arrivalKind } from '../traffic/arrival-kinds.js';
import { edgeCaseScenarios } from '../traffic/edge-cases.js';

/** Scale-out shares, computed by the traffic engine (src/traffic/replicas.ts). */
export { replicaRate, replicaUsers } from '../traffic/replicas.js';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** CLI flags that override config paths. */
export interface ConfigFlags {
  target?: string;
  model?: string;
  rate?: number;
  duration?: number;
  listen?: string;
}

export interface LoadOptions {
  /** Path of a YAML file; absent = all defaults. */
  file?: string;
  /** Already-parsed document (tests, --config-json); used instead of `file`. */
  document?: unknown;
  /** The environment to read LLMSOAK_* overrides and ${env:NAME} references from. */
  env?: NodeJS.ProcessEnv;
  flags?: ConfigFlags;
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

const ENV_PREFIX = 'LLMSOAK_';
/** Env vars with this prefix that are not config paths. */
const ENV_RESERVED = new Set(['LLMSOAK_CONFIG']);

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator(): ReturnType<Ajv['compile']> {
  if (!compiled) {
    // Strict: an unknown keyword or a keyword on the wrong type in the schema is an error at start,
    // not a check silently skipped. Union types are deliberate (a number or a literal such as `auto`).
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
    compiled = ajv.compile(configSchema);
  }
  return compiled;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const problems: string[] = [];
  const source = opts.file ?? 'config';

  let doc: JsonObject = {};
  const raw = opts.document !== undefined ? opts.document : opts.file !== undefined ? readYaml(opts.file) : {};
  if (raw === null || raw === undefined) doc = {};
  else if (typeof raw === 'object' && !Array.isArray(raw)) doc = structuredClone(raw) as JsonObject;
  else throw new ConfigError(['(root): must be a mapping of settings'], source);

  applyEnvOverrides(doc, env, problems);
  applyFlags(doc, opts.flags ?? {});
  substituteEnvRefs(doc, env, '', problems);
  if (problems.length) throw new ConfigError(problems, source);

  const validate = validator();
  if (!validate(doc)) {
    for (const e of validate.errors ?? []) problems.push(formatAjvError(e));
    throw new ConfigError(dedupe(problems), source);
  }
  const warnings: string[] = [];
  const config = normalise(doc as unknown as Config, problems, warnings, env);
  if (problems.length) throw new ConfigError(problems, source);
  return { config, warnings };
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`(file): cannot read ${file} (${code})`], file);
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `line ${pos.line} column ${pos.col}` : 'YAML';
      throw new ConfigError([`(file): ${where}: ${err.message.split('\n')[0]}`], file);
    }
    throw err;
  }
}

/** LLMSOAK_TRAFFIC__MAX_IN_FLIGHT=64 → traffic.maxInFlight = 64 (value parsed as a YAML scalar). */
function applyEnvOverrides(doc: JsonObject, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || value === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__').map(snakeToCamel);
    if (segments.some((s) => s === '')) {
      problems.push(`${name}: not a config path (use LLMSOAK_SECTION__KEY)`);
      continue;
    }
    let parsed: Json;
    try {
      parsed = parseYaml(value) as Json;
    } catch {
      parsed = value;
    }
    setPath(doc, segments, parsed);
  }
}

function applyFlags(doc: JsonObject, flags: ConfigFlags): void {
  if (flags.target !== undefined) setPath(doc, ['target', 'url'], flags.target);
  if (flags.model !== undefined) setPath(doc, ['target', 'model'], flags.model);
  if (flags.rate !== undefined) setPath(doc, ['traffic', 'rate'], flags.rate);
  if (flags.duration !== undefined) setPath(doc, ['run', 'durationSec'], flags.duration);
  if (flags.listen !== undefined) setPath(doc, ['server', 'listen'], flags.listen);
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replace `${env:NAME}` in every string; a missing variable is a problem (its value never printed). */
function substituteEnvRefs(node: Json, env: NodeJS.ProcessEnv, path: string, problems: string[]): Json {
  if (typeof node === 'string') {
    return node.replace(ENV_REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${path || '(root)'}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = substituteEnvRefs(node[i] as Json, env, `${path}[${i}]`, problems);
    return node;
  }
  if (node !== null && typeof node === 'object') {
    for (const k of Object.keys(node)) node[k] = substituteEnvRefs(node[k] as Json, env, path ? `${path}.${k}` : k, problems);
  }
  return node;
}

function setPath(doc: JsonObject, segments: string[], value: Json): void {
  let cur: JsonObject = doc;
  for (const seg of segments.slice(0, -1)) {
    const next = cur[seg];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as JsonObject;
  }
  cur[segments[segments.length - 1] as string] = value;
}

function snakeToCamel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** '/traffic/scenarios/0/name' → 'traffic.scenarios[0].name' */
function jsonPointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function formatAjvError(e: ErrorObject): string {
  const path = jsonPointerToPath(e.instancePath);
  const at = (p: string) => p || '(root)';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at(path ? `${path}.${String(e.params.additionalProperty)}` : String(e.params.additionalProperty))}: unknown key`;
    case 'required':
      return `${at(path ? `${path}.${String(e.params.missingProperty)}` : String(e.params.missingProperty))}: is required`;
    case 'type':
      return `${at(path)}: must be ${String(e.params.type)}`;
    case 'enum':
      return `${at(path)}: must be one of ${(e.params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern':
      return `${at(path)}: has the wrong form (${patternHint(path)})`;
    default:
      return `${at(path)}: ${e.message ?? e.keyword}`;
  }
}

function patternHint(path: string): string {
  if (path.endsWith('listen')) return 'expected HOST:PORT';
  if (path.endsWith('url') || path.endsWith('Url')) return 'expected an http:// or https:// URL';
  if (path.endsWith('name')) return 'letters, digits, _ and -, starting with a letter';
  return 'see the configuration reference';
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Cross-field checks and normalisation of the schema-valid document. */
function normalise(cfg: Config, problems: string[], warnings: string[], env: NodeJS.ProcessEnv): Config {
  const listen = splitHostPort(cfg.server.listen);
  if (!listen || listen.port > 65535) problems.push('server.listen: port must be 0–65535');
  else {
    cfg.server.host = listen.host;
    cfg.server.port = listen.port;
  }

  const seen = new Set<string>();
  let totalWeight = 0;
  cfg.traffic.scenarios.forEach((s: ScenarioConfig, i: number) => {
    const at = `traffic.scenarios[${i}]`;
    if (seen.has(s.name)) problems.push(`${at}.name: duplicate scenario name "${s.name}"`);
    seen.add(s.name);
    totalWeight += s.weight;
    checkLength(s.prompt, `${at}.prompt`, problems);
    checkLength(s.output, `${at}.output`, problems);
    if (s.turns.min > s.turns.max) problems.push(`${at}.turns: min (${s.turns.min}) is above max (${s.turns.max})`);
    if ((s.endpoint === 'embeddings' || s.endpoint === 'moderations') && s.stream) {
      s.stream = false;
      warnings.push(`${at}.stream: ${s.endpoint} do not stream; using stream: false`);
    }
    if (s.endpoint !== 'chat' && s.turns.max > 1) problems.push(`${at}.turns: multi-turn needs endpoint: chat`);
  });
  if (cfg.traffic.scenarios.length && totalWeight <= 0) problems.push('traffic.scenarios: weights add up to 0');
  // traffic.edgeCases adds one scenario per kind (edge_<kind>), weighted to its share of all requests.
  for (const e of edgeCaseScenarios(cfg.traffic.scenarios, cfg.traffic.edgeCases)) {
    if (seen.has(e.name)) problems.push(`traffic.edgeCases: scenario name "${e.name}" is taken by a configured scenario`);
    else cfg.traffic.scenarios.push(e);
  }
  if (cfg.target.timeouts.headersMs > cfg.target.timeouts.totalMs) {
    problems.push('target.timeouts.headersMs: is above totalMs');
  }
  problems.push(...validateAlertingConfig(cfg.alerting, 'alerting'));
  problems.push(...validateQualityConfig(cfg.quality, 'quality'));
  validateModesConfig(cfg, problems);
  const a = cfg.analyzer;
  problems.push(...checkUserRules(a.rules, 'analyzer.rules', new Set(builtInRules().map((r) => r.id))));
  if (a.windowSec < 2 * a.stepSec) problems.push(`analyzer.windowSec: must be at least 2 × stepSec (${2 * a.stepSec})`);
  if (a.intervalSec < a.stepSec) problems.push(`analyzer.intervalSec: must be at least stepSec (${a.stepSec})`);
  if (a.leakWindowSec > a.rawRetentionSec + 72 * 3600) problems.push('analyzer.leakWindowSec: longer than the store keeps (rawRetentionSec + 72 h)');
  if (cfg.traffic.mode === 'open' && cfg.traffic.rate === 0) warnings.push('traffic.rate: 0 sends no requests');
  problems.push(...(arrivalKind(cfg.traffic.arrival).check?.(cfg.traffic, { profile: cfg.traffic.profile !== undefined }, 'traffic') ?? []));
  if (cfg.traffic.profile) {
    problems.push(...checkProfileConfig(cfg.traffic.profile));
    if (cfg.traffic.replay) problems.push('traffic.profile: a replay keeps its own pace (use traffic.replay.speed), remove one of the two');
    else if (cfg.traffic.mode === 'closed') warnings.push('traffic.profile: shapes the open-loop rate only; closed-loop users are not profiled');
  }
  checkServerSecurity(cfg, problems, warnings);
  if (a.source === 'prometheus' && a.prometheus === undefined) problems.push('analyzer.prometheus: is required when analyzer.source is prometheus (url of the Prometheus to read)');
  if (a.prometheus?.bearerToken !== undefined && a.prometheus.basicAuth !== undefined) problems.push('analyzer.prometheus: bearerToken and basicAuth are mutually exclusive');
  normaliseReplicas(cfg, problems, warnings, env);
  return cfg;
}

/** server.auth and server.tls: what a token protects, and a warning when changes over HTTP are off. */
function checkServerSecurity(cfg: Config, problems: string[], warnings: string[]): void {
  const auth = cfg.server.auth;
  if (auth.token === undefined) {
    if (auth.protectMetrics) problems.push('server.auth.protectMetrics: needs server.auth.token');
    if (auth.protectApi) problems.push('server.auth.protectApi: needs server.auth.token');
    if (!isLoopbackHost(cfg.server.host ?? '')) {
      warnings.push(`server.auth.token: not set and listening on ${cfg.server.listen}: requests that change anything (POST/PUT/PATCH/DELETE) are refused with 403`);
    }
  } else if (cfg.server.tls === undefined && !isLoopbackHost(cfg.server.host ?? '')) {
    warnings.push('server.tls: not set: the bearer token crosses the network in clear text (use TLS, or a TLS-terminating proxy)');
  }
}

/**
 * `traffic.replicas.index: auto` → the ordinal ending the host name (a
 * StatefulSet pod is `<name>-<ordinal>`; Kubernetes sets HOSTNAME to it).
 */
function normaliseReplicas(cfg: Config, problems: string[], warnings: string[], env: NodeJS.ProcessEnv): void {
  const r = cfg.traffic.replicas;
  const raw: unknown = r.index;
  if (raw === 'auto') {
    const host = env.HOSTNAME ?? hostname();
    const m = /-(\d+)$/.exec(host);
    if (!m) {
      problems.push(`traffic.replicas.index: auto needs a host name ending in -<ordinal> (a StatefulSet pod such as llmsoak-0), got "${host}"; set the index instead`);
      return;
    }
    r.index = Number(m[1]);
  }
  if (r.index >= r.count) problems.push(`traffic.replicas.index: ${r.index} is not below count (${r.count})`);
  if (r.count > 1 && cfg.traffic.replay) warnings.push('traffic.replicas: every replica replays the whole recording (replay is not divided)');
  if (r.count > 1 && cfg.traffic.mode === 'closed' && cfg.traffic.users < r.count)
    warnings.push(`traffic.replicas: ${cfg.traffic.users} users over ${r.count} replicas leaves some replicas without users`);
}

function checkLength(spec: LengthSpec, at: string, problems: string[]): void {
  const s = spec as unknown as Record<string, number | string | undefined>;
  const need = (k: string) => {
    if (s[k] === undefined) problems.push(`${at}.${k}: is required for dist ${String(s.dist)}`);
  };
  switch (s.dist) {
    case 'fixed':
      need('value');
      break;
    case 'lognormal':
      need('median');
      need('sigma');
      break;
    case 'negbin':
      need('mean');
      need('dispersion');
      break;
    case 'uniform':
      need('min');
      need('max');
      break;
  }
  if (typeof s.min === 'number' && typeof s.max === 'number' && s.min > s.max) {
    problems.push(`${at}: min (${s.min}) is above max (${s.max})`);
  }
}

export function splitHostPort(listen: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):([0-9]{1,5})$/.exec(listen);
  if (!m) return undefined;
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { host, port: Number(m[2]) };
}

/** A copy safe to log or show: secrets replaced. */
export function redactConfig(cfg: Config): Config {
  const copy = structuredClone(cfg);
  if (copy.target.apiKey !== undefined) copy.target.apiKey = '[redacted]';
  if (copy.server.auth.token !== undefined) copy.server.auth.token = '[redacted]';
  for (const am of copy.alerting.alertmanagers) {
    if (am.bearerToken !== undefined) am.bearerToken = '[redacted]';
    if (am.basicAuth) am.basicAuth.password = '[redacted]';
  }
  const prom = copy.analyzer.prometheus;
  if (prom?.bearerToken !== undefined) prom.bearerToken = '[redacted]';
  if (prom?.basicAuth) prom.basicAuth.password = '[redacted]';
  return copy;
}
