/**
 * Secrets never leave llmsoak: the target API key, the server token and the
 * Alertmanager/Prometheus credentials only ever reach an Authorization
 * header. Redaction of known fields (redactConfig, pino's redact paths) is
 * the first line; this is the second: every log line and every response of
 * llmsoak's own server passes through a scrubber that replaces any secret
 * value it finds (a target echoing the key in an error body, a URL with
 * credentials in it, a model name that is the key) with `[redacted]`.
 */
export const REDACTED = '[redacted]';

/** Values shorter than this are not scrubbed (they would mangle ordinary text and protect nothing). */
export const MIN_SCRUBBED_LENGTH = 6;

/** Credentials optional on a connection (an Alertmanager, a Prometheus). */
interface Credentials {
  bearerToken?: string;
  basicAuth?: { password?: string };
}

/** The parts of the config that can hold a secret (a Config is one): declared here so that security/ needs nothing of config/. */
export interface SecretFields {
  target: { apiKey?: string; url?: string; metricsUrl?: string };
  server: { auth: { token?: string } };
  alerting: { alertmanagers: Credentials[] };
  analyzer: { prometheus?: Credentials };
}

/** Every secret value in a config: keys, tokens, passwords, and passwords inside URLs. */
export function configSecrets(cfg: SecretFields): string[] {
  const out: string[] = [];
  const add = (v: string | undefined) => {
    if (v !== undefined && v.length >= MIN_SCRUBBED_LENGTH) out.push(v);
  };
  add(cfg.target.apiKey);
  add(cfg.server.auth.token);
  for (const am of cfg.alerting.alertmanagers) {
    add(am.bearerToken);
    add(am.basicAuth?.password);
  }
  const prom = cfg.analyzer.prometheus;
  add(prom?.bearerToken);
  add(prom?.basicAuth?.password);
  for (const u of [cfg.target.url, cfg.target.metricsUrl]) {
    if (u === undefined) continue;
    try {
      const parsed = new URL(u);
      add(decodeURIComponent(parsed.password));
      add(parsed.password);
    } catch {
      // not a URL: the schema already said so
    }
  }
  return [...new Set(out)];
}

/** Replaces every known secret in text; cheap when there is none (one indexOf per secret). */
export class SecretScrubber {
  private readonly secrets: string[];

  constructor(secrets: readonly string[]) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = [...new Set(secrets.filter((s) => s.length >= MIN_SCRUBBED_LENGTH))].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.secrets.length === 0;
  }

  /** True when text holds any secret. */
  has(text: string): boolean {
    for (const s of this.secrets) if (text.includes(s)) return true;
    return false;
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  /** Buffers are scrubbed only when they hold a secret (otherwise returned as they are). */
  scrubBuffer(buf: Buffer): Buffer {
    for (const s of this.secrets) {
      if (buf.includes(s)) return Buffer.from(this.scrub(buf.toString('utf8')), 'utf8');
    }
    return buf;
  }
}

/** A URL with its password (and user) replaced, for reports and status: `http://user:pw@h/v1` → `http://[redacted]@h/v1`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, `$1${REDACTED}@`);
  } catch {
    return url;
  }
}
