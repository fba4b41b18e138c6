/**
 * The model the soak requests, and target.changes.followModel: when the
 * target stops serving it and serves another, the soak requests the new one
 * from then on (unless a mode runs: a mode's figures must not mix two models).
 */
import type { Logger } from '../log.js';
import type { Traffic } from './traffic.js';
import type { WorkloadSpec } from './workload-spec.js';

export interface FollowedTraffic {
  engine: Traffic;
  /** The soak's workload for a model. */
  workloadFor: (model: string) => WorkloadSpec;
  /** What runs now (a mode, a schedule), if anything: the model is kept while it runs. */
  busy: () => string | undefined;
}

export class ModelFollower {
  private current: string;
  private traffic: FollowedTraffic | undefined;

  /** `enabled`: the model was discovered (not configured), followModel is on and the soak is no replay. */
  constructor(
    model: string,
    private readonly enabled: boolean,
    private readonly log: Logger,
  ) {
    this.current = model;
  }

  /** The model requested now. */
  get model(): string {
    return this.current;
  }

  /** The traffic to switch; until then (the target is being set up) served models are only noted. */
  follow(traffic: FollowedTraffic): void {
    this.traffic = traffic;
  }

  /** The models the target serves now (target-change detection). */
  observe(served: string[]): void {
    const next = served[0];
    const t = this.traffic;
    if (!this.enabled || t === undefined || next === undefined || served.includes(this.current)) return;
    const busy = t.busy();
    if (busy !== undefined) {
      this.log.warn(`the target no longer serves ${JSON.stringify(this.current)}; ${busy} runs now, so the soak keeps requesting it`);
      return;
    }
    this.log.warn(`the target serves ${JSON.stringify(next)} now, not ${JSON.stringify(this.current)}: requesting it from here on (target.changes.followModel)`);
    this.current = next;
    t.engine.setModel(next);
    t.engine.setWorkload(t.workloadFor(next));
  }
}
