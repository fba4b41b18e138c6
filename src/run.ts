/** `llmsoak run`: start the daemon, stop it on a signal or after --duration, exit code. */
import type { Config } from './config/types.js';
import { Daemon } from './daemon.js';
import type { Logger } from './log.js';
import { renderPreflight } from './preflight/table.js';

export async function runDaemon(config: Config, logger: Logger): Promise<number> {
  const daemon = new Daemon(config, { logger, checkpoints: true, finalReport: true });
  let signals = 0;
  let resolveDone: (() => void) | undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn(`${sig} again: exiting now`);
      logger.flush();
      process.exit(130);
    }
    logger.info(`${sig} received: draining (send again to exit at once)`);
    daemon.requestStop();
    resolveDone?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // The preflight's table for people (stderr: stdout carries the log).
  const showPreflight = () => {
    const pf = daemon.preflightReport;
    if (pf) process.stderr.write(renderPreflight(pf));
  };
  try {
    await daemon.start();
  } catch (err) {
    showPreflight();
    await daemon.stop('start failed');
    throw err;
  }
  showPreflight();
  const { target } = daemon.status();
  if (target) {
    const what = config.traffic.replay ? `replaying ${config.traffic.replay.file}` : config.traffic.mode === 'closed' ? `${config.traffic.users} users` : `${config.traffic.rate} req/s`;
    process.stderr.write(`llmsoak: soaking ${target.baseUrl}${target.embedded ? ' (built-in simulator)' : ''}, model ${target.model}, ${what}; metrics at ${daemon.listenUrl}/metrics\n`);
  }
  if (config.mode.kind !== 'soak') logger.info(`mode.kind ${config.mode.kind} is what llmsoak bench runs (or a schedule); llmsoak run soaks`);
  let timer: NodeJS.Timeout | undefined;
  if (config.run.durationSec > 0) timer = setTimeout(() => resolveDone?.(), config.run.durationSec * 1000);
  await done;
  if (timer) clearTimeout(timer);
  await daemon.stop(signals ? 'signal' : 'duration reached');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await new Promise<void>((r) => logger.flush(() => r()));
  return 0;
}
