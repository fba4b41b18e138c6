/**
 * Run the simulator as a process of its own (benches, tests, or by hand):
 *
 *   node dist/src/simulator/standalone.js ['{"port":0,"engine":{"timeScale":0}}'] [--watch-stdin] [--log-level=info]
 *
 * The optional JSON argument is a partial SimulatorConfig (defaults fill the
 * rest, the schema validates it). When listening, prints exactly one JSON line
 * to stdout: {"ready":true,"url":"http://127.0.0.1:18000","port":18000,"pid":123}
 * Logs go to stderr. Run with `node --expose-gc` to start from a collected heap. Stops on SIGTERM/SIGINT; with --watch-stdin also when
 * stdin closes (so a child dies with its parent).
 */
import { pino, type LevelWithSilent } from 'pino';
import { errorMessage, ExitCode, LlmsoakError } from '../errors.js';
import { resolveSimulatorConfig } from './config.js';
import { startSimulator } from './server.js';

async function main(argv: string[]): Promise<void> {
  let json: string | undefined;
  let watchStdin = false;
  let level: LevelWithSilent = 'warn';
  for (const a of argv) {
    if (a === '--watch-stdin') watchStdin = true;
    else if (a.startsWith('--log-level=')) level = a.slice('--log-level='.length) as LevelWithSilent;
    else if (json === undefined) json = a;
    else throw new LlmsoakError('LLMSOAK_ERR_USAGE', `unexpected argument '${a}'`);
  }
  let partial: unknown = {};
  if (json !== undefined) {
    try {
      partial = JSON.parse(json);
    } catch (err) {
      throw new LlmsoakError('LLMSOAK_ERR_USAGE', `the config argument is not JSON: ${errorMessage(err)}`);
    }
  }
  const cfg = resolveSimulatorConfig(partial, 'simulator');
  const logger = pino({ level, base: { app: 'llmsoak-simulator' } }, pino.destination({ fd: 2, sync: false }));
  const sim = await startSimulator(cfg, { logger });
  // Under --expose-gc, start from a collected heap (a clean baseline for RSS-based leak checks).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
  process.stdout.write(JSON.stringify({ ready: true, url: sim.url, port: sim.port, pid: process.pid }) + '\n');

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(ExitCode.ok),
      () => process.exit(ExitCode.failed),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (watchStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`llmsoak simulator: ${errorMessage(err)}\n`);
  process.exit(err instanceof LlmsoakError && err.code === 'LLMSOAK_ERR_CONFIG' ? ExitCode.badConfig : ExitCode.failed);
});
