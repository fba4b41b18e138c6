/**
 * Collectors: host · target process · GPU · target-server /metrics · cost.
 * Each runs on its own interval, writes into the daemon's registry, reports
 * its health (llmsoak_collector_last_success{collector} …, see health.ts) and
 * logs one line when it starts failing and one when it recovers.
 *
 * The daemon builds them with createCollectors() and owns start/stop order.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Collector } from './base.js';
import { CostCollector, type CostInputs } from './cost.js';
import { GpuCollector } from './gpu.js';
import { HostCollector } from './host.js';
import { ProcessCollector } from './process.js';
import { DIALECTS } from './server-dialects.js';
import { ServerCollector } from './server.js';
import type { ServerIdentity } from './server-identity.js';

export type { Collector, RunResult } from './base.js';
export type { CostInputs } from './cost.js';
export type { Dialect } from './server-dialects.js';
export { CollectorHealth } from './health.js';
export { GpuCollector } from './gpu.js';
export { HostCollector } from './host.js';
export { ProcessCollector } from './process.js';
export { ServerCollector } from './server.js';
export { CostCollector } from './cost.js';

const intervalSchema = { type: 'integer', minimum: 10, maximum: 3_600_000 } as const;

/** JSON Schema (draft-07 keywords) for ajv with useDefaults; additionalProperties false everywhere. */
export const collectorsConfigSchema = {
  description: 'What llmsoak reads besides its own traffic: host, target process, GPU, server metrics and cost.',
  type: 'object',
  additionalProperties: false,
  properties: {
    intervalMs: { ...intervalSchema, description: "Interval of every collector, ms (a section's intervalMs overrides it).", default: 5000 },
    timeoutMs: {
      description: 'Default per-run timeout, ms: a run still going after it is abandoned and counted as failed.',
      type: 'integer',
      minimum: 10,
      maximum: 600_000,
      default: 4000,
    },
    host: {
      description: 'Host series from /proc: CPU, memory, load, network, disks, pressure, TCP and file-descriptor limits.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Run the host collector.', type: 'boolean', default: true },
        intervalMs: { ...intervalSchema, description: 'Interval of this collector, ms; absent: collectors.intervalMs.' },
        networkDeviceExclude: {
          description: 'Regex of network interfaces to leave out (virtual ones: their traffic is counted on the NIC).',
          type: 'string',
          default: '^(lo|veth.*|docker\\d*|br-.*|virbr.*|cali.*|flannel.*|cni\\d*|vxlan.*|tun\\d*|tap.*|ifb\\d*|dummy\\d*)$',
        },
        diskDeviceExclude: { description: 'Regex of block devices to leave out (partitions are always left out).', type: 'string', default: '^(loop|ram|zram|sr|fd|nbd)\\d*$' },
        maxDevices: { description: 'At most this many devices per family (network, disk).', type: 'integer', minimum: 1, maximum: 1024, default: 32 },
      },
    },
    process: {
      description: 'The target process and its descendants from /proc: RSS, CPU, threads, open files, start time.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Run the process collector; it exists only when there is a pid or a pattern to look for.', type: 'boolean', default: true },
        intervalMs: { ...intervalSchema, description: 'Interval of this collector, ms; absent: collectors.intervalMs.' },
        pid: { description: "PID of the target process; default: the daemon's target (the embedded simulator's child pid).", type: 'integer', minimum: 1 },
        namePattern: { description: 'Regex over the command line (argv joined by spaces) or process name; default: target.processName.', type: 'string', minLength: 1 },
        label: { description: 'Value of the `process` label; default: the process name (comm), at most 32 characters.', type: 'string', minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_.:-]+$' },
        includeChildren: { description: "Count the target's descendants too (vLLM's engine core and API servers are children).", type: 'boolean', default: true },
      },
    },
    gpu: {
      description: 'GPU series through NVML (in-process), nvidia-smi or DCGM; absent without a GPU.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Run the GPU collector; a host without a GPU shows last_success 0 and one log line.', type: 'boolean', default: true },
        intervalMs: { ...intervalSchema, description: 'Interval of this collector, ms; absent: collectors.intervalMs.' },
        backend: { description: "'auto' (default): dcgm when dcgmUrl is set, else NVML in-process, else nvidia-smi.", type: 'string', enum: ['auto', 'nvml', 'nvidia-smi', 'dcgm'], default: 'auto' },
        libraryPath: { description: 'NVML library loaded in-process.', type: 'string', minLength: 1, default: 'libnvidia-ml.so.1' },
        nvidiaSmiPath: { description: 'nvidia-smi command (looked up in PATH).', type: 'string', minLength: 1, default: 'nvidia-smi' },
        dcgmUrl: { description: 'dcgm-exporter /metrics URL (e.g. http://127.0.0.1:9400/metrics).', type: 'string', pattern: '^https?://' },
        timeoutMs: { description: 'Per-run timeout, ms.', type: 'integer', minimum: 10, maximum: 600_000, default: 4000 },
        retryMs: {
          description: 'With no GPU, or after a backend broke, look again after this long, ms.',
          type: 'integer',
          minimum: 100,
          maximum: 86_400_000,
          default: 300_000,
        },
        gpm: { description: 'Read GPM metrics (SM active/occupancy, tensor, DRAM) on Hopper and newer.', type: 'boolean', default: true },
        pcie: { description: 'Read PCIe throughput through NVML (each read samples ~20 ms in the driver).', type: 'boolean', default: true },
      },
    },
    server: {
      description: "The target server's own Prometheus series (vLLM, SGLang, TGI, llama.cpp, Triton, TensorRT-LLM), read in llmsoak's names.",
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: "Run the server-metrics collector; it exists only when there is a URL (this or the target's metricsUrl).", type: 'boolean', default: true },
        url: { description: "The target server's Prometheus endpoint; default: target.metricsUrl.", type: 'string', pattern: '^https?://' },
        intervalMs: { ...intervalSchema, description: 'Interval of this collector, ms; absent: collectors.intervalMs.' },
        timeoutMs: { description: 'Whole scrape (connect, headers, body), ms.', type: 'integer', minimum: 10, maximum: 600_000, default: 3000 },
        maxBytes: { description: 'Largest body accepted, bytes.', type: 'integer', minimum: 1024, maximum: 268_435_456, default: 8_388_608 },
        dialect: {
          description: "'auto' (default) detects by metric names; or force a registered dialect (src/collectors/server-dialects.ts).",
          type: 'string',
          enum: ['auto', ...DIALECTS],
          default: 'auto',
        },
        maxModels: { description: 'At most this many distinct `model` label values; the rest are pooled as "other".', type: 'integer', minimum: 1, maximum: 1000, default: 8 },
      },
    },
    cost: {
      description: 'Cost and energy per output token from GPU-hour price, GPU count and power.',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { description: 'Run the cost collector; it exists when output tokens can be counted.', type: 'boolean', default: true },
        intervalMs: { ...intervalSchema, description: 'Interval of this collector, ms; absent: collectors.intervalMs.' },
        windowMs: { description: 'Sliding window over which cost and energy per token are computed, ms.', type: 'integer', minimum: 100, maximum: 86_400_000, default: 60_000 },
        gpuHourPrice: { description: 'Price of one GPU-hour (any currency). Absent: no cost series, energy per token only.', type: 'number', minimum: 0 },
        gpuCount: { description: 'GPUs billed; default: the GPUs the GPU collector sees.', type: 'integer', minimum: 1 },
        tokenSource: {
          description: "Output tokens from 'client' (the traffic recorder), 'server' (its generation-token counter), or 'auto' (default: client when the daemon provides it, else server).",
          type: 'string',
          enum: ['auto', 'client', 'server'],
          default: 'auto',
        },
      },
    },
  },
} as const;

