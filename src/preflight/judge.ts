/**
 * What the preflight's answers mean (pure: no I/O, no clock): one table line
 * per check, which scenarios can run, and one clear line per thing that will
 * not work.
 */
import type { ScenarioConfig } from '../traffic/config.js';
import type { DeltaKind, EndpointProbe, MetricsProbe, ModelsProbe, PreflightCheck, PreflightResult, ScenarioVerdict } from './types.js';

export interface JudgeInput {
  at: string;
  target: string;
  model: string;
  modelConfigured: boolean;
  durationMs: number;
  scenarios: ScenarioConfig[];
  endpoints: EndpointProbe[];
  models: ModelsProbe;
  metrics: MetricsProbe;
}

/** A tokenizer count (no usage) within this many tokens of max_tokens counts as "the asked length". */
const TOKENIZER_SLACK = 2;

function probeName(p: EndpointProbe): string {
  return `POST ${p.path}${p.stream ? ' (stream)' : ''}`;
}

function generated(p: EndpointProbe): p is EndpointProbe & { askedTokens: number; outputTokens: number; tokenSource: 'usage' | 'tokenizer' } {
  return p.askedTokens !== undefined && p.outputTokens !== undefined && p.tokenSource !== undefined;
}

/** Did the answer have the length asked: exactly max_tokens with ignore_eos, at most max_tokens without (tokenizer counts get a little slack). */
export function lengthHonoured(p: { askedTokens: number; outputTokens: number; tokenSource: 'usage' | 'tokenizer'; ignoreEos?: boolean }): boolean {
  const slack = p.tokenSource === 'usage' ? 0 : TOKENIZER_SLACK;
  if (p.ignoreEos) return Math.abs(p.outputTokens - p.askedTokens) <= slack;
  return p.outputTokens <= p.askedTokens + slack;
}

function endpointCheck(p: EndpointProbe): PreflightCheck {
  if (p.outcome !== 'ok') return { check: probeName(p), status: 'fail', detail: p.message ?? p.outcome };
  const tokens = generated(p) ? `, ${p.outputTokens} tokens (${p.tokenSource})` : '';
  const chunks = p.chunks !== undefined ? `, ${p.chunks} chunks` : '';
  return { check: probeName(p), status: 'ok', detail: `${p.httpStatus ?? 200} in ${p.ms} ms${tokens}${chunks}` };
}

function scenarioVerdicts(scenarios: ScenarioConfig[], endpoints: EndpointProbe[]): ScenarioVerdict[] {
  return scenarios.map((sc) => {
    const p = endpoints.find((e) => e.endpoint === sc.endpoint && e.stream === sc.stream);
    const v: ScenarioVerdict = { name: sc.name, endpoint: sc.endpoint, stream: sc.stream, runnable: p?.outcome === 'ok', missing: p?.missing ?? false };
    if (p === undefined) v.reason = 'not probed';
    else if (p.outcome !== 'ok') v.reason = `${probeName(p)}: ${p.message ?? p.outcome}`;
    return v;
  });
}

