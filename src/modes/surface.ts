/**
 * Capacity surface: concurrency (closed-loop users, no think time) × prompt
 * length → p99 TTFT and E2E, on a coarse grid first, then refined where the
 * SLO boundary runs: between two neighbouring points of which one held every
 * SLO and the other did not, the point between them (geometric mean) is
 * measured too, for `refineRounds` rounds. A point whose requests mostly fail
 * ends its row: larger concurrency at that prompt length is not measured.
 */
import type { ScenarioConfig } from '../traffic/config.js';
import type { Report, Surface } from '../report/model.js';
import type { SurfaceModeConfig } from '../config/mode-surface.js';
import { buildReport } from './report.js';
import { measureStep, startRun, type MeasuredStep, type ModeHost } from './runner.js';

/** A fixed request shape: streamed chat, exact prompt length, exactly `outputTokens` generated. */
export function surfaceScenario(inputTokens: number, outputTokens: number): ScenarioConfig {
  return {
    name: 'surface',
    weight: 1,
    endpoint: 'chat',
    stream: true,
    prompt: { dist: 'fixed', value: inputTokens },
    output: { dist: 'fixed', value: outputTokens },
    turns: { min: 1, max: 1 },
    ignoreEos: true,
    promptKind: 'qa',
  };
}

const key = (c: number, n: number): string => `${c}x${n}`;

/** Between two neighbours on either side of the boundary: their geometric mean, rounded, when strictly between. */
export function between(a: number, b: number): number | undefined {
  const m = Math.round(Math.sqrt(a * b));
  return m > Math.min(a, b) && m < Math.max(a, b) ? m : undefined;
}

/** Points to add: neighbours along either axis where one held and the other failed. */
export function refinePoints(conc: number[], inputs: number[], ok: Map<string, boolean>): [number, number][] {
  const out = new Map<string, [number, number]>();
  for (const n of inputs) {
    for (let i = 0; i + 1 < conc.length; i++) {
      const a = ok.get(key(conc[i] as number, n));
      const b = ok.get(key(conc[i + 1] as number, n));
      if (a === undefined || b === undefined || a === b) continue;
      const m = between(conc[i] as number, conc[i + 1] as number);
      if (m !== undefined && !ok.has(key(m, n))) out.set(key(m, n), [m, n]);
    }
  }
  for (const c of conc) {
    for (let j = 0; j + 1 < inputs.length; j++) {
      const a = ok.get(key(c, inputs[j] as number));
      const b = ok.get(key(c, inputs[j + 1] as number));
      if (a === undefined || b === undefined || a === b) continue;
      const m = between(inputs[j] as number, inputs[j + 1] as number);
      if (m !== undefined && !ok.has(key(c, m))) out.set(key(c, m), [c, m]);
    }
  }
  return [...out.values()];
}

export async function runSurface(host: ModeHost, cfg: SurfaceModeConfig): Promise<Report> {
  const run = startRun(host);
  const points = new Map<string, MeasuredStep>();
  const ok = new Map<string, boolean>();
  let conc = [...cfg.concurrency];
  let inputs = [...cfg.inputTokens];
  const measured: MeasuredStep[] = [];
  const measure = async (c: number, n: number, what: string): Promise<MeasuredStep> => {
    host.useScenarios([surfaceScenario(n, cfg.outputTokens)]);
    host.setActivity(`surface c=${c}, in=${n} (${what})`);
    const m = await measureStep(host, run.stepMeter, { label: `c=${c}, in=${n}`, users: c, thinkTimeMs: 0, inputTokens: n }, cfg, measured.length);
    measured.push(m);
    points.set(key(c, n), m);
    ok.set(key(c, n), m.result.sloMet);
    return m;
  };

  const total = conc.length * inputs.length;
  for (const n of inputs) {
    for (const c of conc) {
      if (host.signal.aborted) break;
      const m = await measure(c, n, `${measured.length + 1} of ${total}`);
      if (m.result.errorRate > 0.5) {
        const skipped = conc.filter((x) => x > c);
        if (skipped.length > 0)
          run.events.push({
            at: new Date(host.clock.wallMs()).toISOString(),
            kind: 'points_skipped',
            detail: `c=${skipped.join(', ')} at in=${n} not measured: c=${c} failed ${Math.round(m.result.errorRate * 100)}% of its requests`,
          });
        break;
      }
    }
  }
  for (let round = 0; round < cfg.refineRounds && !host.signal.aborted; round++) {
    const add = refinePoints(conc, inputs, ok);
    if (add.length === 0) break;
    for (const [c, n] of add) {
      if (host.signal.aborted) break;
      await measure(c, n, `refining round ${round + 1}`);
    }
    conc = [...new Set([...conc, ...add.map((p) => p[0])])].sort((a, b) => a - b);
    inputs = [...new Set([...inputs, ...add.map((p) => p[1])])].sort((a, b) => a - b);
  }
  host.useScenarios(undefined);

  const surface: Surface = {
    concurrency: conc,
    inputTokens: inputs,
    p99TtftSec: conc.map((c) => inputs.map((n) => points.get(key(c, n))?.result.ttft.p99 ?? null)),
    p99E2eSec: conc.map((c) => inputs.map((n) => points.get(key(c, n))?.result.e2e.p99 ?? null)),
    withinSlo: conc.map((c) => inputs.map((n) => ok.get(key(c, n)) ?? null)),
  };
  const failures: string[] = [];
  const req = cfg.required ?? { concurrency: cfg.concurrency[0] as number, inputTokens: cfg.inputTokens[0] as number };
  const at = points.get(key(req.concurrency, req.inputTokens));
  if (at === undefined) failures.push(`c=${req.concurrency}, in=${req.inputTokens} was not measured`);
  else if (!at.result.sloMet) failures.push(`c=${req.concurrency}, in=${req.inputTokens} breaks the SLOs: ${at.failures.join('; ')}`);
  const end = await run.finish();
  if (host.signal.aborted) failures.push('stopped before the surface was measured');
  const steps = [...measured].map((m) => m.result).sort((a, b) => (a.inputTokens ?? 0) - (b.inputTokens ?? 0) || (a.concurrency ?? 0) - (b.concurrency ?? 0));
  return buildReport(host, {
    kind: 'surface',
    startedAtMs: run.startedAtMs,
    endedAtMs: end.endedAtMs,
    durationSec: end.durationSec,
    parameters: { ...cfg },
    meter: run.meter,
    steps,
    surface,
    events: run.events,
    failures,
  });
}
