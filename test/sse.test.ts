import t from 'tap';
import { SseParser, isDone, type SseEvent } from '../src/traffic/sse.js';
import { createRng } from '../src/traffic/random.js';

const enc = new TextEncoder();

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return JSON.stringify({
    id: 'chatcmpl-42',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
}

const usage = JSON.stringify({
  id: 'chatcmpl-42',
  object: 'chat.completion.chunk',
  created: 1700000000,
  model: 'm',
  choices: [],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});

/** A realistic OpenAI chat stream (LF endings) and the events it must produce. */
const dataLines = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Café' }), chunk({ content: ' 日本' }), chunk({ content: ' 🎉🚀 naïve' }), chunk({}, 'stop'), usage, '[DONE]'];
const OPENAI = ': keep-alive\n\n' + dataLines.map((d) => `data: ${d}\n\n`).join('');
const OPENAI_EVENTS: SseEvent[] = dataLines.map((d) => ({ event: 'message', data: d }));

/** A stream exercising fields: event, id, retry, comments, multi-line data, error event. */
const MIXED =
  [
    ': comment at start',
    'retry: 2500',
    'id: 7',
    `data: ${chunk({ content: 'α' })}`,
    '',
    'event: error',
    'data: {"error":{"message":"overloaded",',
    'data: "type":"server_error"}}',
    '',
    ': ping',
    '',
    'event: ignored-no-data',
    '',
    'data',
    '',
    'data:no-space',
    'data:  two-spaces',
    'unknown: field',
    '',
    'id: 8\u0000x',
    'data: [DONE]',
    '',
  ].join('\n') + '\n';
const MIXED_EVENTS: SseEvent[] = [
  { event: 'message', data: chunk({ content: 'α' }), id: '7' },
  { event: 'error', data: '{"error":{"message":"overloaded",\n"type":"server_error"}}', id: '7' },
  { event: 'message', data: '', id: '7' },
  { event: 'message', data: 'no-space\n two-spaces', id: '7' },
  { event: 'message', data: '[DONE]', id: '7' },
];

interface RunResult {
  events: SseEvent[];
  pendingBytes: number;
  retryMs: number | undefined;
}

function run(bytes: Uint8Array, cuts: number[]): RunResult {
  const events: SseEvent[] = [];
  const p = new SseParser((ev) => events.push(ev));
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    // Copy each piece, like a network read would deliver it.
    p.push(bytes.slice(prev, c));
    prev = c;
  }
  const retryMs = p.retryMs;
  return { events, pendingBytes: p.end().pendingBytes, retryMs };
}

function everyChunking(name: string, text: string, expected: SseEvent[]): void {
  const bytes = enc.encode(text);
  t.test(name, async (t) => {
    t.same(run(bytes, []).events, expected, 'whole');
    let bad = 0;
    for (let i = 1; i < bytes.length; i++) {
      const r = run(bytes, [i]);
      if (JSON.stringify(r.events) !== JSON.stringify(expected) || r.pendingBytes !== 0) bad++;
    }
    t.equal(bad, 0, 'split into two at every byte position');
    const cuts1: number[] = [];
    for (let i = 1; i < bytes.length; i++) cuts1.push(i);
    t.same(run(bytes, cuts1).events, expected, 'one byte at a time');
    const rng = createRng(12345);
    bad = 0;
    for (let k = 0; k < 300; k++) {
      const cuts: number[] = [];
      let pos = 0;
      for (;;) {
        pos += rng.int(1, k % 3 === 0 ? 4 : 64);
        if (pos >= bytes.length) break;
        cuts.push(pos);
      }
      const r = run(bytes, cuts);
      if (JSON.stringify(r.events) !== JSON.stringify(expected) || r.pendingBytes !== 0) bad++;
    }
    t.equal(bad, 0, '300 random chunkings');
  });
}

everyChunking('openai stream, LF', OPENAI, OPENAI_EVENTS);
everyChunking('openai stream, CRLF', OPENAI.replace(/\n/g, '\r\n'), OPENAI_EVENTS);
everyChunking('openai stream, CR', OPENAI.replace(/\n/g, '\r'), OPENAI_EVENTS);
everyChunking('openai stream, BOM + CRLF', '\uFEFF' + OPENAI.replace(/\n/g, '\r\n'), OPENAI_EVENTS);
everyChunking('fields, comments, multi-line data, error event (LF)', MIXED, MIXED_EVENTS);
everyChunking('fields, comments, multi-line data, error event (CRLF)', MIXED.replace(/\n/g, '\r\n'), MIXED_EVENTS);
everyChunking('mixed line endings', 'data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r', [
  { event: 'message', data: 'a\nb\nc' },
  { event: 'message', data: 'd' },
]);

