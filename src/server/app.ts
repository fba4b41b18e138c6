/**
 * llmsoak's own HTTP server: /metrics, /healthz, /readyz and /api/*.
 * `buildApp()` returns the app without listening, so routes are tested with
 * `app.inject()`; the daemon calls `listen()`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import { registerReportRoutes, statusPageOr, type ReportRouteDeps } from './report-routes.js';
import { installAuth, type AuthOptions } from './auth.js';
import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics, wantsOpenMetrics } from '../metrics/openmetrics.js';
import { renderPrometheusText } from '../metrics/render.js';
import type { SecretScrubber } from '../security/secrets.js';

export interface AppDeps {
  registry: Registry;
  logger: Logger;
  /** True once traffic is flowing (the daemon is doing its job). */
  ready: () => boolean;
  /** A JSON-safe snapshot for /api/status. */
  status: () => unknown;
  /** Ranked hints with evidence and every rule's health, for /api/hints. */
  hints?: () => unknown;
  /** Largest request body accepted, bytes. */
  bodyLimit?: number;
  /** Bearer-token rules (src/server/auth.ts); absent: no checks (tests of routes). */
  auth?: AuthOptions;
  /** Serve HTTPS with these PEM contents. */
  https?: { key: Buffer; cert: Buffer };
  /** Every response body is scrubbed of these secrets. */
  secrets?: SecretScrubber;
  /** The status page at `/`, /api/reports and /api/schedules (absent: a plain index at `/`). */
  reports?: ReportRouteDeps;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // No per-request log lines: Prometheus scrapes every few seconds, forever.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  // Before any route: the hook then covers every route, those added later included.
  if (deps.auth) installAuth(app, deps.auth);
  const scrubber = deps.secrets;
  if (scrubber && !scrubber.empty) {
    app.addHook('onSend', async (_req, _reply, payload) => {
      if (typeof payload === 'string') return scrubber.scrub(payload);
      if (Buffer.isBuffer(payload)) return scrubber.scrubBuffer(payload);
      return payload;
    });
  }

  app.get('/metrics', async (req, reply) => {
    // OpenMetrics (with exemplars) when the scraper prefers it, as Prometheus does; else the Prometheus text format.
    if (wantsOpenMetrics(req.headers.accept)) return reply.header('content-type', OPENMETRICS_CONTENT_TYPE).send(await renderOpenMetrics(deps.registry));
    const body = await renderPrometheusText(deps.registry);
    return reply.header('content-type', deps.registry.contentType).send(body);
  });

  app.get('/healthz', async () => ({ status: 'ok', version: VERSION }));

  app.get('/readyz', async (_req, reply) => {
    if (deps.ready()) return { status: 'ready' };
    return reply.code(503).send({ status: 'starting' });
  });

  app.get('/api/status', async () => deps.status());
  app.get('/api/hints', async () => (deps.hints ? deps.hints() : { hints: [] }));

  const index = (reply: FastifyReply) =>
    reply
      .type('text/plain; charset=utf-8')
      .send(
        `llmsoak ${VERSION}\n\n/metrics      Prometheus metrics\n/healthz      liveness\n/readyz       readiness (traffic flowing)\n/api/status   live figures as JSON\n/api/hints    likely causes with evidence, and each rule's health\n/api/reports  reports (JSON, Markdown, HTML)\n/api/schedules  schedules, next and last runs\n`,
      );
  const reports = deps.reports;
  if (reports) registerReportRoutes(app, reports);
  app.get('/', async (_req, reply) => (reports ? statusPageOr(reports, reply, () => index(reply)) : index(reply)));

  return app;
}
