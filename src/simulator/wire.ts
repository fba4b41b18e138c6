/**
 * OpenAI wire-format helpers: error bodies, JSON answers, SSE framing.
 */
import type { ServerResponse } from 'node:http';
import type { ServerTimings } from '../types.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

/** OpenAI's error `type` / `code` for a status. */
export function errorBody(status: number, message: string, param: string | null = null, code?: string | null): OpenAIErrorBody {
  let type = 'invalid_request_error';
  let c: string | null = code ?? null;
  if (status === 429) {
    type = 'rate_limit_exceeded';
    c = code ?? 'rate_limit_exceeded';
  } else if (status === 503) {
    type = 'server_error';
    c = code ?? 'service_unavailable';
  } else if (status >= 500) type = 'server_error';
  else if (status === 401) {
    type = 'invalid_request_error';
    c = code ?? 'invalid_api_key';
  }
  return { error: { message, type, param, code: c } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, param: string | null = null, code?: string | null): void {
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': '1' } : {};
  sendJson(res, status, errorBody(status, message, param, code), headers);
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
} as const;

export const SSE_DONE = 'data: [DONE]\n\n';

/** ms rounded to µs, for compact JSON. */
export function r3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** `"timings":{...}` (llama.cpp-style ground truth; see ServerTimings). */
export function timingsJson(t: ServerTimings): string {
  return (
    `"timings":{"queue_ms":${t.queue_ms},"ttft_ms":${t.ttft_ms},"itl_ms":[${t.itl_ms.join(',')}],` +
    `"prompt_tokens":${t.prompt_tokens},"completion_tokens":${t.completion_tokens},"preemptions":${t.preemptions}}`
  );
}

export function usageJson(prompt: number, completion: number): string {
  return `"usage":{"prompt_tokens":${prompt},"total_tokens":${prompt + completion},"completion_tokens":${completion},"prompt_tokens_details":null}`;
}
