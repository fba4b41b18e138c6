/**
 * `llmsoak simulate`: the simulator as its own process. When started by the
 * daemon (an IPC channel exists) it reports `{ type: 'ready', url }` once
 * listening, and exits when the parent closes the channel or goes away, so
 * it never outlives it; signals to the process group are left to the parent.
 */
import type { Logger } from '../log.js';
import type { SimulatorConfig } from './config.js';
import { startSimulator } from './server.js';

export interface ReadyMessage {
  type: 'ready';
  url: string;
  pid: number;
}

export async function runSimulatorProcess(cfg: SimulatorConfig, logger: Logger): Promise<number> {
  const log = logger.child({ component: 'simulator' });
  const sim = await startSimulator(cfg, { logger: log, host: cfg.host, port: cfg.port });
  log.info({ url: sim.url, model: cfg.model }, `simulator listening on ${sim.url} (OpenAI base URL ${sim.url}/v1)`);
  if (process.send) process.send({ type: 'ready', url: sim.url, pid: process.pid } satisfies ReadyMessage);

  return new Promise<number>((resolve) => {
    let closing = false;
    const close = (why: string) => {
      if (closing) return;
      closing = true;
      log.info(`simulator stopping (${why})`);
      const force = setTimeout(() => resolve(0), 3000);
      force.unref();
      // The IPC channel to the parent would keep this process alive after close.
      const done = (code: number) => {
        if (process.connected) process.disconnect();
        resolve(code);
      };
      sim.close().then(
        () => done(0),
        () => done(1),
      );
    };
    if (process.send) {
      // Embedded: Ctrl-C in a terminal (and `timeout`, and a process-group kill) signals the whole group. The daemon
      // drains its requests in flight first and then stops us by closing the IPC channel; stopping here at once
      // would cut those streams and the final report would blame the target for llmsoak's own shutdown.
      const ignore = (sig: string) => log.debug(`simulator: ${sig} ignored; the llmsoak that started it stops it`);
      process.on('SIGTERM', ignore);
      process.on('SIGINT', ignore);
    } else {
      process.once('SIGTERM', () => close('SIGTERM'));
      process.once('SIGINT', () => close('SIGINT'));
    }
    process.once('disconnect', () => close('parent gone'));
  });
}
