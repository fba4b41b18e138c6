/**
 * Two causes end to end, in compressed time (1 s steps, 2 s evaluations, 12 s
 * windows), on one soak of the simulator (12 batch slots) reached through a
 * loopback proxy:
 *  - network_client: the proxy holds back every byte from the server by
 *    150 ms. The server's own TTFT (scraped directly from its /metrics) stays
 *    flat while the client's rises: the time goes between them.
 *  - overload: the rate goes from 8 to 45 req/s, past the ~20 req/s that 12
 *    slots serve; the server queue grows with running at its maximum.
 * Each is the top cause within two windows and resolves once removed.
 */
import t from 'tap';
import { ANALYZER, startScenario, unexpectedHints } from './hints-harness.js';

const TWO_WINDOWS = 2 * ANALYZER.windowSec;

t.test('a slow path between client and server, then more arrivals than the server serves', async (t) => {
  const s = await startScenario(t, { viaProxy: true, simEnv: { LLMSOAK_SIMULATOR__ENGINE__MAX_NUM_SEQS: '12' } });
  await s.waitBaseline();
  t.same(unexpectedHints(s.snapshot().hints), [], 'no hint before the faults (see unexpectedHints)');

  s.setNetworkDelay(150);
  const net = await s.waitTopCause('network_client', TWO_WINDOWS);
  t.equal(net.hint.rule, 'network_client');
  t.ok(net.afterSec <= TWO_WINDOWS, `network_client found after ${net.afterSec.toFixed(1)} s`);
  // At first detection the 12 s window still mixes requests from before the delay; once a whole window lies inside
  // it, the hint's refreshed evidence shows the gap grown by the 150 ms held back, as read through the TTFT
  // histogram's buckets (the rule's p50 is interpolated within a bucket: 0.025–0.05 s before, 0.1–0.2 s after),
  // so within half the delay either way.
  await new Promise((r) => setTimeout(r, (ANALYZER.windowSec + 2 * ANALYZER.intervalSec) * 1000));
  const now = s.snapshot().hints.find((h) => h.rule === 'network_client' && h.state === 'firing');
  const gap = Number(now?.evidence.gap_s) - Number(now?.evidence.baseline_gap_s);
  t.ok(gap > 0.075 && gap < 0.225, `a window into the delay, the client−server TTFT gap grew by ${(gap * 1000).toFixed(0)} ms (150 ms held back)`);
  s.setNetworkDelay(0);
  const netResolved = await s.waitResolved('network_client', TWO_WINDOWS + 4);
  t.pass(`network_client resolved ${netResolved.toFixed(1)} s after the delay was removed`);

  s.daemon.setRate(45);
  const over = await s.waitTopCause('overload', TWO_WINDOWS);
  t.equal(over.hint.rule, 'overload');
  t.ok(
    Number(over.hint.evidence.waiting_second_half) >= Number(over.hint.evidence.waiting_first_half),
    `queue growing (${over.hint.evidence.waiting_first_half} → ${over.hint.evidence.waiting_second_half})`,
  );
  t.equal(Number(over.hint.evidence.running_max), 12, "running at the server's maximum (12 slots)");
  t.ok(over.afterSec <= TWO_WINDOWS, `overload found after ${over.afterSec.toFixed(1)} s`);
  s.daemon.setRate(8);
  await s.waitResolved('overload', 3 * TWO_WINDOWS);
  t.pass('overload resolved once the rate came back under the service rate');
});
