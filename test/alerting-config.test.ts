/**
 * The alerting config fragment (schema defaults through ajv, cross-field
 * checks) and the hint → Alertmanager alert mapping.
 */
import t from 'tap';
import { Ajv } from 'ajv';
import { alertingConfigSchema, alertmanagerLabel, defaultAlertingConfig, validateAlertingConfig, type AlertingConfig } from '../src/alerting/config.js';
import { alertName, renderEvidence, sanitizeLabelName, toAlertmanagerAlert } from '../src/alerting/payload.js';
import type { Hint } from '../src/analyzer/hint.js';

function compile(): (data: unknown) => boolean {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  return ajv.compile({ $schema: 'http://json-schema.org/draft-07/schema#', ...alertingConfigSchema });
}

t.test('schema: defaults match defaultAlertingConfig()', async (t) => {
  const validate = compile();
  const empty: Record<string, unknown> = {};
  t.ok(validate(empty));
  t.same(empty, defaultAlertingConfig());
  const one: Record<string, unknown> = { alertmanagers: [{ url: 'http://am:9093' }] };
  t.ok(validate(one));
  t.same(one, { ...defaultAlertingConfig(), alertmanagers: [{ url: 'http://am:9093', timeoutMs: 10_000 }] });
  t.same(validateAlertingConfig(one as unknown as AlertingConfig), []);
});

t.test('schema: unknown fields and bad values are rejected', async (t) => {
  const validate = compile();
  t.notOk(validate({ resendDelay: 5 }), 'additionalProperties false');
  t.notOk(validate({ alertmanagers: [{ url: 'am:9093' }] }), 'url needs a scheme');
  t.notOk(validate({ alertmanagers: [{ url: 'http://am', token: 'x' }] }));
  t.notOk(validate({ queueCapacity: 0 }));
  t.notOk(validate({ externalLabels: { 'bad-name': 'x' } }));
  t.notOk(validate({ externalLabels: { ok: 1 } }));
  t.notOk(validate({ alertmanagers: [{ url: 'http://am', basicAuth: { username: 'u' } }] }));
});

t.test('cross-field checks: every problem at once, as path: message', async (t) => {
  const cfg: AlertingConfig = {
    ...defaultAlertingConfig(),
    alertmanagers: [
      { url: 'http://user:pw@am:9093', timeoutMs: 1000 },
      { url: 'http://am2:9093', bearerToken: 't', basicAuth: { username: 'u', password: 'p' }, timeoutMs: 1000 },
      { url: 'http://am2:9093/prefix/', timeoutMs: 1000 },
    ],
    externalLabels: { severity: 'x', instance: 'i' },
  };
  const problems = validateAlertingConfig(cfg);
  t.same(problems, [
    'alerting.alertmanagers[0].url: must not carry credentials; use basicAuth or bearerToken',
    'alerting.alertmanagers[1]: bearerToken and basicAuth are mutually exclusive',
    'alerting.alertmanagers[2].url: same host:port (am2:9093) as alerting.alertmanagers[1]',
    'alerting.externalLabels.severity: reserved (set by llmsoak itself)',
  ]);
  t.equal(alertmanagerLabel('http://am:9093/x'), 'am:9093');
  t.equal(alertmanagerLabel('https://am.example'), 'am.example:443');
  t.equal(alertmanagerLabel('http://am.example'), 'am.example:80');
});

t.test('alertname, label names, evidence rendering', async (t) => {
  t.equal(alertName('kv_cache_pressure'), 'KvCachePressure');
  t.equal(alertName('kv-cache-pressure'), 'KvCachePressure');
  t.equal(alertName('generatorBound'), 'GeneratorBound');
  t.equal(alertName('4xx_rate'), 'Hint4xxRate');
  t.equal(alertName('__'), 'LlmsoakHint');
  t.equal(sanitizeLabelName('gpu.index'), 'gpu_index');
  t.equal(sanitizeLabelName('0gpu'), '_0gpu');
  t.equal(renderEvidence({ a: 0.123456, b: 3, c: 'absent', d: 1234567.891 }), 'a: 0.1235\nb: 3\nc: absent\nd: 1235000');
});

t.test('hint → alert: labels win over external labels; reserved finding labels ignored', async (t) => {
  const h: Hint = {
    rule: 'leak',
    severity: 'critical',
    cause: 'leak',
    summary: 's',
    suggestion: 'g',
    confidence: 1,
    evidence: {},
    labels: { instance: 'from-hint', cause: 'spoofed', empty: '' },
    state: 'firing',
    activeAt: new Date(0),
    lastEvalAt: new Date(0),
  };
  const a = toAlertmanagerAlert(h, new Date(1000), { externalLabels: { instance: 'ext', env: 'staging' } });
  t.same(a.labels, { alertname: 'Leak', rule: 'leak', severity: 'critical', cause: 'leak', instance: 'from-hint', env: 'staging' });
  t.equal(a.annotations['description'], 's', 'no evidence: description is the summary');
  t.equal(a.startsAt, '1970-01-01T00:00:00.000Z');
  t.equal(a.endsAt, '1970-01-01T00:00:01.000Z');
  t.notOk('generatorURL' in a);
});
