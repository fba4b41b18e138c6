/**
 * Where a request's time goes on the wire, measured where it happens: undici's
 * diagnostics channels stamp each request's events (headers written, body
 * sent, response headers, completion), and a timed connector stamps each new
 * connection (DNS lookup, TCP connect, TLS handshake), which is attributed to
 * the request that opened it. The client turns the stamps into phases
 * (RequestPhases) when the request ends; the recorder exports them.
 *
 * Hot path: no closure per request. A request is found by its `traceparent`
 * (first header, unique) when undici creates it, then by a WeakMap on
 * undici's request object; the channel handlers are module-level functions.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { Clock } from '../clock.js';
import type { RequestPhases } from '../types.js';

/** Instants (clock.monoNs) of one new connection; 0n = not reached. */
export class ConnectionTimings {
  lookupAt = 0n;
  connectedAt = 0n;
  secureAt = 0n;
  /** Ready for the first request (connected, or TLS done). */
  readyAt = 0n;
  /** Attributed to the first request written on it; later requests reuse the connection at no cost. */
  claimed = false;
  constructor(
    readonly clock: Clock,
    readonly startedAt: bigint,
    readonly tls: boolean,
  ) {}
}

/** Instants (clock.monoNs) of one request's wire events; 0n = not reached. */
export class WireTimings {
  headersWrittenAt = 0n;
  bodySentAt = 0n;
  responseHeadersAt = 0n;
  completedAt = 0n;
  /** The connection this request opened, when it opened one. */
  connection: ConnectionTimings | undefined;
  /** Matched to undici's request (its `request:create` was seen). */
  bound = false;
  constructor(
    readonly clock: Clock,
    readonly traceparent: string,
  ) {}
}

/** Requests dispatched whose undici request is not created yet (usually none: creation is synchronous). */
const pending = new Map<string, WireTimings>();
const byRequest = new WeakMap<object, WireTimings>();
const bySocket = new WeakMap<object, ConnectionTimings>();
let subscribed = false;

/** The parts of undici's channel messages read here (undici/docs/docs/api/DiagnosticsChannel.md). */
interface RequestMessage {
  request: { headers: unknown };
}
interface SendHeadersMessage extends RequestMessage {
  socket: Socket;
}

function onCreate(message: unknown): void {
  const { request } = message as RequestMessage;
  const h = request.headers;
  // llmsoak puts traceparent first; anything else (collectors, other clients) is not ours.
  if (!Array.isArray(h) || h[0] !== 'traceparent') return;
  const w = pending.get(h[1] as string);
  if (!w) return;
  pending.delete(w.traceparent);
  w.bound = true;
  byRequest.set(request, w);
}

function onSendHeaders(message: unknown): void {
  const { request, socket } = message as SendHeadersMessage;
  const w = byRequest.get(request);
  if (!w) return;
  w.headersWrittenAt = w.clock.monoNs();
  const c = bySocket.get(socket);
  if (c && !c.claimed) {
    c.claimed = true;
    w.connection = c;
  }
}

function onBodySent(message: unknown): void {
  const w = byRequest.get((message as RequestMessage).request);
  if (w) w.bodySentAt = w.clock.monoNs();
}

function onResponseHeaders(message: unknown): void {
  const w = byRequest.get((message as RequestMessage).request);
  if (w && w.responseHeadersAt === 0n) w.responseHeadersAt = w.clock.monoNs();
}

/** `trailers` (response complete) and `error` (failed or aborted) both end the request on the wire. */
function onCompleted(message: unknown): void {
  const w = byRequest.get((message as RequestMessage).request);
  if (w && w.completedAt === 0n) w.completedAt = w.clock.monoNs();
}

function ensureSubscribed(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('undici:request:create', onCreate);
  subscribe('undici:client:sendHeaders', onSendHeaders);
  subscribe('undici:request:bodySent', onBodySent);
  subscribe('undici:request:headers', onResponseHeaders);
  subscribe('undici:request:trailers', onCompleted);
  subscribe('undici:request:error', onCompleted);
}

/**
 * Watch the request about to be dispatched with this `traceparent` (which
 * must be its first header). Call release() when it has ended.
 */
export function watchRequest(traceparent: string, clock: Clock): WireTimings {
  ensureSubscribed();
  const w = new WireTimings(clock, traceparent);
  pending.set(traceparent, w);
  return w;
}

/** Forget a request never matched (dispatch threw before undici created it). */
export function releaseRequest(w: WireTimings): void {
  if (!w.bound) pending.delete(w.traceparent);
}

