/**
 * A loopback TCP proxy that can hold back what the server sends by a fixed
 * delay, as a slow network path or a buffering proxy between client and
 * server would: every chunk from upstream reaches the client `delayMs` after
 * it left the server, in order. The client's request goes through unchanged.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  url: string;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startDelayProxy(upstreamPort: number): Promise<DelayProxy> {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop);
    client.pipe(upstream);
    // Each chunk keeps its own due time; a chain of timers keeps the order.
    let tail = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const due = Date.now() + delayMs;
      tail = tail.then(
        () =>
          new Promise<void>((r) => {
            const wait = due - Date.now();
            const send = (): void => {
              if (!client.destroyed) client.write(chunk);
              r();
            };
            if (wait > 0) setTimeout(send, wait);
            else send();
          }),
      );
    });
    upstream.on('end', () => void tail.then(() => client.end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
