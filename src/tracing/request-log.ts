/**
 * The sampled request log: one JSON line per sampled request (time,
 * scenario, endpoint, outcome, error class, phases, tokens, trace id), for
 * drill-down from a latency spike: the spike's exemplar names a trace id,
 * the log has that request. Sampling is by trace id (the last 32 bits
 * against sampleRatio), errors always when asked. Never the API key or any
 * header; the prompt only when includePrompts is set.
 *
 * Writing never blocks the event loop (RotatingFile): a line the disk cannot
 * take now is dropped and counted in llmsoak_request_log_dropped_total.
 */
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { REQUEST_PHASES, type RequestRecord } from '../types.js';
import type { RequestLogConfig } from './config.js';
import { RotatingFile } from './rotating-file.js';

/** Bytes waiting for the disk past which lines are dropped (about 2,000 lines). */
export const DEFAULT_LOG_BUFFER_BYTES = 1024 * 1024;

export interface RequestLogDeps {
  registry: Registry;
  clock: Clock;
  logger: Logger;
  /** Removes secret values from a line (SecretScrubber.scrub): a second line of defence. */
  scrub?: (line: string) => string;
  /** Default DEFAULT_LOG_BUFFER_BYTES. */
  maxBufferBytes?: number;
}

/** What one line of the log holds (also what tests read back). */
export interface RequestLogLine {
  time: string;
  traceId: string | null;
  id: string;
  scenario: string;
  endpoint: string;
  model: string;
  stream: boolean;
  outcome: string;
  /** The error class when the request failed, else absent. */
  error?: string;
  httpStatus?: number;
  /** ms per phase reached (dns, connect, tls only for a request that opened a connection). */
  phasesMs: Record<string, number>;
  ttftMs?: number;
  e2eMs: number;
  durationMs: number;
  scheduleLagMs: number;
  inputTokens: number;
  outputTokens: number;
  tokenSource: string;
  /** Why it is in the log: the ratio, or because it failed. */
  sampledBy: 'ratio' | 'error';
  /** The request body, only with includePrompts. */
  request?: string;
}

const ms = (ns: bigint | number): number => Math.round(Number(ns) / 1e3) / 1e3;
const TWO_32 = 2 ** 32;

export class RequestLog {
  private readonly file: RotatingFile | undefined;
  private readonly threshold: number;
  private readonly dropped: Counter;
  private readonly written: Counter;
  private warned = false;

  constructor(
    private readonly cfg: RequestLogConfig,
    private readonly deps: RequestLogDeps,
  ) {
    this.threshold = cfg.sampleRatio * TWO_32;
    this.dropped = new Counter({
      name: 'llmsoak_request_log_dropped_total',
      help: 'Sampled request-log lines dropped because the disk did not keep up (or the file failed).',
      registers: [deps.registry],
    });
    this.written = new Counter({ name: 'llmsoak_request_log_lines_total', help: 'Lines written to the sampled request log.', registers: [deps.registry] });
    if (!cfg.enabled) return;
    this.file = new RotatingFile({
      file: cfg.file,
      maxBytes: cfg.maxBytes,
      keep: cfg.keep,
      maxBufferBytes: deps.maxBufferBytes ?? DEFAULT_LOG_BUFFER_BYTES,
      onDrop: () => this.dropped.inc(),
      onError: (err) => {
        if (this.warned) return;
        this.warned = true;
        deps.logger.warn({ err, file: cfg.file }, 'request log: cannot write; lines are dropped (llmsoak_request_log_dropped_total); logged once');
      },
    });
  }

  /** Chosen by the ratio from its trace id (stable: the same id is always chosen or not). */
  private byRatio(r: RequestRecord): boolean {
    if (this.threshold >= TWO_32) return true;
    if (this.threshold <= 0) return false;
    const id = r.traceId;
    const draw = id && id.length === 32 ? parseInt(id.slice(24), 16) : Math.floor(Math.random() * TWO_32);
    return draw < this.threshold;
  }

  /**
   * A finished request: log it if sampled. True when it was chosen by the
   * ratio and is in the log (or the log is off): its latencies may carry its
   * trace id as an exemplar, so every exemplar can be found in the log.
   */
  offer(r: RequestRecord, requestBody?: string): boolean {
    const ratio = this.byRatio(r);
    const error = !ratio && this.cfg.alwaysErrors && r.outcome !== 'ok';
    if (!ratio && !error) return false;
    if (!this.file) return ratio;
    const written = this.file.write(this.line(r, ratio ? 'ratio' : 'error', requestBody));
    if (written) this.written.inc();
    return ratio && written;
  }

  private line(r: RequestRecord, sampledBy: 'ratio' | 'error', requestBody: string | undefined): string {
    const phasesMs: Record<string, number> = {};
    if (r.phases)
      for (const p of REQUEST_PHASES) {
        const v = r.phases[p];
        if (v !== undefined) phasesMs[p] = ms(v);
      }
    const l: RequestLogLine = {
      time: new Date(this.deps.clock.wallMs()).toISOString(),
      traceId: r.traceId ?? null,
      id: r.id,
      scenario: r.scenario,
      endpoint: r.endpoint,
      model: r.model,
      stream: r.stream,
      outcome: r.outcome,
      ...(r.outcome !== 'ok' ? { error: r.outcome } : {}),
      ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
      phasesMs,
      ...(r.firstTokenAt !== undefined ? { ttftMs: ms(r.firstTokenAt - r.sentAt) } : {}),
      e2eMs: ms((r.lastTokenAt ?? r.endedAt) - r.sentAt),
      durationMs: ms(r.endedAt - r.sentAt),
      scheduleLagMs: ms(r.sentAt - r.scheduledAt),
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      tokenSource: r.tokenSource,
      sampledBy,
      ...(this.cfg.includePrompts && requestBody !== undefined ? { request: requestBody } : {}),
    };
    const text = JSON.stringify(l) + '\n';
    return this.deps.scrub ? this.deps.scrub(text) : text;
  }

  /** Flush and close the file (shutdown). */
  async close(): Promise<void> {
    await this.file?.close();
  }
}
