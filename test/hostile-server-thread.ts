/**
 * The hostile target in its own thread: its answers (headers within the
 * daemon's 1 s timeout above all) then do not wait on the test's thread,
 * which runs the daemon's main thread and forces full GCs for its RSS
 * readings. On a busy 2-core machine that thread was once late by over a
 * second, and requests the target meant to answer ended as timeout_headers.
 */
import { Worker } from 'node:worker_threads';
import type { HostileServerOptions } from './hostile-server.js';

export interface HostileServerThread {
  url: string;
  port: number;
  /** Requests handled, by behaviour, and POST requests whose handler ran. */
  stats(): Promise<{ counts: Record<string, number>; handled: number }>;
  close(): Promise<void>;
}

type Reply = { type: 'listening'; port: number } | { type: 'stats'; counts: Record<string, number>; handled: number } | { type: 'closed' };

export async function startHostileServerThread(opts: HostileServerOptions): Promise<HostileServerThread> {
  const worker = new Worker(new URL('./hostile-server-worker.js', import.meta.url), { workerData: opts });
  const next = <T extends Reply['type']>(type: T): Promise<Extract<Reply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: Reply) => {
        if (m.type !== type) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(m as Extract<Reply, { type: T }>);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  const { port } = await next('listening');
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stats() {
      const reply = next('stats');
      worker.postMessage('stats');
      const { counts, handled } = await reply;
      return { counts, handled };
    },
    close() {
      closed ??= (async () => {
        const done = next('closed');
        worker.postMessage('close');
        await done;
        await worker.terminate();
      })();
      return closed;
    },
  };
}
