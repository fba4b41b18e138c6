/**
 * Stops collected as things start, run last-in first-out: what started last
 * stops first (graphile-worker's pattern). A failing stop is logged and the
 * rest still run, so one broken component never leaves the others running.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export type StopFn = () => unknown;

interface Entry {
  name: string;
  stop: StopFn | undefined;
}

/** A place kept in the stack for a stop whose component is built later (see Teardown.reserve). */
export interface ReservedStop {
  fill(stop: StopFn): void;
}

export class Teardown {
  private readonly entries: Entry[] = [];
  private ran = false;

  constructor(private readonly log: Logger) {}

  /** Names of the stops waiting, in the order run() will run them. */
  get pending(): string[] {
    return this.entries.map((e) => e.name).reverse();
  }

  /**
   * Adds a stop. Pushed after run() (a component that finished starting while
   * the daemon was already stopping), it runs at once: nothing is left running.
   */
  push(name: string, stop: StopFn): void {
    if (this.ran) {
      void this.runOne({ name, stop });
      return;
    }
    this.entries.push({ name, stop });
  }

  /**
   * Keeps this place in the stop order for a component built later: it stops
   * after everything pushed from here on. Never filled: nothing to stop.
   */
  reserve(name: string): ReservedStop {
    const entry: Entry = { name, stop: undefined };
    this.entries.push(entry);
    return {
      fill: (stop) => {
        if (this.ran) void this.runOne({ name, stop });
        else entry.stop = stop;
      },
    };
  }

  /** Runs every stop, last pushed first, each awaited; a failure is logged and the next still runs. */
  async run(): Promise<void> {
    this.ran = true;
    for (let e = this.entries.pop(); e !== undefined; e = this.entries.pop()) await this.runOne(e);
  }

  private async runOne(e: Entry): Promise<void> {
    if (e.stop === undefined) return;
    this.log.debug({ stop: e.name }, `stopping ${e.name}`);
    try {
      await e.stop();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, `stopping ${e.name} failed (${errorMessage(err)}); stopping the rest`);
    }
  }
}