/** Requests waiting to be matched (tests: nothing leaks). */
export function pendingWatches(): number {
  return pending.size;
}

function onLookup(this: Socket): void {
  const c = bySocket.get(this);
  if (c && c.lookupAt === 0n) c.lookupAt = c.clock.monoNs();
}
function onConnect(this: Socket): void {
  const c = bySocket.get(this);
  if (c && c.connectedAt === 0n) c.connectedAt = c.clock.monoNs();
}
function onSecureConnect(this: Socket): void {
  const c = bySocket.get(this);
  if (c && c.secureAt === 0n) c.secureAt = c.clock.monoNs();
}

type ReturningConnector = (options: buildConnector.Options, callback: buildConnector.Callback) => Socket | undefined;

/**
 * undici's connector (same options as Pool's `connect`) with each new
 * connection timed: DNS lookup (0 for an IP literal: Node does none), TCP
 * connect, TLS handshake. Pass it as the Pool's `connect`; the timings reach
 * the first request written on that connection.
 */
export function timedConnector(options: buildConnector.BuildOptions, clock: Clock): buildConnector.connector {
  ensureSubscribed();
  // undici's connector returns the socket it creates (its type says void): listen on it from the start.
  const inner = buildConnector(options) as unknown as ReturningConnector;
  return (opts, callback) => {
    const c = new ConnectionTimings(clock, clock.monoNs(), opts.protocol === 'https:');
    const socket = inner(opts, (...args: Parameters<buildConnector.Callback>) => {
      const [err, s] = args;
      if (!err && s) {
        c.readyAt = clock.monoNs();
        // undici listens first: for plain TCP its 'connect' (this callback) runs before ours; the same instant.
        if (c.connectedAt === 0n) c.connectedAt = c.readyAt;
        if (c.tls && c.secureAt === 0n) c.secureAt = c.readyAt;
        bySocket.set(s, c);
      }
      callback(...args);
    });
    if (socket && typeof socket.once === 'function') {
      bySocket.set(socket, c);
      socket.once('lookup', onLookup).once('connect', onConnect);
      if (c.tls) socket.once('secureConnect', onSecureConnect);
    }
  };
}

const ns = (a: bigint, b: bigint): number => Number(a - b);

/**
 * The phases of a request that ended at `endedAt`, from its wire stamps and
 * the client's own content instants. Disjoint, in order, so they add up to
 * about endedAt - sentAt:
 *   dns, connect, tls  (a new connection only)
 *   request_sent  dispatch → request body written, less the connection setup above
 *   headers       body written → response headers (the server's wait)
 *   first_token   response headers → first content chunk (not streamed: → whole body)
 *   last_token    first → last content chunk (streamed)
 *   close         last content (or headers) → response end / stream close
 * A phase not reached is absent.
 */
export function phasesOf(w: WireTimings, sentAt: bigint, firstTokenAt: bigint | undefined, lastTokenAt: bigint | undefined, endedAt: bigint): RequestPhases {
  const p: RequestPhases = {};
  const c = w.connection;
  /** Connection setup inside this request's time (dns + connect + tls). */
  let setup = 0n;
  if (c && c.readyAt > 0n) {
    const looked = c.lookupAt > 0n ? c.lookupAt : c.startedAt;
    p.dns = ns(looked, c.startedAt);
    const connected = c.connectedAt > 0n ? c.connectedAt : c.readyAt;
    p.connect = ns(connected, looked);
    if (c.tls) p.tls = ns(c.secureAt > 0n ? c.secureAt : c.readyAt, connected);
    setup = c.readyAt - c.startedAt;
  }
  if (w.bodySentAt === 0n) return p;
  p.request_sent = Math.max(0, ns(w.bodySentAt, sentAt) - Number(setup));
  if (w.responseHeadersAt === 0n) return p;
  p.headers = ns(w.responseHeadersAt, w.bodySentAt);
  let contentEnd = w.responseHeadersAt;
  if (firstTokenAt !== undefined) {
    p.first_token = ns(firstTokenAt, w.responseHeadersAt);
    contentEnd = firstTokenAt;
    if (lastTokenAt !== undefined) {
      p.last_token = ns(lastTokenAt, firstTokenAt);
      contentEnd = lastTokenAt;
    }
  } else if (lastTokenAt !== undefined) {
    p.first_token = ns(lastTokenAt, w.responseHeadersAt);
    contentEnd = lastTokenAt;
  }
  const end = w.completedAt > 0n ? w.completedAt : endedAt;
  if (end >= contentEnd) p.close = ns(end, contentEnd);
  return p;
}
