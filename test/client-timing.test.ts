/**
 * The client's inter-token gaps against a server that spaces its content
 * chunks 20 ms apart: each gap measured near 20 ms. Run alone (the serial
 * phase of scripts/run-tests.mjs): with other test files on the same two
 * cores, the client's process can be descheduled for longer than a gap and
 * read two chunks at once, which is what it then truly saw. The wire-judged
 * accuracy (tcpdump) is accuracy-truth.test.ts's.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { systemClock } from '../src/clock.js';
import { sendRequest } from '../src/traffic/client.js';

const SPACING_MS = 20;
const CHUNKS = 8;

const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

t.test(`gaps between content chunks sent ${SPACING_MS} ms apart are measured near ${SPACING_MS} ms`, async (t) => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      // Each chunk on its own timer from the previous write: the spacing is the server's, not an interval's catch-up.
      const next = () => {
        if (i < CHUNKS) {
          res.write(chunk(` w${i++}`));
          setTimeout(next, SPACING_MS);
        } else res.end('data: [DONE]\n\n');
      };
      next();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(url, { connections: 1 });
  t.teardown(() => pool.close());
  const send = () =>
    sendRequest(
      {
        dispatcher: pool,
        headers: { 'content-type': 'application/json' },
        clock: systemClock,
        totalTimeoutMs: 10_000,
        maxBodyBytes: 1024 * 1024,
        countTokens: (s) => s.split(' ').filter(Boolean).length,
      },
      {
        id: 'r1',
        scenario: 's',
        endpoint: 'chat',
        model: 'm',
        stream: true,
        path: '/v1/chat/completions',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
        promptTokens: 3,
        keepText: false,
      },
      systemClock.monoNs(),
      () => undefined,
    );
  // The first request of a process runs the client's parse path cold (lazy compilation): its first
  // chunk was stamped up to ~18 ms late here, so its first gap came out short (the second request still
  // up to ~4 ms). Measure a warm client.
  for (let i = 0; i < 3; i++) await send();
  const { record } = await send();
  t.equal(record.outcome, 'ok');
  t.equal(record.tokenGapsNs.length, CHUNKS - 1, 'one gap per chunk after the first');
  for (const g of record.tokenGapsNs) {
    const ms = g / 1e6;
    t.ok(ms >= SPACING_MS - 5 && ms <= SPACING_MS + 30, `gap ${ms.toFixed(2)} ms near ${SPACING_MS} ms`);
  }
});
