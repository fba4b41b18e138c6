/**
 * The server's own words for a failed request, as one short line: the HTTP
 * status line and the message of its body (`error.message` or `message` of
 * an OpenAI- or framework-style JSON error, the text of an HTML error page,
 * else the start of the body), or the transport error's message. Runs only
 * on failures, off the per-chunk path; secrets are scrubbed BEFORE the line
 * is cut, so a cut can never leave half a key behind.
 */

/** Longest detail kept per record, characters. */
export const MAX_ERROR_DETAIL_CHARS = 300;
/** Bytes of an error body looked at (the client may have read up to its body cap). */
export const BODY_PEEK_BYTES = 4096;

/** One line: control characters and runs of blanks collapsed. */
function oneLine(s: string): string {
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(/\s{2,}/g, ' ')
      .trim()
  );
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };

/** The visible text of an HTML error page (tags dropped, the common entities decoded). */
function htmlText(s: string): string {
  return s
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_m, e: string) => ENTITIES[e] ?? ' ');
}

/** The message a JSON error body carries, when it has one of the usual shapes. */
function jsonMessage(text: string): string | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as { error?: unknown; message?: unknown; detail?: unknown };
  const err = o.error;
  if (err !== null && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string' && m !== '') return m;
  }
  if (typeof o.message === 'string' && o.message !== '') return o.message;
  if (typeof err === 'string' && err !== '') return err;
  if (typeof o.detail === 'string' && o.detail !== '') return o.detail;
  return undefined;
}

/** The readable message of a response body (JSON error, HTML page, or plain text). */
export function bodyMessage(body: Buffer | string, contentType = ''): string {
  const text = (typeof body === 'string' ? body.slice(0, BODY_PEEK_BYTES) : body.subarray(0, BODY_PEEK_BYTES).toString('utf8')).trim();
  if (text === '') return '';
  const fromJson = text.startsWith('{') ? jsonMessage(text) : undefined;
  if (fromJson !== undefined) return oneLine(fromJson);
  if (contentType.includes('html') || /^<(!doctype|html)/i.test(text)) return oneLine(htmlText(text));
  return oneLine(text);
}

/** A detail line scrubbed, then cut to MAX_ERROR_DETAIL_CHARS. */
export function finishDetail(line: string, scrub: ((text: string) => string) | undefined): string {
  const clean = scrub ? scrub(line) : line;
  return clean.length > MAX_ERROR_DETAIL_CHARS ? `${clean.slice(0, MAX_ERROR_DETAIL_CHARS - 1)}…` : clean;
}

/** `404 Not Found: Cannot POST /v1/completions` from a status, its reason phrase and the body (not yet cut: finishDetail does). */
export function httpErrorLine(status: number, reason: string | undefined, body: Buffer | string, contentType: string): string {
  const msg = bodyMessage(body, contentType);
  const head = reason ? `${status} ${oneLine(reason)}` : String(status);
  return msg === '' ? head : `${head}: ${msg}`;
}

/** The detail of a failure nothing more specific was said about. */
export function fallbackDetail(outcome: string, status: number): string {
  const head = status ? `${status} ` : '';
  if (outcome === 'empty') return `${head}answer with no content`;
  if (outcome === 'malformed') return `${head}answer is not what the API promises`;
  return `${head}${outcome}`;
}
