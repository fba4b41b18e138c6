/**
 * Soak state in run.dataDir (src/state/): loaded here, before the components
 * that register their sections (each is restored as it registers); periodic
 * checkpoints start once every section is registered, and the last one is
 * written on stop.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { Checkpointer } from '../state/checkpointer.js';
import { VERSION } from '../version.js';

/** How long past the raw retention a checkpoint is still resumed, hours. */
const RESUME_GRACE_HOURS = 72;

export async function createState(cfg: Config, o: { registry: Registry; logger: Logger; clock: Clock; scrub: (text: string) => string }): Promise<Checkpointer> {
  const checkpointer = new Checkpointer({
    dir: cfg.run.dataDir,
    intervalSec: cfg.run.checkpointIntervalSec,
    resume: cfg.run.resume,
    maxAgeMs: (cfg.analyzer.rawRetentionSec + RESUME_GRACE_HOURS * 3600) * 1000,
    identity: cfg.target.url ?? `embedded simulator ${cfg.simulator.host}:${cfg.simulator.port}`,
    version: VERSION,
    clock: o.clock,
    logger: o.logger,
    registry: o.registry,
    scrub: o.scrub,
  });
  await checkpointer.load();
  return checkpointer;
}
