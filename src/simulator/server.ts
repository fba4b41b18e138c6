/**
 * The simulator's HTTP server (node:http directly: the hot path writes one SSE
 * chunk per token and fastify's per-request cost is not needed here).
 *
 * Routes:
 *   POST /v1/chat/completions, POST /v1/completions   (stream and non-stream)
 *   POST /v1/embeddings
 *   POST /v1/moderations   (moderation.ts)
 *   GET  /v1/models, GET /v1/models/<id>
 *   GET  /metrics      vLLM v1 names + process metrics, own registry
 *   GET  /health       200
 *   GET|POST|DELETE /admin/faults, DELETE /admin/faults/<name>   (see faults.ts)
 *
 * Every response of a generation or embeddings request carries `timings`, the
 * server-side ground truth (ServerTimings): on the last chunk before [DONE] in
 * streams (the usage chunk when include_usage), at top level otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { LlmsoakError, errorMessage } from '../errors.js';
import { FAULT_NAMES, type FaultName, type SimulatorConfig } from './config.js';
import { Engine, Seq } from './engine.js';
import { FaultController, validateFaultsPatch } from './faults.js';
import { SimMetrics } from './metrics.js';
import { EmbedRequest, GenRequest, type GenKind, type SimContext } from './requests.js';
import { Rng } from './rng.js';
import { answerPieces, goldenAnswerForBody } from './answers.js';
import { BadRequest, chatPromptTokenIds, completionPromptTokenIds, countChatPromptTokens, countCompletionPromptTokens, embeddingInputs } from './tokens.js';
import { PrefixCache, blockHashes } from './prefix-cache.js';
import { warmTokenizer } from '../tokenizer.js';
import { ModerationRequest, moderationInputs } from './moderation.js';
import { sendError, sendJson } from './wire.js';

export interface RunningSimulator {
  /** Base URL without /v1, e.g. http://127.0.0.1:18000 */
  url: string;
  port: number;
  /** Stop: ends open streams (their connections are closed), frees the port. */
  close(): Promise<void>;
  /** Runtime fault control (the same as the admin API). */
  faults: FaultController;
}

export interface StartSimulatorOptions {
  logger: Logger;
  /** Overrides cfg.host. */
  host?: string;
  /** Overrides cfg.port (0 = ephemeral). */
  port?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Optional integer field ≥ min; undefined when absent or null. */
function optInt(body: Record<string, unknown>, name: string, min: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new BadRequest(`'${name}' must be an integer >= ${min}`, name);
  }
  return v;
}

