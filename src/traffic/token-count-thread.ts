/**
 * Synchronous token counts from a short-lived thread, for a thread that must
 * not load the tokenizer itself: the daemon's main thread, whose start-up
 * preflight counts a few texts while its traffic runs in a worker. Loading
 * the tokenizer costs about 66 MB of RSS per thread (src/tokenizer.ts); a
 * thread's heap goes when it ends, so the counts cost nothing once `close()`
 * has run. The caller blocks until the answer comes (Atomics.wait): fine for a
 * handful of counts at start, never for the hot path.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { LlmsoakError } from '../errors.js';

const WORKER_FILE = new URL('./token-count-worker.js', import.meta.url);
/** The first count waits for the thread to start and load the tokenizer (about 0.3 s here). */
const DEFAULT_TIMEOUT_MS = 30_000;

export class TokenCountThread {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private closed = false;

  constructor(private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_FILE, { workerData: { port: port2, flag: this.flag }, transferList: [port2] });
    // A thread that fails to start surfaces as a count that times out (below), not as an unhandled error.
    this.worker.on('error', () => undefined);
    this.worker.unref();
  }

  /** Tokens of `text` (o200k_base), counted in the thread; blocks until then. */
  count(text: string): number {
    if (this.closed) throw new LlmsoakError('LLMSOAK_ERR_TRAFFIC', 'token counter: used after close');
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(text);
    if (Atomics.wait(this.flag, 0, 0, this.timeoutMs) === 'timed-out') {
      throw new LlmsoakError('LLMSOAK_ERR_TRAFFIC', `token counter: no answer from its thread in ${this.timeoutMs} ms`);
    }
    const got = receiveMessageOnPort(this.port)?.message as { count: number } | { error: string } | undefined;
    if (got === undefined) throw new LlmsoakError('LLMSOAK_ERR_TRAFFIC', 'token counter: woken with no answer');
    if ('error' in got) throw new LlmsoakError('LLMSOAK_ERR_TRAFFIC', `token counter: ${got.error}`);
    return got.count;
  }

  /** Ends the thread (its tokenizer with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    await this.worker.terminate();
  }
}
