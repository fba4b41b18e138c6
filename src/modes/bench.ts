/**
 * `llmsoak bench`: one run of one mode, its report written, and an exit code
 * for release pipelines: 0 when every SLO threshold held (the report's
 * verdict passes), 1 when one failed. With --baseline, the report is also
 * compared with an earlier one (src/compare/): a figure worse than it is a 1. The daemon starts idle (no soak, no
 * schedules) and the mode drives its engine; /metrics is served meanwhile.
 */
import type { Config } from '../config/types.js';
import { ExitCode, LlmsoakError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Report } from '../report/model.js';
import type { ModeController } from './controller.js';
import type { WrittenReport } from '../report/write.js';
import { describeMode } from './index.js';
import { dirname } from 'node:path';
import { reportComparison } from '../compare/command.js';
import { CompareInputError, readReport } from '../compare/input.js';

/** What a person reads on the terminal: verdict, the finding, failures, where the report is. */
export function benchSummary(r: Report, files: Omit<WrittenReport, 'name'>): string {
  const lines: string[] = [];
  lines.push(`llmsoak bench: ${r.kind} of ${r.target.url} (${r.target.model}) in ${Math.round(r.durationSec)} s: ${r.verdict.pass ? 'PASS' : 'FAIL'}`);
  lines.push(`  ${r.totals.requests} requests, ${r.totals.ok} ok, ${r.totals.good} met every SLO; ${r.totals.inputTokens} input and ${r.totals.outputTokens} output tokens`);
  if (r.knee) lines.push(`  knee: ${r.knee.value} ${r.knee.unit}; beyond it ${r.knee.reason}${r.knee.cause ? ` (likely cause: ${r.knee.cause})` : ''}`);
  if (r.spike) lines.push(`  spike recovery: ${r.spike.recoverySec === null ? 'never' : `${r.spike.recoverySec} s`}`);
  for (const f of r.verdict.failures) lines.push(`  failed: ${f}`);
  const others = Object.entries(files).flatMap(([format, path]) => (format !== 'html' && path !== undefined ? [path] : []));
  lines.push(`  report: ${files.html} (also ${others.join(', ')})`);
  return `${lines.join('\n')}\n`;
}

/**
 * What a bench needs of the daemon, started idle (no soak, no schedules). The
 * CLI passes one in (src/daemon.ts): modes/ needs nothing of the daemon.
 */
export interface BenchDaemon {
  start(): Promise<void>;
  stop(reason: string): Promise<void>;
  requestStop(): void;
  readonly runs: ModeController | undefined;
  readonly listenUrl: string;
  status(): { target: { baseUrl: string } | null };
}

export async function runBench(config: Config, logger: Logger, opts: { outDir: string; out?: NodeJS.WritableStream; baseline?: string; idleDaemon: () => BenchDaemon }): Promise<number> {
  // The baseline is read before the run: a missing or foreign file is bad input (exit 2), not a wasted run.
  let baseline: Report | undefined;
  if (opts.baseline !== undefined) {
    try {
      baseline = await readReport(opts.baseline);
      if (baseline.kind !== config.mode.kind) throw new CompareInputError(`--baseline: ${opts.baseline} is a ${baseline.kind} report; this bench runs a ${config.mode.kind}`);
    } catch (err) {
      if (!(err instanceof CompareInputError)) throw err;
      process.stderr.write(`llmsoak bench: ${err.message}\n`);
      return ExitCode.badConfig;
    }
  }
  const daemon = opts.idleDaemon();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn(`${sig} again: exiting now`);
      process.exit(130);
    }
    logger.info(`${sig} received: ending the run early (its report keeps what was measured)`);
    daemon.requestStop();
    void daemon.stop('signal');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await daemon.start();
    const runs = daemon.runs;
    if (!runs) {
      if (signals > 0) return ExitCode.failed;
      throw new LlmsoakError('LLMSOAK_ERR_TARGET', 'traffic did not start');
    }
    process.stderr.write(`llmsoak bench: ${describeMode(config.mode)} against ${daemon.status().target?.baseUrl ?? '?'}; metrics at ${daemon.listenUrl}/metrics\n`);
    const { report, files } = await runs.run(config.mode, { dir: opts.outDir, by: 'bench' });
    const out = opts.out ?? process.stdout;
    out.write(benchSummary(report, files));
    let regression = false;
    if (baseline !== undefined && opts.baseline !== undefined) {
      const { code } = await reportComparison(baseline, report, { baseline: opts.baseline, candidate: files.json }, config.compare, { outDir: dirname(files.json), out });
      regression = code !== ExitCode.ok;
    }
    return report.verdict.pass && !regression && signals === 0 ? ExitCode.ok : ExitCode.failed;
  } finally {
    await daemon.stop(signals ? 'signal' : 'bench done');
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await new Promise<void>((r) => logger.flush(() => r()));
  }
}