function optBool(body: Record<string, unknown>, name: string): boolean {
  const v = body[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new BadRequest(`'${name}' must be a boolean`, name);
  return v;
}

class Simulator implements SimContext {
  readonly rng: Rng;
  readonly faults: FaultController;
  readonly metrics: SimMetrics;
  readonly engine: Engine;
  readonly modelJson: string;
  readonly timers = new Set<NodeJS.Timeout>();
  readonly server: Server;
  private readonly idPrefix = randomBytes(4).toString('hex');
  private idCounter = 0;
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private readonly outputMu: number;

  constructor(
    readonly cfg: SimulatorConfig,
    readonly log: Logger,
  ) {
    this.rng = new Rng(cfg.seed);
    this.faults = new FaultController(cfg.faults, { logger: log });
    this.metrics = new SimMetrics(cfg.model, () => this.engine.snapshot());
    const m = this.metrics;
    this.engine = new Engine(
      cfg.engine,
      this.faults,
      {
        preempted: () => m.preemptions.inc(),
        generated: (n) => m.generationTokens.inc(n),
      },
      cfg.engine.prefixCaching ? new PrefixCache(cfg.engine.prefixCacheBlocks) : undefined,
    );
    this.modelJson = JSON.stringify(cfg.model);
    const sigma = cfg.engine.outputTokensSigma;
    this.outputMu = Math.log(cfg.engine.outputTokensMean) - (sigma * sigma) / 2;
    this.server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => this.route(req, res));
    // Every generation counts its prompt: the tokenizer loads now, not in the first request's TTFT.
    warmTokenizer();
  }

  nextId(): string {
    return this.idPrefix + (++this.idCounter).toString(16);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const method = req.method ?? 'GET';
    try {
      if (method === 'POST') {
        if (path === '/v1/chat/completions') {
          this.readBody(req, res, (b, t) => this.generate('chat', b, t, res));
          return;
        }
        if (path === '/v1/completions') {
          this.readBody(req, res, (b, t) => this.generate('completions', b, t, res));
          return;
        }
        if (path === '/v1/embeddings') {
          this.readBody(req, res, (b, t) => this.embeddings(b, t, res));
          return;
        }
        if (path === '/v1/moderations') {
          this.readBody(req, res, (b, t) => this.moderations(b, t, res));
          return;
        }
        if (path === '/admin/faults') {
          this.readBody(req, res, (b) => this.adminSet(b, res));
          return;
        }
      } else if (method === 'GET' || method === 'HEAD') {
        if (path === '/health') {
          res.writeHead(200, { 'content-length': 0 });
          res.end();
          return;
        }
        if (path === '/metrics') {
          this.sendMetrics(res);
          return;
        }
        if (path === '/v1/models') {
          sendJson(res, 200, { object: 'list', data: [this.modelCard()] });
          return;
        }
        if (path.startsWith('/v1/models/')) {
          const id = decodeURIComponent(path.slice('/v1/models/'.length));
          if (id === this.cfg.model) sendJson(res, 200, this.modelCard());
          else this.modelNotFound(res, id);
          return;
        }
        if (path === '/admin/faults') {
          sendJson(res, 200, this.faults.state());
          return;
        }
      } else if (method === 'DELETE') {
        if (path === '/admin/faults') {
          sendJson(res, 200, this.faults.clear());
          return;
        }
        if (path.startsWith('/admin/faults/')) {
          const name = decodeURIComponent(path.slice('/admin/faults/'.length));
          if (!(FAULT_NAMES as readonly string[]).includes(name)) {
            sendError(res, 404, `unknown fault '${name}' (known: ${FAULT_NAMES.join(', ')})`, 'name');
            return;
          }
          sendJson(res, 200, this.faults.clear(name as FaultName));
          return;
        }
      }
      sendError(res, 404, `Invalid URL (${method} ${path})`, null, 'unknown_url');
    } catch (err) {
      this.internalError(res, err);
    }
  }

  private internalError(res: ServerResponse, err: unknown): void {
    this.log.error({ err: errorMessage(err) }, 'simulator request failed');
    if (!res.headersSent) sendError(res, 500, `internal error: ${errorMessage(err)}`);
    else res.destroy();
  }

  private modelCard(): Record<string, unknown> {
    return {
      id: this.cfg.model,
      object: 'model',
      created: this.createdAt,
      owned_by: 'llmsoak',
      root: this.cfg.model,
      parent: null,
      max_model_len: this.cfg.engine.maxModelLen,
      permission: [],
    };
  }

  private modelNotFound(res: ServerResponse, model: string): void {
    sendError(res, 404, `The model \`${model}\` does not exist.`, 'model', 'model_not_found');
  }

  private sendMetrics(res: ServerResponse): void {
    const reg = this.metrics.registry;
    reg.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': reg.contentType });
        res.end(text);
      },
      (err: unknown) => this.internalError(res, err),
    );
  }

  /** Read and parse a JSON body; the arrival instant is when its last byte came in. */
  private readBody(req: IncomingMessage, res: ServerResponse, then: (body: unknown, arrivalNs: bigint) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > this.cfg.maxBodyBytes) {
        tooLarge = true;
        sendError(res, 413, `request body larger than ${this.cfg.maxBodyBytes} bytes`, null, 'request_too_large');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const arrivalNs = process.hrtime.bigint();
      let body: unknown;
      try {
        const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
        body = JSON.parse(text);
      } catch (err) {
        sendError(res, 400, `Invalid JSON body: ${errorMessage(err)}`);
        return;
      }
      try {
        then(body, arrivalNs);
      } catch (err) {
        if (err instanceof BadRequest) sendError(res, 400, err.message, err.param);
        else this.internalError(res, err);
      }
    });
  }

  /** Common checks of a model request; false when an answer was already sent. */
  private admitCommon(body: unknown, res: ServerResponse): body is Record<string, unknown> {
    if (!isRecord(body)) {
      sendError(res, 400, 'request body must be a JSON object');
      return false;
    }
    const model = body.model;
    if (typeof model !== 'string' || model.length === 0) {
      sendError(res, 400, "you must provide a model parameter ('model': string)", 'model');
      return false;
    }
    if (model !== this.cfg.model) {
      this.modelNotFound(res, model);
      return false;
    }
    const status = this.faults.arrivalError(this.rng);
    if (status !== undefined) {
      sendError(res, status, `simulated error (fault 'errors', status ${status})`, null, 'simulated_fault');
      return false;
    }
    return true;
  }

  private generate(kind: GenKind, body: unknown, arrivalNs: bigint, res: ServerResponse): void {
    if (!this.admitCommon(body, res)) return;
    const e = this.cfg.engine;
    const stream = optBool(body, 'stream');
    let includeUsage = false;
    const so = body.stream_options;
    if (so !== undefined && so !== null) {
      if (!isRecord(so)) throw new BadRequest("'stream_options' must be an object", 'stream_options');
      includeUsage = optBool(so, 'include_usage');
    }
    // The prefix cache keys on the prompt's own token ids (what the text says, not a hint from the client),
    // made before the count, which then finds the texts' counts known (one tokenizer pass).
    const ids = !e.prefixCaching ? undefined : kind === 'chat' ? (Array.isArray(body.messages) ? chatPromptTokenIds(body.messages as unknown[]) : undefined) : completionPromptTokenIds(body.prompt);
    const promptTokens = kind === 'chat' ? countChatPromptTokens(body.messages) : countCompletionPromptTokens(body.prompt);
    const asked = kind === 'chat' ? (optInt(body, 'max_completion_tokens', 1) ?? optInt(body, 'max_tokens', 1)) : (optInt(body, 'max_tokens', 1) ?? 16); // the legacy completions default
    const maxTokens = asked ?? e.maxModelLen - promptTokens;
    if (promptTokens + maxTokens > e.maxModelLen || maxTokens < 1) {
      sendError(
        res,
        400,
        `This model's maximum context length is ${e.maxModelLen} tokens. However, you requested ${promptTokens + Math.max(0, maxTokens)} tokens ` +
          `(${promptTokens} in the messages, ${Math.max(0, maxTokens)} in the completion). Please reduce the length of the messages or completion.`,
        'max_tokens',
        'context_length_exceeded',
      );
      return;
    }
    const minTokens = Math.min(optInt(body, 'min_tokens', 0) ?? 0, maxTokens);
    const ignoreEos = optBool(body, 'ignore_eos');
    let target = maxTokens;
    let finishReason: 'stop' | 'length' = 'length';
    // A golden prompt (answers.ts) gets its answer, or a wrong one under the quality fault.
    const golden = ignoreEos ? undefined : goldenAnswerForBody(kind, body);
    let answer: string[] | undefined;
    if (golden !== undefined) {
      const pieces = answerPieces(this.faults.wrongAnswer(this.rng) ? golden.wrong : golden.text);
      answer = pieces.slice(0, maxTokens);
      target = answer.length;
      finishReason = pieces.length <= maxTokens ? 'stop' : 'length';
    } else if (!ignoreEos) {
      const natural = Math.max(1, Math.round(Math.exp(this.outputMu + e.outputTokensSigma * this.rng.normal())));
      const n = Math.max(natural, minTokens, 1);
      if (n < maxTokens) {
        target = n;
        finishReason = 'stop';
      }
    }
    const plan = this.faults.plan(this.rng, target);
    const handler = new GenRequest(this, res, arrivalNs, kind, stream, includeUsage, finishReason, plan, answer);
    const seq = new Seq(promptTokens, target, arrivalNs, handler);
    if (ids !== undefined) seq.blocks = blockHashes(ids, e.blockSize);
    this.enqueue(seq, handler, res);
  }

  /**
   * POST /v1/moderations. `model` may be left out (OpenAI's default), name the
   * served model, or an OpenAI moderation model (omni-/text-moderation-*), so
   * clients written for OpenAI work unchanged.
   */
  private moderations(body: unknown, arrivalNs: bigint, res: ServerResponse): void {
    if (!isRecord(body)) {
      sendError(res, 400, 'request body must be a JSON object');
      return;
    }
    const model = body.model;
    if (model !== undefined && model !== null) {
      if (typeof model !== 'string' || model.length === 0) throw new BadRequest("'model' must be a string", 'model');
      if (model !== this.cfg.model && !/^(omni|text)-moderation/.test(model)) {
        this.modelNotFound(res, model);
        return;
      }
    }
    const status = this.faults.arrivalError(this.rng);
    if (status !== undefined) {
      sendError(res, status, `simulated error (fault 'errors', status ${status})`, null, 'simulated_fault');
      return;
    }
    const { inputs, tokens } = moderationInputs(body.input);
    if (tokens > this.cfg.engine.maxModelLen * inputs.length) {
      sendError(res, 400, `input is longer than the maximum context length (${this.cfg.engine.maxModelLen} tokens)`, 'input', 'context_length_exceeded');
      return;
    }
    const handler = new ModerationRequest(this, res, arrivalNs, inputs, tokens, typeof model === 'string' ? model : this.cfg.model);
    this.enqueue(new Seq(tokens, 0, arrivalNs, handler), handler, res);
  }

  private embeddings(body: unknown, arrivalNs: bigint, res: ServerResponse): void {
    if (!this.admitCommon(body, res)) return;
    const { texts, tokens } = embeddingInputs(body.input);
    const fmt = body.encoding_format;
    if (fmt !== undefined && fmt !== null && fmt !== 'float' && fmt !== 'base64') {
      throw new BadRequest("'encoding_format' must be 'float' or 'base64'", 'encoding_format');
    }
    const dims = optInt(body, 'dimensions', 1);
    if (dims !== undefined && dims > this.cfg.embeddingDim) {
      throw new BadRequest(`'dimensions' must be <= ${this.cfg.embeddingDim}`, 'dimensions');
    }
    if (tokens > this.cfg.engine.maxModelLen * texts.length) {
      sendError(res, 400, `input is longer than the maximum context length (${this.cfg.engine.maxModelLen} tokens)`, 'input', 'context_length_exceeded');
      return;
    }
    const handler = new EmbedRequest(this, res, arrivalNs, texts, tokens, dims ?? this.cfg.embeddingDim, fmt === 'base64');
    this.enqueue(new Seq(tokens, 0, arrivalNs, handler), handler, res);
  }

  private enqueue(seq: Seq, handler: GenRequest | EmbedRequest | ModerationRequest, res: ServerResponse): void {
    handler.seq = seq;
    // cpuBound: through the (slow, single-threaded) frontend first, then to the engine.
    const frontend = this.faults.frontendCpu();
    if (frontend) {
      void frontend.then(() => {
        if (!res.destroyed && !res.writableEnded) this.submit(seq, handler, res);
      });
      return;
    }
    this.submit(seq, handler, res);
  }

  private submit(seq: Seq, handler: GenRequest | EmbedRequest | ModerationRequest, res: ServerResponse): void {
    if (!this.engine.submit(seq)) {
      sendError(res, 429, `The server is overloaded: the waiting queue is full (${this.cfg.engine.maxQueue} requests). Retry later.`);
      return;
    }
    res.on('close', () => handler.onClose());
  }

  private adminSet(body: unknown, res: ServerResponse): void {
    const { patch, problems } = validateFaultsPatch(body);
    if (problems.length > 0) {
      sendError(res, 400, `invalid faults: ${problems.join('; ')}`, 'faults');
      return;
    }
    sendJson(res, 200, this.faults.set(patch));
  }

  async close(): Promise<void> {
    this.engine.close();
    this.faults.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** Start the simulator and resolve once it listens. */
export async function startSimulator(cfg: SimulatorConfig, opts: StartSimulatorOptions): Promise<RunningSimulator> {
  const log = opts.logger.bindings().component === undefined ? opts.logger.child({ component: 'simulator' }) : opts.logger;
  const sim = new Simulator(cfg, log);
  const host = opts.host ?? cfg.host;
  const port = opts.port ?? cfg.port;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      sim.faults.close();
      reject(new LlmsoakError('LLMSOAK_ERR_LISTEN', `simulator cannot listen on ${host}:${port}: ${err.message}`, 'choose another simulator.port, or stop what holds it', { cause: err }));
    };
    sim.server.once('error', onError);
    sim.server.listen(port, host, () => {
      sim.server.off('error', onError);
      resolve();
    });
  });
  sim.server.on('error', (err) => log.error({ err: err.message }, 'simulator server error'));
  const addr = sim.server.address() as AddressInfo;
  // A wildcard bind is reached through loopback.
  const a = addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address === '::' ? '::1' : addr.address;
  const urlHost = a.includes(':') ? `[${a}]` : a;
  const url = `http://${urlHost}:${addr.port}`;
  log.info({ url, model: cfg.model, engine: cfg.engine }, 'simulator listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    faults: sim.faults,
    close: () => {
      closing ??= sim.close().then(() => log.info('simulator stopped'));
      return closing;
    },
  };
}
