/**
 * `llmsoak bench`: one run of one mode, its report written, and an exit code
 * for release pipelines: 0 when every SLO threshold held (the report's
 * verdict passes), 1 when one failed. The daemon starts idle (no soak, no
 * schedules) and the mode drives its engine; /metrics is served meanwhile.
 */
import type { Config } from '../config/types.js';
import { Daemon } from '../daemon.js';
import { ExitCode, LlmsoakError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Report } from '../report/model.js';
import { describeMode } from './index.js';

/** What a person reads on the terminal: verdict, the finding, failures, where the report is. */
export function benchSummary(r: Report, files: { json: string; markdown: string; html: string }): string {
  const lines: string[] = [];
  lines.push(`llmsoak bench: ${r.kind} of ${r.target.url} (${r.target.model}) in ${Math.round(r.durationSec)} s: ${r.verdict.pass ? 'PASS' : 'FAIL'}`);
  lines.push(`  ${r.totals.requests} requests, ${r.totals.ok} ok, ${r.totals.good} met every SLO; ${r.totals.inputTokens} input and ${r.totals.outputTokens} output tokens`);
  if (r.knee) lines.push(`  knee: ${r.knee.value} ${r.knee.unit}; beyond it ${r.knee.reason}${r.knee.cause ? ` (likely cause: ${r.knee.cause})` : ''}`);
  if (r.spike) lines.push(`  spike recovery: ${r.spike.recoverySec === null ? 'never' : `${r.spike.recoverySec} s`}`);
  for (const f of r.verdict.failures) lines.push(`  failed: ${f}`);
  lines.push(`  report: ${files.html} (also ${files.json}, ${files.markdown})`);
  return `${lines.join('\n')}\n`;
}

export async function runBench(config: Config, logger: Logger, opts: { outDir: string; out?: NodeJS.WritableStream }): Promise<number> {
  const daemon = new Daemon(config, { logger, idle: true });
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
    process.stderr.write(`llmsoak bench: ${describeMode(config.mode)} against ${(daemon.status() as { target: { baseUrl: string } | null }).target?.baseUrl ?? '?'}; metrics at ${daemon.listenUrl}/metrics\n`);
    const { report, files } = await runs.run(config.mode, { dir: opts.outDir, by: 'bench' });
    (opts.out ?? process.stdout).write(benchSummary(report, files));
    return report.verdict.pass && signals === 0 ? ExitCode.ok : ExitCode.failed;
  } finally {
    await daemon.stop(signals ? 'signal' : 'bench done');
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await new Promise<void>((r) => logger.flush(() => r()));
  }
}
