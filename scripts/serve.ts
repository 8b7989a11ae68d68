/**
 * npm run serve — the env server for Python trainers: RLMEnv sessions over HTTP (/v1/sessions) and OpenEnv's WebSocket
 * (/ws), sub-calls answered here by --sub-model, optional recording of finished sessions to a run directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { TASK_FAMILY_NAMES } from '../tasks/index.ts';
import { checkSubModelSpecs, connect, displayUrl, parseSubModelSpec, RolloutConfigError, type Connection, type SubModel } from '../rollouts/index.ts';
import { buildReward, RewardSpecError } from '../rewards/index.ts';
import { startEnvServer, ServerConfigError, DEFAULT_LIMITS, type EnvServer } from '../server/index.ts';
import { collect, fail, intArg, jsonObjectArg, numArg, strictCommand } from './cli.ts';

const program = strictCommand(new Command('serve'))
  .description('Serve RLMEnv sessions to Python trainers: a stateful HTTP JSON API (/v1/sessions) and OpenEnv\'s WebSocket protocol (/ws, /health, /metadata, /schema).')
  .option('--port <port>', 'port (0 = any free port)', intArg('--port', 0), 8100)
  .option('--host <host>', 'interface to bind; anything but loopback needs --token-env', '127.0.0.1')
  .option('--token-env <NAME>', 'environment variable holding the bearer token clients must send (required off loopback)')
  .option('--max-sessions <n>', 'open sessions at once (HTTP sessions not finished + open WebSockets); more = 429', intArg('--max-sessions', 1), 256)
  .option('--idle-timeout <s>', 'seconds without a request before a session is closed and its sandbox freed', numArg('--idle-timeout', 0.05), 600)
  .option('--max-body-mb <mb>', 'request body / WebSocket message cap in MB (413 beyond)', numArg('--max-body-mb', 0.001), 4)
  .option('--workers <n>', 'sandbox worker processes (default: min(cores, 4))', intArg('--workers', 1))
  .option('--drain-timeout <s>', 'on SIGTERM, how long in-flight steps may finish before sessions close', numArg('--drain-timeout', 0), 60)
  .option('--task <family|all>', `families sessions may ask for, comma list or all (${TASK_FAMILY_NAMES.join(', ')}); the first is the default`, 'all')
  .option('--context-tokens <int>', 'default context size of a session’s task (default: each family’s default)', intArg('--context-tokens', 100))
  .option('--task-options <json>', 'default generator options, e.g. \'{"numDocs":200}\'', jsonObjectArg('--task-options'))
  .option('--max-context-tokens <int>', 'largest context a session may ask for', intArg('--max-context-tokens', 100), DEFAULT_LIMITS.maxContextTokens)
  .option('--max-turns <int>', 'turns per episode (sessions may lower)', intArg('--max-turns', 1), DEFAULT_LIMITS.maxTurns)
  .option('--max-sub-calls <int>', 'sub-calls per episode (sessions may lower)', intArg('--max-sub-calls', 0), DEFAULT_LIMITS.maxSubCalls)
  .option('--max-root-tokens <int>', 'root tokens per episode (prompt+completion over turns)', intArg('--max-root-tokens', 1))
  .option('--max-episode-seconds <s>', 'wall time per episode', numArg('--max-episode-seconds', 1))
  .option('--cell-timeout <s>', 'CPU seconds per REPL cell', numArg('--cell-timeout', 0.1), DEFAULT_LIMITS.cellTimeoutS)
  .option('--cell-wall-timeout <s>', 'wall seconds per REPL cell (covers blocked sub-calls)', numArg('--cell-wall-timeout', 0.1), DEFAULT_LIMITS.cellWallTimeoutS)
  .option('--max-sub-concurrency <int>', 'concurrent sub-calls per episode', intArg('--max-sub-concurrency', 1), DEFAULT_LIMITS.maxSubConcurrency)
  .option('--max-output-chars <int>', 'REPL output shown per cell', intArg('--max-output-chars', 100), DEFAULT_LIMITS.maxOutputChars)
  .option('--price-in <usd>', 'USD per 1M prompt tokens (enables cost)', numArg('--price-in', 0))
  .option('--price-out <usd>', 'USD per 1M completion tokens', numArg('--price-out', 0))
  .option('--max-cost <usd>', 'USD per episode before truncation (needs prices)', numArg('--max-cost', 0))
  .option('--sub-model <[name=]id[@endpoint]>', "model answering llm_query: an alias (qwen3, llama3, …) or served id; repeat as name=id@endpoint for named sub-models llm_query(prompt, \"name\"); default 'reference' (built-in, offline); 'none' = sub-calls fail", collect)
  .option('--sub-endpoint <url>', 'OpenAI-compatible base URL of the sub-model(s); default $OPENAI_BASE_URL or http://localhost:8000/v1')
  .option('--sub-max-model-len <int>', 'sub-model context window in tokens (default: max_model_len from its GET /v1/models)', intArg('--sub-max-model-len', 1))
  .addOption(new Option('--provider <name>', 'client library').choices(['openai', 'hf']).default('openai'))
  .option('--api-key-env <NAME>', 'environment variable holding the sub-model API key (default OPENAI_API_KEY, or HF_TOKEN with --provider hf)')
  .option('--temperature <t>', 'sub-call sampling temperature', numArg('--temperature', 0, 2), 0.7)
  .option('--top-p <p>', 'sub-call nucleus sampling', numArg('--top-p', 0, 1), 0.95)
  .option('--top-k <k>', 'sub-call top-k (vLLM extra param)', intArg('--top-k', 1))
  .option('--sub-max-tokens <int>', 'max completion tokens per sub-call', intArg('--sub-max-tokens', 1), 2048)
  .option('--extra-body <json>', 'extra sub-call request fields, e.g. \'{"chat_template_kwargs":{"enable_thinking":false}}\'', jsonObjectArg('--extra-body'))
  .option('--request-timeout <s>', 'per sub-call request timeout in seconds', numArg('--request-timeout', 1), 600)
  .option('--max-retries <int>', 'sub-call retries on 429/5xx/timeouts/resets', intArg('--max-retries', 0), 4)
  .option('--reward <spec>', 'terminal reward: built-ins with weights and/or a module, e.g. accuracy,cost:-0.1', 'accuracy')
  .option('--out <dir>', 'record every finished session to this run directory (episodes, steps, manifest)')
  .option('--flush-every <int>', 'episodes per Parquet part file (also flushed every 10 s and on shutdown)', intArg('--flush-every', 1), 16)
  .addOption(new Option('--repl <lang>', 'REPL language of sessions that do not choose one (reset "repl"): js (isolated-vm) or python (Pyodide)').choices(['js', 'python']).default('js'))
  .addHelpText('after', `
Routes:
  POST /v1/sessions {task, seed, options, budgets}   GET|DELETE /v1/sessions/{id}   POST /v1/sessions/{id}/step {reply, usage?}
  WebSocket /ws (OpenEnv: reset / step / state / close)   GET /health /metadata /schema /v1/stats

Examples:
  npm run serve -- --port 8100                                   # offline: reference sub-model, loopback only
  npm run serve -- --sub-model qwen3 --sub-endpoint http://localhost:8000/v1 --out runs/online
  RLM_GYM_TOKEN=… npm run serve -- --host 0.0.0.0 --token-env RLM_GYM_TOKEN --max-turns 20`);

program.parse();
const flags = program.opts();

async function main(): Promise<void> {
  const families = flags.task === 'all' ? [...TASK_FAMILY_NAMES] : String(flags.task).split(',').map((s: string) => s.trim());
  for (const f of families) if (!TASK_FAMILY_NAMES.includes(f)) fail(`unknown task '${f}'; valid: ${TASK_FAMILY_NAMES.join(', ')}, all`, 2);
  if (flags.maxCost != null && flags.priceIn == null) fail('--max-cost needs --price-in/--price-out', 2);
  if (flags.priceOut != null && flags.priceIn == null) fail('--price-out needs --price-in (USD per 1M prompt tokens)', 2);
  let token: string | null = null;
  if (flags.tokenEnv) {
    token = process.env[flags.tokenEnv] ?? null;
    if (!token) fail(`--token-env ${flags.tokenEnv}: that environment variable is not set or empty`, 2);
  }
  const reward = await buildReward(flags.reward).catch((e: Error) => fail(e instanceof RewardSpecError ? e.message : `--reward: ${e.message}`, 2));
  const outDir = flags.out ? path.resolve(flags.out) : null;
  if (outDir && fs.existsSync(path.join(outDir, 'manifest.json'))) fail(`--out ${flags.out} already holds a run; pick another --out`, 2);

  // Sub-models: `[name=]id[@endpoint]`, each its own connection and window (as rollout's --sub-model); 'none' = no sub-calls.
  const values: string[] = flags.subModel ?? ['reference'];
  const none = values.length === 1 && values[0] === 'none';
  let specs;
  try {
    specs = none ? [] : values.map((v) => parseSubModelSpec(v));
    checkSubModelSpecs(specs);
  } catch (e) {
    return fail((e as Error).message, 2);
  }
  const keyEnv = flags.apiKeyEnv ?? (flags.provider === 'hf' ? 'HF_TOKEN' : 'OPENAI_API_KEY');
  if (flags.apiKeyEnv && !process.env[keyEnv]) fail(`--api-key-env ${keyEnv}: that environment variable is not set`, 2);
  const connections: Connection[] = [];
  const subModels: SubModel[] = [];
  for (const spec of specs) {
    const endpoint = spec.endpoint ?? flags.subEndpoint;
    const conn = await connect({
      provider: flags.provider,
      model: spec.model,
      endpoints: endpoint && spec.model !== 'reference' ? [endpoint] : undefined,
      apiKey: process.env[keyEnv] || undefined,
      timeoutMs: flags.requestTimeout * 1000,
      retry: { maxRetries: flags.maxRetries },
      maxModelLen: flags.subMaxModelLen ?? null,
    }).catch(async (e: Error) => {
      for (const c of connections) await c.close();
      return fail(e.message, e instanceof RolloutConfigError ? 2 : 1);
    });
    connections.push(conn);
    subModels.push({ name: spec.name, client: conn.clients[0] });
  }
  const closeSubs = async () => {
    for (const c of connections) await c.close();
  };
  const sampling = {
    temperature: flags.temperature,
    top_p: flags.topP,
    max_tokens: flags.subMaxTokens,
    stop: null,
    top_k: flags.topK ?? null,
    logprobs: false,
    extra_body: flags.extraBody ?? null,
  };
  const prices = flags.priceIn != null ? { inputPerM: flags.priceIn, outputPerM: flags.priceOut ?? flags.priceIn } : null;

  let server: EnvServer;
  try {
    server = await startEnvServer({
      host: flags.host,
      port: flags.port,
      token,
      maxSessions: flags.maxSessions,
      workers: flags.workers,
      idleTimeoutMs: Math.round(flags.idleTimeout * 1000),
      maxBodyBytes: Math.round(flags.maxBodyMb * 1024 * 1024),
      drainTimeoutMs: Math.round(flags.drainTimeout * 1000),
      families,
      taskOptions: { ...(flags.taskOptions ?? {}), ...(flags.contextTokens ? { contextTokens: flags.contextTokens } : {}) },
      limits: {
        maxTurns: flags.maxTurns,
        maxSubCalls: flags.maxSubCalls,
        maxRootTokens: flags.maxRootTokens ?? null,
        maxEpisodeSeconds: flags.maxEpisodeSeconds ?? null,
        maxCostUsd: flags.maxCost ?? null,
        cellTimeoutS: flags.cellTimeout,
        cellWallTimeoutS: flags.cellWallTimeout,
        maxSubConcurrency: flags.maxSubConcurrency,
        maxOutputChars: flags.maxOutputChars,
        maxContextTokens: flags.maxContextTokens,
        prices,
      },
      sub: subModels.length ? { models: subModels, sampling } : null,
      reward,
      repl: flags.repl,
      record: outDir
        ? {
            dir: outDir,
            flushEvery: flags.flushEvery,
            manifest: {
              command: ['npm', 'run', 'serve', '--', ...process.argv.slice(2)],
              // Every setting, never a secret (only the NAMES of the variables holding them).
              config: { ...flags, out: undefined },
              seed: null,
              endpoints: connections.flatMap((c, i) =>
                c.served.map((s) => ({ role: 'sub', name: subModels[i].name, url: c.reference ? 'reference (in-process)' : s.endpoint, served_models: s.models })),
              ),
              models: {
                root: 'external (the client)',
                sub: subModels.find((s) => s.name === null)?.client.model ?? subModels[0]?.client.model ?? 'none',
                ...Object.fromEntries(subModels.filter((s) => s.name !== null).map((s) => [`sub:${s.name}`, s.client.model])),
              },
              reward_spec: reward.spec,
            },
          }
        : null,
    });
  } catch (e) {
    await closeSubs();
    return fail((e as Error).message, e instanceof ServerConfigError ? 2 : 1);
  }

  const ws = server.url.replace(/^http/, 'ws');
  process.stderr.write(
    `[serve] rlm-gym env server at ${server.url} — HTTP ${server.url}/v1/sessions, OpenEnv ${ws}/ws\n` +
      `[serve] tasks ${families.join(', ')} · sub-model ${subModels.length ? connections.map((c, i) => `${subModels[i].name ? `${subModels[i].name}=` : ''}${c.model}${c.reference ? ' (reference, in-process)' : ` @ ${displayUrl(c.clients[0].endpoint)}`}`).join(', ') : 'none'}` +
      ` · max ${flags.maxSessions} sessions · ${token ? 'token required' : 'no token (loopback)'}${outDir ? ` · recording to ${shown(outDir)}` : ''}\n`,
  );

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) {
      process.stderr.write(`[serve] ${sig} again: exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`[serve] ${sig}: draining (no new sessions; in-flight steps finish; sessions close)\n`);
    void server
      .close()
      .then(() => closeSubs())
      .then(
        () => {
          const c = server.sessions.counters;
          process.stderr.write(`[serve] stopped: ${c.created} session(s), ${c.finished} finished episode(s)${outDir ? ` recorded in ${shown(outDir)}` : ''}\n`);
          process.exit(0);
        },
        (e: Error) => fail(`shutdown failed: ${e.message}`),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

main().catch((e) => fail((e as Error)?.stack ?? String(e)));