/** The validated `collectors` section, derived from the schema (defaults applied); its descriptions are the reference. */
export type CollectorsConfig = FromSchema<typeof collectorsConfigSchema>;

export function defaultCollectorsConfig(): CollectorsConfig {
  return {
    intervalMs: 5000,
    timeoutMs: 4000,
    host: {
      enabled: true,
      networkDeviceExclude: collectorsConfigSchema.properties.host.properties.networkDeviceExclude.default,
      diskDeviceExclude: collectorsConfigSchema.properties.host.properties.diskDeviceExclude.default,
      maxDevices: 32,
    },
    process: { enabled: true, includeChildren: true },
    gpu: {
      enabled: true,
      backend: 'auto',
      libraryPath: 'libnvidia-ml.so.1',
      nvidiaSmiPath: 'nvidia-smi',
      timeoutMs: 4000,
      retryMs: 300_000,
      gpm: true,
      pcie: true,
    },
    server: { enabled: true, timeoutMs: 3000, maxBytes: 8_388_608, dialect: 'auto', maxModels: 8 },
    cost: { enabled: true, windowMs: 60_000, tokenSource: 'auto' },
  };
}

export interface CollectorsDeps {
  /** prom-client Registry the daemon serves on /metrics. */
  registry: Registry;
  /** Root logger; each collector logs through logger.child({ component: 'collector', collector }). */
  logger: Logger;
  clock: Clock;
  /**
   * What to watch. Read again at every resolution, so the daemon may update
   * `pid` (e.g. after restarting its embedded simulator). `processName` is a
   * regex over the command line, like collectors.process.namePattern.
   */
  target: { pid?: number; processName?: string; metricsUrl?: string };
  /** Cumulative output tokens counted by the traffic recorder (for cost/energy per token). */
  outputTokens?: () => number;
  /** Identity readings for target-change detection (src/analyzer/target-changes.ts). */
  identity?: { server?: (id: ServerIdentity) => void; processStartTime?: (sec: number) => void };
}

