/**
 * The connection pool to the target, built the same way in the main thread
 * (in-process engine) and in a traffic worker.
 */
import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import { timedConnector } from '../tracing/wire-phases.js';

export interface TargetPoolOptions {
  origin: string;
  connections: number;
  timeouts: { connectMs: number; headersMs: number; idleMs: number };
}

export function createTargetPool(o: TargetPoolOptions, clock: Clock): Pool {
  return new Pool(o.origin, {
    connections: o.connections,
    pipelining: 1,
    // Times each new connection (DNS, connect, TLS) for llmsoak_request_phase_seconds.
    connect: timedConnector({ timeout: o.timeouts.connectMs }, clock),
    headersTimeout: o.timeouts.headersMs,
    bodyTimeout: o.timeouts.idleMs,
    keepAliveTimeout: 60_000,
  });
}
