/**
 * The thread behind TokenCountThread: counts the texts it is sent and wakes
 * the waiting caller through the shared flag (token-count-thread.ts).
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import { countTokens } from '../tokenizer.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

port.on('message', (text: string) => {
  let answer: { count: number } | { error: string };
  try {
    answer = { count: countTokens(text) };
  } catch (err) {
    answer = { error: err instanceof Error ? err.message : String(err) };
  }
  // The answer is queued on the port before the caller wakes, so its receiveMessageOnPort finds it.
  port.postMessage(answer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