function regex(path: string, source: string, problems: string[]): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch (err) {
    problems.push(`${path}: invalid regular expression: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/**
 * Builds the enabled collectors (not started). Order: host, process, gpu,
 * server, cost. Throws ConfigError for an invalid regex.
 */
export function createCollectors(cfg: CollectorsConfig, deps: CollectorsDeps): Collector[] {
  const problems: string[] = [];
  const netExclude = regex('collectors.host.networkDeviceExclude', cfg.host.networkDeviceExclude, problems);
  const diskExclude = regex('collectors.host.diskDeviceExclude', cfg.host.diskDeviceExclude, problems);
  const patternSource = cfg.process.namePattern ?? deps.target.processName;
  const pattern = patternSource === undefined ? undefined : regex(cfg.process.namePattern !== undefined ? 'collectors.process.namePattern' : 'target.processName', patternSource, problems);
  if (cfg.gpu.enabled && cfg.gpu.backend === 'dcgm' && cfg.gpu.dcgmUrl === undefined) {
    problems.push('collectors.gpu.dcgmUrl: required when collectors.gpu.backend is "dcgm"');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const base = (
    interval: number | undefined,
    timeoutMs = cfg.timeoutMs,
  ): {
    intervalMs: number;
    timeoutMs: number;
    logger: Logger;
    clock: Clock;
    registry: Registry;
  } => ({ intervalMs: interval ?? cfg.intervalMs, timeoutMs, logger: deps.logger, clock: deps.clock, registry: deps.registry });
  const out: Collector[] = [];

  if (cfg.host.enabled && netExclude && diskExclude) {
    out.push(
      new HostCollector({
        ...base(cfg.host.intervalMs),
        procRoot: '/proc',
        sysRoot: '/sys',
        networkDeviceExclude: netExclude,
        diskDeviceExclude: diskExclude,
        maxDevices: cfg.host.maxDevices,
      }),
    );
  }

  const pidFn = (): number | undefined => cfg.process.pid ?? deps.target.pid;
  if (cfg.process.enabled && (pidFn() !== undefined || pattern !== undefined)) {
    out.push(
      new ProcessCollector({
        ...base(cfg.process.intervalMs),
        procRoot: '/proc',
        pid: pidFn,
        ...(pattern ? { pattern } : {}),
        ...(cfg.process.label !== undefined ? { label: cfg.process.label } : {}),
        includeChildren: cfg.process.includeChildren,
        ...(deps.identity?.processStartTime ? { onStartTime: deps.identity.processStartTime } : {}),
      }),
    );
  }

  let gpu: GpuCollector | undefined;
  if (cfg.gpu.enabled) {
    gpu = new GpuCollector({
      ...base(cfg.gpu.intervalMs, cfg.gpu.timeoutMs),
      backend: cfg.gpu.backend,
      libraryPath: cfg.gpu.libraryPath,
      nvidiaSmiPath: cfg.gpu.nvidiaSmiPath,
      ...(cfg.gpu.dcgmUrl !== undefined ? { dcgmUrl: cfg.gpu.dcgmUrl } : {}),
      retryMs: cfg.gpu.retryMs,
      gpm: cfg.gpu.gpm,
      pcie: cfg.gpu.pcie,
      maxBytes: cfg.server.maxBytes,
    });
    out.push(gpu);
  }

  let server: ServerCollector | undefined;
  const serverUrl = cfg.server.url ?? deps.target.metricsUrl;
  if (cfg.server.enabled && serverUrl !== undefined) {
    server = new ServerCollector({
      ...base(cfg.server.intervalMs, cfg.server.timeoutMs),
      url: serverUrl,
      maxBytes: cfg.server.maxBytes,
      maxModels: cfg.server.maxModels,
      dialect: cfg.server.dialect,
      ...(deps.identity?.server ? { onIdentity: deps.identity.server } : {}),
    });
    out.push(server);
  }

  if (cfg.cost.enabled) {
    const client = deps.outputTokens;
    const useClient = cfg.cost.tokenSource === 'client' || (cfg.cost.tokenSource === 'auto' && client !== undefined);
    const srv = server;
    const outputTokens: (() => number | undefined) | undefined = useClient ? client : srv !== undefined ? () => srv.generationTokensTotal() : undefined;
    const hasFigure = cfg.cost.gpuHourPrice !== undefined || gpu !== undefined;
    if (outputTokens !== undefined && hasFigure) {
      const g = gpu;
      const inputs: CostInputs = {
        outputTokens,
        ...(g ? { energyJoules: () => g.energyJoulesTotal() } : {}),
        gpuCount: () => cfg.cost.gpuCount ?? g?.gpuCount(),
      };
      out.push(
        new CostCollector({
          ...base(cfg.cost.intervalMs),
          windowMs: cfg.cost.windowMs,
          ...(cfg.cost.gpuHourPrice !== undefined ? { gpuHourPrice: cfg.cost.gpuHourPrice } : {}),
          inputs,
        }),
      );
    }
  }
  return out;
}
