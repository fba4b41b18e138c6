/** Rules on what users feel: error storms by class, and llmsoak's own health (generator bound). */
import type { ErrorClass } from '../../types.js';
import { insufficient, ok, r4, type Rule } from '../rule.js';

/** Root cause each error class points at, and what to do. */
const ERROR_CAUSES: Record<ErrorClass, { cause: string; suggestion: string }> = {
  http_429: { cause: 'rate_limited', suggestion: 'The server refuses work (429): its queue or a rate limit is full. Lower the load or raise the limit; see the overload hint.' },
  http_5xx: { cause: 'server_errors', suggestion: 'The server fails requests (5xx): read its logs around the first errors.' },
  http_4xx: { cause: 'client_errors', suggestion: 'Requests are rejected (4xx): check the model name, API key and request parameters (context length).' },
  stream_cut: { cause: 'stream_interruptions', suggestion: 'Streams end early (reset or error mid-stream): check server restarts, proxies and idle timeouts between client and server.' },
  timeout_connect: { cause: 'timeouts', suggestion: 'Connections time out: the server or the network path is saturated or down.' },
  timeout_headers: { cause: 'timeouts', suggestion: 'No response within the TTFT limit: the server queue is too long (see overload) or it hangs.' },
  timeout_idle: { cause: 'stalled_streams', suggestion: 'Streams stall between tokens past the idle limit: look for engine stalls, preemption storms or GC pauses on the server.' },
  timeout_total: { cause: 'timeouts', suggestion: 'Requests exceed the total time limit: outputs too long for the decode speed, or the server slowed down.' },
  connect: { cause: 'target_unreachable', suggestion: 'The target refuses or drops connections: is it up, and is it restarting?' },
  malformed: { cause: 'bad_responses', suggestion: 'Responses are not valid OpenAI API output: check a proxy or the server version.' },
  empty: { cause: 'bad_responses', suggestion: 'Responses come back empty: check the server logs and the model output settings.' },
  cancelled: { cause: 'cancelled', suggestion: 'llmsoak cancelled requests while stopping; nothing to do.' },
};

export const errorStorm: Rule = {
  id: 'error_storm',
  severity: 'critical',
  forSec: 0,
  description: 'the share of failed requests in the window is above the threshold; the cause follows the dominant error class',
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const total = await src.increase('llmsoak_requests_total', w, now);
    if (total === undefined) return insufficient('llmsoak_requests_total');
    if (total < th.minRequests) return ok();
    const byClass = await src.range('llmsoak_request_errors_total', w, now);
    let errors = 0;
    let top: { cls: ErrorClass; n: number } | undefined;
    const evidence: Record<string, number | string> = { window_s: w, requests: r4(total) };
    for (const s of byClass) {
      const cls = s.labels.class as ErrorClass | undefined;
      if (!cls || cls === 'cancelled') continue;
      const n = await src.increase(`llmsoak_request_errors_total{class="${cls}"}`, w, now);
      if (!n) continue;
      errors += n;
      evidence[`errors_${cls}`] = r4(n);
      if (!top || n > top.n) top = { cls, n };
    }
    const ratio = errors / total;
    evidence.error_ratio = r4(ratio);
    if (!top || ratio <= th.errorRatio) return ok();
    const c = ERROR_CAUSES[top.cls];
    // The server's own words for the dominant class, seen within the window.
    const said = ctx.failures?.top(top.cls, now.getTime() - w * 1000);
    if (said !== undefined) evidence.top_message = `${said.scenario}: ${said.message}`;
    return ok([
      {
        rule: 'error_storm',
        severity: ratio > 5 * th.errorRatio ? 'critical' : 'warning',
        cause: c.cause,
        summary: `${(ratio * 100).toFixed(1)}% of requests failed in the last ${w} s, mostly ${top.cls} (${Math.round(top.n)} of ${Math.round(errors)})${said !== undefined ? `; the server says: ${said.message}` : ''}`,
        suggestion: c.suggestion,
        confidence: Math.min(1, 0.6 + (top.n / errors) * 0.4),
        evidence,
        labels: { class: top.cls },
      },
    ]);
  },
};

export const generatorBound: Rule = {
  id: 'generator_bound',
  severity: 'warning',
  forSec: 0,
  description: "llmsoak's own schedule lag or event-loop lag is high for a sustained share of the window: its figures are not trustworthy now",
  async evaluate(ctx) {
    const { src, now, windowSec: w, thresholds: th } = ctx;
    const total = await src.increase('llmsoak_schedule_lag_seconds_count', w, now);
    const loop = await src.avgOverTime('nodejs_eventloop_lag_p99_seconds', w, now);
    if (total === undefined && loop === undefined) return insufficient('llmsoak_schedule_lag_seconds', 'nodejs_eventloop_lag_p99_seconds');
    const evidence: Record<string, number | string> = { window_s: w };
    // Share of requests sent later than the threshold (a bucket sits at 0.05 s): one hiccup
    // is not a generator that cannot keep up; a sustained share is.
    let lateShare = 0;
    if (total !== undefined && total > 0) {
      const onTime = (await src.increase(`llmsoak_schedule_lag_seconds_bucket{le="${th.scheduleLagP99Sec}"}`, w, now)) ?? total;
      lateShare = Math.max(0, 1 - onTime / total);
      evidence.requests = r4(total);
      evidence.late_share = r4(lateShare);
      const p99 = await src.quantile(0.99, 'llmsoak_schedule_lag_seconds', w, now);
      if (p99 !== undefined) evidence.schedule_lag_p99_s = r4(p99);
    }
    if (loop !== undefined) evidence.event_loop_lag_p99_avg_s = r4(loop);
    const lagHigh = lateShare > 0.05;
    const loopHigh = loop !== undefined && loop > th.eventLoopLagP99Sec;
    if (!lagHigh && !loopHigh) return ok();
    return ok([
      {
        rule: 'generator_bound',
        severity: 'warning',
        cause: 'generator_bound',
        summary: `llmsoak is falling behind: ${lagHigh ? `${(lateShare * 100).toFixed(0)}% of requests sent more than ${(th.scheduleLagP99Sec * 1000).toFixed(0)} ms late` : ''}${lagHigh && loopHigh ? ', ' : ''}${loopHigh ? `event-loop lag p99 ${(loop! * 1000).toFixed(0)} ms` : ''}; its latency figures are not trustworthy now`,
        suggestion: 'Give llmsoak more CPU, lower the rate, or run more replicas each with a share of the rate.',
        confidence: 0.9,
        evidence,
      },
    ]);
  },
};
