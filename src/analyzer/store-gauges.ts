/** The local series store's own size, exported: it is bounded, and this shows by how much (and what llmsoak's RSS is made of). */
import { Gauge, type Registry } from 'prom-client';
import type { SeriesStore } from './series-store.js';

export function registerStoreGauges(registry: Registry, store: SeriesStore): void {
  new Gauge({
    name: 'llmsoak_analyzer_store_series',
    help: "Series held in the analyzer's local store.",
    registers: [registry],
    collect() {
      this.set(store.stats().series);
    },
  });
  new Gauge({
    name: 'llmsoak_analyzer_store_bytes',
    help: "Bytes the analyzer's local store holds (compressed blocks, head blocks, timestamp rings and per-series overhead).",
    registers: [registry],
    collect() {
      this.set(store.footprintBytes());
    },
  });
}
