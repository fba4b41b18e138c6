/**
 * Runs test/hostile-server.ts in a worker thread (see hostile-server-thread.ts):
 * answers 'stats' with what the server did, 'close' by closing it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startHostileServer, type HostileServerOptions } from './hostile-server.js';

if (!parentPort) throw new Error('hostile-server-worker runs in a worker thread');
const port = parentPort;
const server = await startHostileServer(workerData as HostileServerOptions);
port.on('message', (m: unknown) => {
  if (m === 'stats') port.postMessage({ type: 'stats', counts: { ...server.counts }, handled: server.handled() });
  else if (m === 'close') void server.close().then(() => port.postMessage({ type: 'closed' }));
});
port.postMessage({ type: 'listening', port: server.port });
