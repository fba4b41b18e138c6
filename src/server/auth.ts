/**
 * Who may do what on llmsoak's own server (README "Running llmsoak safely").
 *
 * - A request that changes anything (any method but GET, HEAD and OPTIONS)
 *   needs `Authorization: Bearer <server.auth.token>`. Without a configured
 *   token such requests are refused with 403, unless the server listens on a
 *   loopback address only (127.0.0.0/8, ::1, localhost): then whoever can
 *   reach it is already on the machine. The decision is made on the listen
 *   address, never on the peer address (a proxy or sidecar on the same host
 *   would make every peer look local).
 * - GET /metrics needs the token when `protectMetrics`; every other read but
 *   /healthz and /readyz (probes carry no token) when `protectApi`.
 * - Wrong or missing token: 401 with `WWW-Authenticate: Bearer` and one line
 *   of JSON. Tokens are compared in constant time (SHA-256 of both, then
 *   timingSafeEqual, so neither content nor length leaks through timing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface AuthOptions {
  /** The bearer token; absent: mutating requests only on a loopback-only server. */
  token?: string;
  protectMetrics: boolean;
  protectApi: boolean;
  /** The server listens on a loopback address only. */
  loopbackOnly: boolean;
}

/** Stable error codes of the auth hook (tests and clients match these, not messages). */
export const AUTH_ERRORS = {
  unauthorized: 'LLMSOAK_ERR_UNAUTHORIZED',
  disabled: 'LLMSOAK_ERR_MUTATIONS_DISABLED',
} as const;

const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
const ALWAYS_OPEN: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time check of an Authorization header against the token. */
export function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  if (header === undefined) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  const given = digest(m ? (m[1] as string) : '');
  // Compare even when the header is malformed, so timing says nothing about why.
  return timingSafeEqual(given, tokenDigest) && m !== null;
}

/** Adds the onRequest hook to `app`: call before routes are registered. */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const tokenDigest = opts.token !== undefined ? digest(opts.token) : undefined;
  const deny401 = (reply: FastifyReply) =>
    reply.code(401).header('www-authenticate', 'Bearer realm="llmsoak"').send({ error: 'missing or wrong bearer token (Authorization: Bearer <server.auth.token>)', code: AUTH_ERRORS.unauthorized });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = (req.url.split('?')[0] ?? '/').replace(/\/+$/, '') || '/';
    const mutating = !READ_METHODS.has(req.method);
    let needsToken: boolean;
    if (mutating) needsToken = true;
    else if (ALWAYS_OPEN.has(path)) needsToken = false;
    else if (path === '/metrics') needsToken = opts.protectMetrics;
    else needsToken = opts.protectApi;
    if (!needsToken) return;
    if (tokenDigest === undefined) {
      // Reads are only ever protected with a token (config validation says so); mutations without one:
      if (!mutating || opts.loopbackOnly) return;
      return reply.code(403).send({
        error: 'changes over HTTP are disabled: set server.auth.token (or listen on loopback only)',
        code: AUTH_ERRORS.disabled,
      });
    }
    if (!bearerMatches(req.headers.authorization, tokenDigest)) return deny401(reply);
  });
}
