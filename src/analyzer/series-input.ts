/**
 * Where the analyzer reads series (analyzer.source): this process' own store,
 * filled by sampling the registry every step (resumed from a checkpoint when
 * one fits), or the fleet through Prometheus, read by replica 0 only.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Checkpointer } from '../state/checkpointer.js';
import { LocalSource } from './local-source.js';
import { PrometheusSource, type PrometheusSourceConfig } from './prometheus-source.js';
import { Sampler } from './sampler.js';
import { SeriesStore } from './series-store.js';
import type { SeriesSource } from './source.js';
import { registerStoreGauges } from './store-gauges.js';

export interface SeriesInputConfig {
  source: 'local' | 'prometheus';
  prometheus?: PrometheusSourceConfig;
  stepSec: number;
  rawRetentionSec: number;
  maxSeries: number;
}

export interface SeriesInput {
  src: SeriesSource;
  /** Fills the local store (absent with Prometheus). */
  sampler?: Sampler;
}

/** The analyzer's input; undefined where no analyzer runs (a replica other than 0 with Prometheus: replica 0 reads the fleet). */
export function chooseSeriesInput(
  a: SeriesInputConfig,
  replicaIndex: number,
  o: { registry: Registry; clock: Clock; logger: Logger; checkpointer?: Checkpointer | undefined },
): SeriesInput | undefined {
  if (a.source === 'prometheus' && a.prometheus) {
    if (replicaIndex !== 0) {
      o.logger.info({ replica: replicaIndex }, 'analyzer reads Prometheus from replica 0 only; not started here');
      return undefined;
    }
    o.logger.info({ prometheus: a.prometheus.url }, 'analyzer reads Prometheus');
    return { src: new PrometheusSource({ ...a.prometheus, stepSec: a.stepSec, logger: o.logger }) };
  }
  const storeOpts = { stepSec: a.stepSec, rawRetentionSec: a.rawRetentionSec, maxSeries: a.maxSeries };
  const store = restoredStore(storeOpts, o.checkpointer, o.logger) ?? new SeriesStore(storeOpts);
  o.checkpointer?.register({ name: 'store', save: () => store.toSnapshot(), restore: () => undefined });
  registerStoreGauges(o.registry, store);
  const log = o.logger.child({ component: 'sampler' });
  const sampler = new Sampler({ registry: o.registry, store, clock: o.clock, stepSec: a.stepSec, onError: (err) => log.warn({ err }, 'sample failed') });
  return { src: new LocalSource(store), sampler };
}

/** The series store of the checkpoint being resumed, when there is one and it fits the current config. */
function restoredStore(opts: { stepSec: number; rawRetentionSec: number; maxSeries: number }, checkpointer: Checkpointer | undefined, logger: Logger): SeriesStore | undefined {
  const saved = checkpointer?.loadedSection('store');
  if (!saved) return undefined;
  try {
    const store = SeriesStore.fromSnapshot(opts, { json: saved.json, blobs: saved.blobs ?? [] });
    logger.info({ series: store.stats().series }, 'series store resumed from the checkpoint: trends span the restart');
    return store;
  } catch (err) {
    logger.warn(`series store not resumed (${errorMessage(err)}); it starts empty`);
    return undefined;
  }
}
