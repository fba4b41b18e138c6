#!/usr/bin/env node
/**
 * The `llmsoak` command: run (the daemon), simulate (the built-in target),
 * check-config, check-target. Parses flags, loads config, hands over; no logic of its own.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, ExitCode, LlmsoakError, UsageError, errorMessage } from './errors.js';
import { loadConfig, type ConfigFlags } from './config/load.js';
import { createLogger } from './log.js';
import { configSecrets } from './security/secrets.js';
import { VERSION } from './version.js';
import { MODE_KINDS, type ModeKind } from './config/modes.js';
import { kindsHelp } from './kinds.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  summary: string;
  usage: string;
  options: Options;
  help: string;
  main(values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[]): Promise<number>;
}

const configFlag = { type: 'string', short: 'c' } as const;

const commands: Record<string, Command> = {
  run: {
    summary: 'run the soak daemon (default target: the built-in simulator)',
    usage: 'llmsoak run [--config FILE] [--target URL] [--model NAME] [--rate RPS] [--duration SECONDS] [--listen HOST:PORT]',
    options: {
      config: configFlag,
      target: { type: 'string' },
      model: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      listen: { type: 'string' },
    },
    help: `  --config FILE       YAML config (also LLMSOAK_CONFIG); flags override it
  --target URL        OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (absent: built-in simulator)
  --model NAME        model to request (absent: first of GET /v1/models)
  --rate RPS          requests per second (open loop)
  --duration SECONDS  stop cleanly after this long (0 = run until SIGTERM/SIGINT)
  --listen HOST:PORT  where /metrics, /healthz and /api are served (default 0.0.0.0:9477)`,
    async main(values) {
      const flags: ConfigFlags = {};
      if (typeof values.target === 'string') flags.target = values.target;
      if (typeof values.model === 'string') flags.model = values.model;
      if (typeof values.rate === 'string') flags.rate = numberFlag('--rate', values.rate);
      if (typeof values.duration === 'string') flags.duration = numberFlag('--duration', values.duration);
      if (typeof values.listen === 'string') flags.listen = values.listen;
      const file = typeof values.config === 'string' ? values.config : process.env.LLMSOAK_CONFIG;
      const { config, warnings } = loadConfig({ ...(file ? { file } : {}), env: process.env, flags });
      const logger = createLogger(config.log.level, undefined, configSecrets(config));
      for (const w of warnings) logger.warn(`config: ${w}`);
      const { runDaemon } = await import('./run.js');
      return runDaemon(config, logger);
    },
  },
  simulate: {
    summary: 'run the built-in OpenAI-compatible LLM simulator alone',
    usage: 'llmsoak simulate [--port N] [--host HOST] [--config FILE]',
    options: {
      config: configFlag,
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      // Internal: the daemon passes its simulator section as JSON to its child.
      'config-json': { type: 'string' },
    },
    help: `  --port N       port to listen on (default 18000)
  --host HOST    address to bind (default 127.0.0.1)
  --config FILE  YAML config; its simulator: section is used`,
    async main(values) {
      const file = typeof values.config === 'string' ? values.config : undefined;
      const document = typeof values['config-json'] === 'string' ? parseJsonFlag(values['config-json']) : undefined;
      const { config } = loadConfig({ ...(file ? { file } : {}), ...(document !== undefined ? { document } : {}), env: process.env });
      const sim = config.simulator;
      if (typeof values.port === 'string') sim.port = integerFlag('--port', values.port);
      if (typeof values.host === 'string') sim.host = values.host;
      const logger = createLogger(config.log.level);
      const { runSimulatorProcess } = await import('./simulator/process.js');
      return runSimulatorProcess(sim, logger);
    },
  },
  bench: {
    summary: `run one mode (${MODE_KINDS.join(', ')}), write its report, exit 0 if every SLO held, 1 if not`,
    usage: 'llmsoak bench [--config FILE] [--out DIR] [--mode KIND] [--target URL] [--model NAME] [--listen HOST:PORT] [--baseline FILE]',
    options: {
      config: configFlag,
      out: { type: 'string', short: 'o' },
      mode: { type: 'string' },
      target: { type: 'string' },
      model: { type: 'string' },
      listen: { type: 'string' },
      baseline: { type: 'string' },
    },
    help: `  --config FILE       YAML config (also LLMSOAK_CONFIG): its mode: section says what runs, slo: what must hold
  --out DIR           where the report goes (default: report.dir, reports/)
  --mode KIND         ${MODE_KINDS.join(', ')} (overrides mode.kind)
  --target URL        OpenAI base URL (absent: the built-in simulator)
  --model NAME        model to request (absent: first of GET /v1/models)
  --listen HOST:PORT  where /metrics is served during the run (default an ephemeral port on 127.0.0.1)
  --baseline FILE     a report (.json) of an earlier run of the same mode: compare against it at the end
                      (compare.md/.html/.json next to the report); a figure worse than it fails the bench
Exit codes: 0 every SLO held (and nothing worse than the baseline), 1 one failed (or the run failed), 2 bad configuration or usage.`,
    async main(values) {
      const flags: ConfigFlags = { listen: typeof values.listen === 'string' ? values.listen : '127.0.0.1:0' };
      if (typeof values.target === 'string') flags.target = values.target;
      if (typeof values.model === 'string') flags.model = values.model;
      const file = typeof values.config === 'string' ? values.config : process.env.LLMSOAK_CONFIG;
      const { config, warnings } = loadConfig({ ...(file ? { file } : {}), env: process.env, flags });
      if (typeof values.mode === 'string') {
        const kinds: readonly string[] = MODE_KINDS;
        if (!kinds.includes(values.mode)) throw new UsageError(`--mode: "${values.mode}" is not one of ${MODE_KINDS.join(', ')}`);
        config.mode.kind = values.mode as ModeKind;
      }
      // Logs to stderr: stdout carries the summary a pipeline reads.
      const logger = createLogger(config.log.level, process.stderr, configSecrets(config));
      for (const w of warnings) logger.warn(`config: ${w}`);
      const { runBench } = await import('./modes/bench.js');
      const { Daemon } = await import('./daemon.js');
      return runBench(config, logger, {
        outDir: typeof values.out === 'string' ? values.out : config.report.dir,
        ...(typeof values.baseline === 'string' ? { baseline: values.baseline } : {}),
        idleDaemon: () => new Daemon(config, { logger, idle: true }),
      });
    },
  },
  compare: {
    summary: 'compare two reports figure by figure (better/same/worse, with a statistical test); exit 1 on a regression',
    usage: 'llmsoak compare BASELINE.json CANDIDATE.json [--config FILE] [--out DIR] [--json]',
    options: {
      config: configFlag,
      out: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
    },
    help: `  BASELINE, CANDIDATE  the .json reports of two runs of the same kind (llmsoak bench, schedules)
  --config FILE        YAML config (also LLMSOAK_CONFIG): its compare: section sets the tolerances
  --out DIR            also write compare.md, compare.html and compare.json there
  --json               print the comparison as JSON instead of the table
Exit codes: 0 no figure worse, 1 a regression, 2 bad input (missing file, not a report, different kinds).`,
    async main(values, positionals) {
      const [baseline, candidate, extra] = positionals;
      if (baseline === undefined || candidate === undefined || extra !== undefined) throw new UsageError('compare needs exactly two reports: BASELINE CANDIDATE');
      const file = typeof values.config === 'string' ? values.config : process.env.LLMSOAK_CONFIG;
      const { config } = loadConfig({ ...(file ? { file } : {}), env: process.env });
      const { runCompare } = await import('./compare/command.js');
      const { CompareInputError } = await import('./compare/input.js');
      try {
        return await runCompare(baseline, candidate, config.compare, { ...(typeof values.out === 'string' ? { outDir: values.out } : {}), json: values.json === true });
      } catch (err) {
        if (!(err instanceof CompareInputError)) throw err;
        process.stderr.write(`llmsoak compare: ${err.message}\n`);
        return ExitCode.badConfig;
      }
    },
  },
  'check-target': {
    summary: 'probe the target as llmsoak run would at start: what works, what will not (exit 0 every scenario can run, 1 not, 2 bad input)',
    usage: 'llmsoak check-target [--config FILE] [--target URL] [--model NAME] [--json]',
    options: {
      config: configFlag,
      target: { type: 'string' },
      model: { type: 'string' },
      json: { type: 'boolean' },
    },
    help: `  --config FILE  YAML config (also LLMSOAK_CONFIG): its scenarios say which endpoints are probed
  --target URL   OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (absent: the built-in simulator)
  --model NAME   model to request (absent: first of GET /v1/models)
  --json         print the result as JSON (the same object as /api/status's preflight)
Exit codes: 0 every scenario can run, 1 one cannot, 2 bad configuration, URL or usage.`,
    async main(values) {
      const flags: ConfigFlags = {};
      if (typeof values.target === 'string') flags.target = values.target;
      if (typeof values.model === 'string') flags.model = values.model;
      const file = typeof values.config === 'string' ? values.config : process.env.LLMSOAK_CONFIG;
      const { config, warnings } = loadConfig({ ...(file ? { file } : {}), env: process.env, flags });
      // Logs to stderr: stdout carries the table. Nothing listens here: warnings about llmsoak's own server do not apply.
      const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level, process.stderr, configSecrets(config));
      for (const w of warnings) if (!w.startsWith('server.')) logger.warn(`config: ${w}`);
      const { runCheckTarget } = await import('./preflight/command.js');
      return runCheckTarget(config, logger, { json: values.json === true });
    },
  },
  'check-config': {
    summary: 'validate a config file: exit 0, or list every problem and exit 2',
    usage: 'llmsoak check-config FILE',
    options: {},
    help: '  FILE  the YAML config to check (environment overrides are applied as at run time)',
    async main(_values, positionals) {
      const file = positionals[0];
      if (!file) throw new UsageError('check-config needs a FILE');
      const { warnings } = loadConfig({ file, env: process.env });
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(`${file}: ok\n`);
      return ExitCode.ok;
    },
  },
};

function numberFlag(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name}: "${v}" is not a number`);
  return n;
}

function integerFlag(name: string, v: string): number {
  const n = numberFlag(name, v);
  if (!Number.isInteger(n)) throw new UsageError(`${name}: "${v}" is not an integer`);
  return n;
}

function parseJsonFlag(v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new UsageError('--config-json: not valid JSON');
  }
}

function topHelp(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`);
  return `llmsoak ${VERSION}: soak tests for OpenAI-compatible LLM endpoints\n\nUsage: llmsoak <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nKinds (docs/extending.md):\n${kindsHelp()}\n\nRun 'llmsoak <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return ExitCode.ok;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`llmsoak: unknown command "${name}" (try llmsoak --help)\n`);
    return ExitCode.badConfig;
  }
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.summary}\n\n${cmd.help}\n`);
      return ExitCode.ok;
    }
    const { values, positionals } = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
    return await cmd.main(values, positionals);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`llmsoak: invalid configuration (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):\n`);
      for (const p of err.problems) process.stderr.write(`  ${p}\n`);
      return ExitCode.badConfig;
    }
    if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`llmsoak ${name}: ${errorMessage(err)}\nUsage: ${cmd.usage}\n`);
      return ExitCode.badConfig;
    }
    if (err instanceof LlmsoakError) {
      process.stderr.write(`llmsoak: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
      return ExitCode.failed;
    }
    process.stderr.write(`llmsoak: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.failed;
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`llmsoak: ${errorMessage(err)}\n`);
    process.exitCode = ExitCode.failed;
  },
);