export function judge(i: JudgeInput): PreflightResult {
  const checks: PreflightCheck[] = [];
  const problems: string[] = [];
  const scenarios = scenarioVerdicts(i.scenarios, i.endpoints);

  for (const p of i.endpoints) {
    checks.push(endpointCheck(p));
    if (p.outcome === 'ok') continue;
    const hit = scenarios.filter((s) => s.endpoint === p.endpoint && s.stream === p.stream).map((s) => s.name);
    const who = hit.length > 0 ? `scenario${hit.length > 1 ? 's' : ''} ${hit.join(', ')} cannot run` : 'no scenario sends this exact request';
    problems.push(`${probeName(p)} ${p.missing ? 'does not exist on the target' : 'fails'} (${p.message ?? p.outcome}): ${who}`);
  }

  const m = i.models;
  if (m.ok) {
    const listed = m.ids.includes(i.model);
    const shown = `${m.ids.length} model${m.ids.length === 1 ? '' : 's'}: ${m.ids.slice(0, 3).join(', ')}${m.ids.length > 3 ? ', …' : ''}`;
    if (i.modelConfigured && !listed) {
      checks.push({ check: 'GET /models', status: 'warn', detail: `${shown}; ${i.model} not among them` });
      problems.push(`GET /models does not list the configured model ${i.model} (it lists ${m.ids.slice(0, 3).join(', ') || 'none'})`);
    } else checks.push({ check: 'GET /models', status: 'ok', detail: shown });
  } else {
    checks.push({ check: 'GET /models', status: 'warn', detail: m.message ?? 'failed' });
    problems.push(`GET /models fails (${m.message ?? 'no answer'}): set target.model, and target changes (model, version) will not be seen from it`);
  }

  const gen = i.endpoints.filter(generated);
  const streamed = gen.filter((p) => p.stream);
  if (streamed.length > 0) {
    const withUsage = streamed.filter((p) => p.tokenSource === 'usage');
    if (withUsage.length === streamed.length) checks.push({ check: 'usage in streams', status: 'ok', detail: 'stream_options.include_usage honoured' });
    else {
      checks.push({
        check: 'usage in streams',
        status: 'warn',
        detail: `no usage in ${streamed
          .filter((p) => p.tokenSource !== 'usage')
          .map((p) => p.path)
          .join(', ')} streams: tokens counted by llmsoak's tokenizer`,
      });
      problems.push("streams ignore stream_options.include_usage: output tokens (TPOT, token rates) will be llmsoak's tokenizer count, not the server's");
    }
  }
  const plain = gen.filter((p) => !p.stream);
  if (plain.length > 0 && plain.some((p) => p.tokenSource !== 'usage')) {
    checks.push({
      check: 'usage in answers',
      status: 'warn',
      detail: `no usage in ${plain
        .filter((p) => p.tokenSource !== 'usage')
        .map((p) => p.path)
        .join(', ')} answers`,
    });
  }

  if (gen.length > 0) {
    const off = gen.filter((p) => !lengthHonoured(p));
    const what = (p: (typeof gen)[number]) => `${p.path}${p.stream ? ' (stream)' : ''} gave ${p.outputTokens} (${p.tokenSource})`;
    const asked = `max_tokens ${gen[0]?.askedTokens ?? ''}${gen.some((p) => p.ignoreEos) ? ' with ignore_eos' : ''}`;
    if (off.length === 0) checks.push({ check: 'output length', status: 'ok', detail: `${asked}: as asked` });
    else {
      checks.push({ check: 'output length', status: 'warn', detail: `${asked}: ${off.map(what).join('; ')}` });
      problems.push(`max_tokens/ignore_eos not honoured (${asked}: ${off.map(what).join('; ')}): output lengths will not follow traffic.scenarios[].output`);
    }
    const kinds = new Set<DeltaKind>(gen.flatMap((p) => p.deltaKinds ?? []));
    const special = (['reasoning', 'tool_calls'] as const).filter((k) => kinds.has(k));
    checks.push({
      check: 'reasoning / tool calls',
      status: 'info',
      detail: special.length > 0 ? `${special.join(', ')} deltas seen (they count as tokens for TTFT and ITL)` : 'none seen (content only)',
    });
    const compared = gen.filter((p) => p.tokenSource === 'usage' && p.tokenizerTokens !== undefined);
    if (compared.length > 0) {
      const u = compared.reduce((a, p) => a + p.outputTokens, 0);
      const t = compared.reduce((a, p) => a + (p.tokenizerTokens ?? 0), 0);
      const pct = u > 0 ? ((t - u) / u) * 100 : 0;
      checks.push({ check: 'tokenizer vs usage', status: Math.abs(pct) > 25 ? 'warn' : 'ok', detail: `usage ${u}, tokenizer ${t} (${pct >= 0 ? '+' : ''}${pct.toFixed(0)}%)` });
    } else checks.push({ check: 'tokenizer vs usage', status: 'info', detail: 'no usage to compare with' });
  }

  const mx = i.metrics;
  if (mx.dialect !== undefined) checks.push({ check: '/metrics dialect', status: 'ok', detail: `${mx.dialect} (${mx.names} metric names)` });
  else {
    checks.push({ check: '/metrics dialect', status: 'warn', detail: `none: ${mx.message ?? 'unknown'}` });
    problems.push(`no LLM server metrics at ${mx.url} (${mx.message ?? 'unknown'}): server-side queue, KV-cache and token figures stay absent, and the rules that need them say "insufficient data"`);
  }
  checks.push({ check: 'round trip', status: m.rttMs !== undefined ? 'ok' : 'info', detail: m.rttMs !== undefined ? `${m.rttMs} ms (GET /models, warm connection)` : 'unknown (GET /models failed)' });

  return {
    at: i.at,
    target: i.target,
    model: i.model,
    durationMs: i.durationMs,
    ok: scenarios.every((s) => s.runnable),
    checks,
    endpoints: i.endpoints,
    models: i.models,
    metrics: i.metrics,
    scenarios,
    problems,
  };
}
