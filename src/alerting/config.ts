/**
 * Configuration of the Alertmanager notifier: its TypeScript shape, its JSON
 * Schema fragment (draft-07, embedded as `alerting` in the main config and
 * validated there by ajv with `useDefaults`), and the cross-field checks a
 * schema cannot express (reported all at once, each as `path: message`).
 *
 * Secrets: `bearerToken` and `basicAuth.password` are never logged by the
 * notifier; whoever logs the whole config must redact
 * `alerting.alertmanagers[*].bearerToken` and `…basicAuth.password`.
 */
import type { FromSchema } from 'json-schema-to-ts';

export const DEFAULT_RESEND_DELAY_MS = 60_000;
export const DEFAULT_QUEUE_CAPACITY = 10_000;
export const DEFAULT_ALERTMANAGER_TIMEOUT_MS = 10_000;

/** Label names the notifier sets itself; external labels may not use them. */
export const NOTIFIER_RESERVED_LABELS: readonly string[] = ['alertname', 'rule', 'severity', 'cause'];

const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';

export const alertingConfigSchema = {
  type: 'object',
  description: "Sending hints to Alertmanager (API v2), with Prometheus' semantics.",
  additionalProperties: false,
  default: {},
  properties: {
    alertmanagers: {
      type: 'array',
      description: 'Every Alertmanager to send to (all of them get every alert). Empty: alerting off.',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://', description: 'Base URL; alerts are POSTed to {url}/api/v2/alerts.' },
          bearerToken: { type: 'string', minLength: 1, description: 'Authorization: Bearer token. A secret: write ${env:NAME}; never logged.' },
          basicAuth: {
            type: 'object',
            additionalProperties: false,
            required: ['username', 'password'],
            description: 'HTTP basic auth. The password is a secret: write ${env:NAME}; never logged.',
            properties: {
              username: { description: 'User name.', type: 'string', minLength: 1 },
              password: { description: 'Password: a secret.', type: 'string' },
            },
          },
          timeoutMs: { type: 'integer', minimum: 1, default: DEFAULT_ALERTMANAGER_TIMEOUT_MS, description: 'Timeout of one POST, ms.' },
        },
      },
    },
    resendDelayMs: { type: 'integer', minimum: 1, default: DEFAULT_RESEND_DELAY_MS, description: 'Re-send firing/resolved alerts this often, ms.' },
    queueCapacity: { type: 'integer', minimum: 1, default: DEFAULT_QUEUE_CAPACITY, description: 'Alerts queued per Alertmanager; the oldest are dropped beyond it.' },
    externalLabels: {
      type: 'object',
      default: {},
      description: 'Labels added to every alert (e.g. instance), unless the alert has that label already.',
      propertyNames: { pattern: LABEL_NAME },
      additionalProperties: { type: 'string' },
    },
    externalUrl: { type: 'string', pattern: '^https?://', description: 'How people reach this daemon; generatorURL = {externalUrl}/api/hints.' },
    runbookBaseUrl: { type: 'string', pattern: '^https?://', description: 'runbook_url annotation = {runbookBaseUrl}/{rule id}.' },
  },
} as const;

/** The validated `alerting` section, derived from the schema (defaults applied). Empty `alertmanagers`: alerting is off. */
export type AlertingConfig = FromSchema<typeof alertingConfigSchema>;
/** One Alertmanager to send to. Alerts go to every configured one; they deduplicate among themselves. */
export type AlertmanagerTarget = AlertingConfig['alertmanagers'][number];

export function defaultAlertingConfig(): AlertingConfig {
  return {
    alertmanagers: [],
    resendDelayMs: DEFAULT_RESEND_DELAY_MS,
    queueCapacity: DEFAULT_QUEUE_CAPACITY,
    externalLabels: {},
  };
}

/**
 * The `alertmanager` metric label of a target: host:port of its URL (the
 * scheme's default port made explicit), never credentials or path.
 */
export function alertmanagerLabel(url: string): string {
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  return `${u.hostname}:${port}`;
}

/**
 * Cross-field checks the schema cannot express. Returns every problem as
 * `path: message` (empty: fine). `at` is the config path of the fragment.
 */
export function validateAlertingConfig(cfg: AlertingConfig, at = 'alerting'): string[] {
  const problems: string[] = [];
  const labels = new Map<string, number>();
  cfg.alertmanagers.forEach((am, i) => {
    const p = `${at}.alertmanagers[${i}]`;
    let u: URL;
    try {
      u = new URL(am.url);
    } catch {
      problems.push(`${p}.url: not a valid URL`);
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${p}.url: must be http:// or https://`);
    if (u.username !== '' || u.password !== '') problems.push(`${p}.url: must not carry credentials; use basicAuth or bearerToken`);
    if (u.search !== '' || u.hash !== '') problems.push(`${p}.url: must not have a query or fragment`);
    if (am.bearerToken !== undefined && am.basicAuth !== undefined) problems.push(`${p}: bearerToken and basicAuth are mutually exclusive`);
    const label = alertmanagerLabel(am.url);
    const prev = labels.get(label);
    if (prev !== undefined) problems.push(`${p}.url: same host:port (${label}) as ${at}.alertmanagers[${prev}]`);
    else labels.set(label, i);
  });
  const re = new RegExp(LABEL_NAME);
  for (const name of Object.keys(cfg.externalLabels)) {
    if (!re.test(name)) problems.push(`${at}.externalLabels.${name}: not a valid label name`);
    else if (NOTIFIER_RESERVED_LABELS.includes(name)) problems.push(`${at}.externalLabels.${name}: reserved (set by llmsoak itself)`);
  }
  for (const key of ['externalUrl', 'runbookBaseUrl'] as const) {
    const v = cfg[key];
    if (v === undefined) continue;
    try {
      new URL(v);
    } catch {
      problems.push(`${at}.${key}: not a valid URL`);
    }
  }
  return problems;
}
