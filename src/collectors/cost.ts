/**
 * Cost and energy per output token, over a sliding window (default 60 s).
 *
 * Inputs (CostInputs), read once per run; each returns a CUMULATIVE value:
 *   outputTokens  output tokens so far: the traffic recorder's counter
 *                 (deps.outputTokens) or, without it, the server's own
 *                 generation-token counter (all traffic the server served);
 *   energyJoules  GPU energy so far (the GPU collector's energy counter, NVML
 *                 or DCGM; nvidia-smi gives none);
 *   gpuCount      GPUs billed: cost.gpuCount, else the GPUs the GPU collector sees.
 * Every run appends (t, tokens, energy) and compares with the oldest sample
 * inside the window (or the oldest kept, while the window fills):
 *   llmsoak_cost_per_million_output_tokens =
 *       gpuHourPrice × gpuCount × Δt[h] / (Δtokens / 1e6)   (currency of the price)
 *   llmsoak_energy_joules_per_output_token = Δenergy[J] / Δtokens
 * Both are absent while no output token was counted in the window (an idle
 * window has no per-token figure, not an infinite one). The cost attributes
 * every GPU-hour of the window to the counted tokens: with the client's
 * counter and other traffic on the same server it is an upper bound.
 *
 * The inputs are series too, so that Prometheus derives the same figures from
 * data (alerts/llmsoak-rules.yml, group llmsoak-cost: the recording rules
 * llmsoak:cost_per_million_output_tokens:rate1m and
 * llmsoak:energy_joules_per_output_token:rate1m, with the GPU collector's
 * llmsoak_gpu_energy_joules_total):
 *   llmsoak_cost_output_tokens_total  the output tokens the cost counts (the source above)
 *   llmsoak_cost_gpu_hour_price       cost.gpuHourPrice, when set
 *   llmsoak_cost_gpus                 the GPUs billed, when known
 */
import type { Counter, Gauge } from 'prom-client';
import { OK, PeriodicCollector, fail, type PeriodicOptions, type RunResult } from './base.js';
import { getOrCreateCounter, getOrCreateGauge } from './metrics-util.js';

export interface CostInputs {
  outputTokens: () => number | undefined;
  energyJoules?: () => number | undefined;
  gpuCount?: () => number | undefined;
}

export interface CostCollectorOptions extends PeriodicOptions {
  windowMs: number;
  /** Price of one GPU for one hour (any currency). */
  gpuHourPrice?: number;
  inputs: CostInputs;
}

interface Point {
  tNs: bigint;
  tokens: number;
  energy: number | undefined;
}

export class CostCollector extends PeriodicCollector {
  private readonly opts: CostCollectorOptions;
  private readonly costGauge: Gauge;
  private readonly energyGauge: Gauge;
  private readonly tokensCounter: Counter;
  private readonly priceGauge: Gauge;
  private readonly gpusGauge: Gauge;
  private points: Point[] = [];
  /** The token source's last cumulative reading (what the exported counter has caught up to). */
  private lastTokens: number | undefined;

  constructor(opts: CostCollectorOptions) {
    super('cost', opts);
    this.opts = opts;
    this.costGauge = getOrCreateGauge(opts.registry, 'llmsoak_cost_per_million_output_tokens', 'GPU cost of one million output tokens over the cost window, in the currency of cost.gpuHourPrice.', []);
    this.energyGauge = getOrCreateGauge(opts.registry, 'llmsoak_energy_joules_per_output_token', 'GPU energy per output token over the cost window, joules.', []);
    this.tokensCounter = getOrCreateCounter(
      opts.registry,
      'llmsoak_cost_output_tokens_total',
      'Output tokens the cost figures count (collectors.cost.tokenSource: the client counter or the server counter).',
      [],
    );
    this.priceGauge = getOrCreateGauge(opts.registry, 'llmsoak_cost_gpu_hour_price', 'Price of one GPU for one hour (collectors.cost.gpuHourPrice), in its currency.', []);
    this.gpusGauge = getOrCreateGauge(opts.registry, 'llmsoak_cost_gpus', 'GPUs the cost figures bill (collectors.cost.gpuCount, else the GPUs the GPU collector sees).', []);
    if (opts.gpuHourPrice !== undefined) this.priceGauge.set(opts.gpuHourPrice);
  }

  protected collect(): Promise<RunResult> {
    return Promise.resolve(this.step());
  }

  private step(): RunResult {
    const tNs = this.clock.monoNs();
    const tokens = this.opts.inputs.outputTokens();
    if (tokens === undefined || !Number.isFinite(tokens)) {
      this.costGauge.remove({});
      this.energyGauge.remove({});
      return fail('no output-token count yet (no traffic recorder and no server token counter)');
    }
    // The exported counter follows the source; a source that went back (restarted) counts on from zero.
    const counted = this.lastTokens === undefined || tokens < this.lastTokens ? tokens : tokens - this.lastTokens;
    this.tokensCounter.inc(counted);
    this.lastTokens = tokens;
    const gpus = this.opts.inputs.gpuCount?.();
    if (gpus !== undefined && gpus > 0) this.gpusGauge.set(gpus);
    else this.gpusGauge.remove({});
    const energy = this.opts.inputs.energyJoules?.();
    const last = this.points[this.points.length - 1];
    if (last !== undefined && tokens < last.tokens) this.points = []; // the counter restarted
    this.points.push({ tNs, tokens, energy });
    const windowNs = BigInt(Math.round(this.opts.windowMs * 1e6));
    // keep the newest point at or before the window start, and everything after it
    while (this.points.length > 2 && tNs - (this.points[1] as Point).tNs >= windowNs) this.points.shift();
    const base = this.points[0] as Point;
    const dTokens = tokens - base.tokens;
    const dtH = Number(tNs - base.tNs) / 3.6e12;
    if (dTokens <= 0 || dtH <= 0) {
      this.costGauge.remove({});
      this.energyGauge.remove({});
      return OK;
    }
    let problem: string | undefined;
    const price = this.opts.gpuHourPrice;
    if (price !== undefined) {
      if (gpus !== undefined && gpus > 0) this.costGauge.set((price * gpus * dtH) / (dTokens / 1e6));
      else {
        this.costGauge.remove({});
        problem = 'GPU count unknown: set collectors.cost.gpuCount';
      }
    }
    if (energy !== undefined && base.energy !== undefined && energy >= base.energy) {
      this.energyGauge.set((energy - base.energy) / dTokens);
    } else {
      this.energyGauge.remove({});
    }
    return problem === undefined ? OK : fail(problem);
  }
}