t.test('retry field', async (t) => {
  t.equal(run(enc.encode(MIXED), []).retryMs, 2500);
  t.equal(run(enc.encode('retry: 12a\n\n'), []).retryMs, undefined, 'non-digits ignored');
  t.equal(run(enc.encode('retry\n\n'), []).retryMs, undefined, 'empty ignored');
});

t.test('event type resets after each dispatch; id persists', async (t) => {
  const r = run(enc.encode('event: delta\nid: a\ndata: 1\n\ndata: 2\n\nid\ndata: 3\n\n'), []);
  t.same(r.events, [
    { event: 'delta', data: '1', id: 'a' },
    { event: 'message', data: '2', id: 'a' },
    { event: 'message', data: '3' },
  ]);
});

t.test('BOM', async (t) => {
  const bytes = enc.encode('\uFEFFdata: x\n\ndata: \uFEFFy\n\n');
  for (const cuts of [[], [1], [2], [3], [1, 2], [1, 2, 3]]) {
    t.same(
      run(bytes, cuts).events,
      [
        { event: 'message', data: 'x' },
        { event: 'message', data: '\uFEFFy' },
      ],
      `leading BOM dropped once, later BOM kept (cuts ${cuts.join(',')})`,
    );
  }
  t.same(run(enc.encode('\uFEFF\uFEFFdata: z\n\n'), []).events, [], 'only one BOM is dropped (second makes the field name unknown)');
  t.same(run(new Uint8Array([0xef, 0xbb]), []).pendingBytes, 2, 'truncated BOM counts as pending');
});

t.test('unterminated final event is not dispatched; end() reports it', async (t) => {
  const a = run(enc.encode('data: a\n\ndata: b\n'), []);
  t.same(a.events, [{ event: 'message', data: 'a' }]);
  t.equal(a.pendingBytes, 8, 'one field line pending');
  const b = run(enc.encode('data: a\n\ndata: partial'), [12]);
  t.same(b.events, [{ event: 'message', data: 'a' }]);
  t.equal(b.pendingBytes, 13, 'unterminated line pending');
  t.equal(run(enc.encode('data: a\n\n: bye'), []).pendingBytes, 0, 'a trailing comment is not pending data');
  t.equal(run(enc.encode(OPENAI), []).pendingBytes, 0, 'clean end');
});

t.test('parser is reusable after end()', async (t) => {
  const events: SseEvent[] = [];
  const p = new SseParser((ev) => events.push(ev));
  p.push(enc.encode('id: 1\ndata: half'));
  p.end();
  p.push(enc.encode('data: next\n\n'));
  t.same(events, [{ event: 'message', data: 'next' }]);
});

t.test('invalid UTF-8 becomes U+FFFD, valid split characters survive', async (t) => {
  const bytes = new Uint8Array([...enc.encode('data: a'), 0xff, 0xe6, 0x97, ...enc.encode('\n\n')]);
  t.same(run(bytes, [8]).events, [{ event: 'message', data: 'a\uFFFD\uFFFD' }]);
});

t.test('large events and many events per chunk', async (t) => {
  const big = 'x'.repeat(100_000) + '日本';
  const text = `data: ${big}\n\n`.repeat(3) + 'data: small\n\n'.repeat(1000);
  const bytes = enc.encode(text);
  const expected: SseEvent[] = [...Array.from({ length: 3 }, () => ({ event: 'message', data: big })), ...Array.from({ length: 1000 }, () => ({ event: 'message', data: 'small' }))];
  t.same(run(bytes, []).events, expected, 'whole');
  const cuts: number[] = [];
  for (let i = 4093; i < bytes.length; i += 4093) cuts.push(i);
  t.same(run(bytes, cuts).events, expected, '4 KiB reads');
});

t.test('isDone', async (t) => {
  t.ok(isDone({ event: 'message', data: '[DONE]' }));
  t.ok(isDone({ event: 'message', data: ' [DONE] ' }));
  t.notOk(isDone({ event: 'message', data: '{"a":"[DONE]"}' }));
  t.notOk(isDone({ event: 'message', data: '' }));
});

t.test('throughput (printed, loosely bounded)', async (t) => {
  // One event per read, the common shape of a token stream.
  const reads = dataLines.slice(0, 4).map((d) => enc.encode(`data: ${d}\n\n`));
  let n = 0;
  const p = new SseParser(() => {
    n++;
  });
  const total = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) p.push(reads[i & 3] ?? new Uint8Array(0));
  const ms = performance.now() - t0;
  t.equal(n, total);
  t.comment(`${(((total / ms) * 1000) / 1e6).toFixed(2)} M chunks/s (${((ms * 1e6) / total).toFixed(0)} ns/chunk)`);
  t.ok(ms < 4000, 'well under the hot-path budget');
});
