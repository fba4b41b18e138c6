/**
 * One base class for every error llmsoak raises on purpose, with a stable code
 * that callers and tests match instead of messages (as fastify's FST_ERR_* do).
 * Request failures on the traffic hot path are NOT exceptions: they are data
 * (an ErrorClass on the RequestRecord).
 */
export type ErrorCode = 'LLMSOAK_ERR_CONFIG' | 'LLMSOAK_ERR_USAGE' | 'LLMSOAK_ERR_LISTEN' | 'LLMSOAK_ERR_CHILD' | 'LLMSOAK_ERR_SIMULATOR' | 'LLMSOAK_ERR_TARGET' | 'LLMSOAK_ERR_TRAFFIC';

export class LlmsoakError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, one line. */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LlmsoakError';
    this.code = code;
    this.hint = hint;
  }
}

/** Bad configuration: carries every problem found, each as `path: message`. */
export class ConfigError extends LlmsoakError {
  readonly problems: string[];
  constructor(problems: string[], source = 'config') {
    super('LLMSOAK_ERR_CONFIG', `${source}: ${problems.length} problem(s): ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Wrong command-line usage (unknown flag, missing value). */
export class UsageError extends LlmsoakError {
  constructor(message: string) {
    super('LLMSOAK_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** Named exit codes, so scripts and pipelines can rely on them. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  badConfig: 2,
} as const;

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
