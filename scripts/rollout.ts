/**
 * npm run rollout — generate tasks, play episodes against a model endpoint (default: the embedded reference policy),
 * score and reward them, write the run directory (Parquet + manifest), print a summary table.
 */
import fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { TASK_FAMILIES, willBeHostBacked } from '../tasks/index.ts';
import {
  connect,
  isBuiltinPolicy,
  resolveTaskSources,
  checkRecordedTaskFiles,
  type TaskFileRecord,
  runRollouts,
  parseShard,
  createProgressReporter,
  formatSummaryTable,
  RolloutConfigError,
  displayUrl,
  parseSubModelSpec,
  checkSubModelSpecs,
  withThinking,
  subModelEnv,
  MIN_COMPLETION_TOKENS,
  parseContextSizes,
  recordedSizes,
  type RolloutOptions,
  type EnvLimits,
  type SamplingParams,
  type Connection,
  type PolicyClient,
  type SubModel,
  type SubModelSpec,
} from '../rollouts/index.ts';
import { buildReward, computeReward, RewardSpecError } from '../rewards/index.ts';
import { RunWriter, readManifest, finishedEpisodeIds } from '../datasets/index.ts';
import { writeReport } from '../report/index.ts';
import { collect, fail, intArg, jsonObjectArg, numArg, strictCommand } from './cli.ts';

const FAMILIES = Object.keys(TASK_FAMILIES);

const program = strictCommand(new Command('rollout'))
  .description('Play RLM episodes against an OpenAI-compatible endpoint and write trajectories to Parquet.')
  .addOption(new Option('--model <id|alias>', "model id or alias (qwen3, qwen3-coder, llama3, …); 'reference' = built-in offline policy, 'baseline-code' = built-in code-only baseline (never sub-calls)").default('reference'))
  .addOption(new Option('--provider <name>', 'client library').choices(['openai', 'hf']).default('openai'))
  .option('--endpoint <url>', 'OpenAI-compatible base URL (repeat to share load); default $OPENAI_BASE_URL or http://localhost:8000/v1', collect, [])
  .option('--api-key-env <NAME>', 'environment variable holding the API key (default OPENAI_API_KEY, or HF_TOKEN with --provider hf)')
  .option('--sub-model <[name=]id[@endpoint]>', 'model answering llm_query (default: the root model); repeat as name=id@endpoint for named sub-models llm_query(prompt, "name")', collect)
  .option('--sub-endpoint <url>', 'endpoint of the sub-model (default: the first root endpoint)')
  .option('--task <family|all>', `task family, comma list, or all (${FAMILIES.join(', ')}); file:PATH = your tasks (JSON Lines or Parquet); ./my-family.ts = a task plugin`, 'all')
  .option('--n <count>', 'tasks per family (per size with several --context-tokens; default 2, a run of task files plays every row)', intArg('--n', 1), 2)
  .option('--seed <int>', 'run seed: task seeds are seed, seed+1, …; request seeds derive from it', intArg('--seed'), 1)
  .option('--context-tokens <sizes>', 'context size, a list (8192,16384) or a doubling range (2^13..2^18): --n tasks per family per size (default: each family’s default)', sizesArg)
  .addOption(new Option('--context-storage <mode>', 'where generated contexts live: auto = on disk (host-backed chunk files) above --host-context-threshold, memory = always a string, host = always on disk').choices(['auto', 'memory', 'host']).default('auto'))
  .option('--host-context-threshold <chars>', 'chars above which --context-storage auto stores a context on disk (default 67,108,864 = 64 Mi)', intArg('--host-context-threshold', 1))
  .option('--context-dir <dir>', 'directory for host-backed chunk files (kept, and reused when the same task is generated again); default: a temp dir per task, deleted after its episodes')
  .option('--task-options <json>', 'extra generator options, e.g. \'{"numDocs":200}\'', jsonObjectArg('--task-options'))
  .option('--group-size <G>', 'episodes per task (GRPO group)', intArg('--group-size', 1), 1)
  .option('--max-turns <int>', 'turns per episode', intArg('--max-turns', 1), 30)
  .option('--max-sub-calls <int>', 'sub-calls per episode', intArg('--max-sub-calls', 0), 500)
  .option('--max-root-tokens <int>', 'root tokens per episode (prompt+completion over turns)', intArg('--max-root-tokens', 1))
  .option('--max-episode-seconds <s>', 'wall time per episode', numArg('--max-episode-seconds', 1))
  .option('--cell-timeout <s>', 'CPU seconds per REPL cell', numArg('--cell-timeout', 0.1), 10)
  .option('--max-reply-chars <int>', 'replies longer than this are not run (error observation)', intArg('--max-reply-chars', 1), 200_000)
  .option('--max-cells-per-reply <int>', 'code blocks run per reply; later ones are skipped with a note', intArg('--max-cells-per-reply', 1), 20)
  .option('--max-turn-cpu <s>', 'CPU seconds all cells of one turn may use together', numArg('--max-turn-cpu', 0.1), 60)
  .option('--repl <language>', 'REPL language the model writes: js (isolated-vm) or python (Pyodide)', replArg, 'js')
  .option('--rlm-depth <int>', 'rlm_query recursion: 0 = a plain sub-call on prompt + subContext; n = child episodes played by the root model, n deep', intArg('--rlm-depth', 0), 0)
  .option('--concurrency <int>', 'episodes in flight', intArg('--concurrency', 1), 8)
  .option('--max-sub-concurrency <int>', 'concurrent sub-calls per episode', intArg('--max-sub-concurrency', 1), 16)
  .option('--temperature <t>', 'sampling temperature', numArg('--temperature', 0, 2), 0.7)
  .option('--top-p <p>', 'nucleus sampling', numArg('--top-p', 0, 1), 0.95)
  .option('--top-k <k>', 'top-k (vLLM extra param)', intArg('--top-k', 1))
  .option('--max-tokens <int>', 'max completion tokens per root turn', intArg('--max-tokens', 1), 4096)
  .option('--sub-max-tokens <int>', 'max completion tokens per sub-call', intArg('--sub-max-tokens', 1), 2048)
  .option('--stop <str>', 'stop sequence (repeatable)', collect)
  .option('--extra-body <json>', 'extra request fields, e.g. \'{"chat_template_kwargs":{"enable_thinking":false}}\'', jsonObjectArg('--extra-body'))
  .option('--logprobs', 'record token ids, logprobs and loss masks (vLLM logprobs + return_token_ids)', false)
  .addOption(new Option('--thinking <on|off>', 'Qwen3-style thinking: sends chat_template_kwargs.enable_thinking (--extra-body wins)').choices(['on', 'off']))
  .option('--keep-reasoning', "send earlier turns' reasoning back to the model (default: dropped, the Qwen3 convention)", false)
  .option('--max-model-len <int>', 'root context window in tokens (default: max_model_len from GET /v1/models)', intArg('--max-model-len', 1))
  .option('--sub-max-model-len <int>', 'sub-model context window in tokens (default: max_model_len from its GET /v1/models)', intArg('--sub-max-model-len', 1))
  .addOption(new Option('--context-policy <policy>', 'when the next request does not fit the window: truncate = end the episode (stop_reason context_window); drop-oldest = leave out the oldest turns').choices(['truncate', 'drop-oldest']).default('truncate'))
  .option('--request-timeout <s>', 'per-request timeout in seconds', numArg('--request-timeout', 1), 600)
  .option('--max-retries <int>', 'retries on 429/5xx/timeouts/resets', intArg('--max-retries', 0), 4)
  .option('--reward <spec>', 'reward: built-ins with weights and/or a module, e.g. accuracy,cost:-0.1 or ./my-reward.ts', 'accuracy')
  .option('--price-in <usd>', 'USD per 1M prompt tokens (enables cost)', numArg('--price-in', 0))
  .option('--price-out <usd>', 'USD per 1M completion tokens', numArg('--price-out', 0))
  .option('--max-cost <usd>', 'USD per episode before truncation (needs prices)', numArg('--max-cost', 0))
  .option('--out <dir>', 'run directory (default runs/<timestamp>-<model>-<task>)')
  .option('--resume <dir>', 'finish an interrupted run: plays only the episodes not yet recorded, with the run’s own settings')
  .option('--shard <i/N>', 'play a deterministic slice of the task groups (0-based), e.g. 0/8')
  .option('--flush-every <int>', 'episodes per Parquet part file', intArg('--flush-every', 1), 16)
  .option('--quiet', 'no progress output', false)
  .option('--report [file]', 'write the HTML report when the run ends (default <out>/report.html)')
  .addHelpText('after', `
Examples:
  npm run rollout                                         # offline: reference policy, every family, summary table
  npm run rollout -- --model qwen3 --task sniah --n 64 --concurrency 16 --out runs/x
  npm run rollout -- --task sniah --n 8 --context-tokens 2^13..2^18 --report   # a context-length sweep + its report
  npm run rollout -- --model qwen3 --thinking on --logprobs    # thinking model: reasoning recorded apart, windows from /v1/models
  npm run rollout -- --model qwen3 --sub-model fast=Qwen/Qwen3-0.6B@http://localhost:8001/v1 --sub-model big=Qwen/Qwen3-32B@http://localhost:8002/v1
  npm run rollout -- --repl python                        # the same offline run with a Python REPL (Pyodide)
  npm run rollout -- --resume runs/x                      # finish an interrupted run
  npm run rollout -- --task file:tasks.jsonl              # your own tasks (JSON Lines or Parquet), every row
  npm run rollout -- --task ./examples/my-family.ts       # a task plugin
  npm run rollout -- --model baseline-code                # the code-only baseline (never sub-calls)`);

program.parse();
const flags = program.opts();

async function main(): Promise<number> {
  // --resume replays the recorded settings; flags only supply connection details (endpoints, keys).
  let settings: Record<string, any> = { ...flags };
  let outDir: string;
  let resumedRunId: string | null = null;
  let rewardCwd = process.cwd();
  let recordedTaskFiles: TaskFileRecord[] | undefined;
  if (flags.resume) {
    // A resumed run keeps its recorded shape; only connection flags may change.
    const allowed = new Set(['resume', 'endpoint', 'apiKeyEnv', 'quiet', 'subEndpoint', 'requestTimeout', 'maxRetries', 'report']);
    const given = Object.keys(flags).filter((k) => program.getOptionValueSource(k) === 'cli' && !allowed.has(k));
    if (given.length) fail(`--resume plays the run's recorded settings; drop ${given.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')} (allowed with --resume: --endpoint, --api-key-env, --sub-endpoint, --request-timeout, --max-retries, --quiet)`, 2);
    outDir = path.resolve(flags.resume);
    const manifest = await readManifest(outDir).catch((e: Error) => fail(`--resume ${flags.resume}: ${e.message}`));
    const recorded = (manifest.config ?? {}) as Record<string, any>;
    resumedRunId = manifest.run_id;
    rewardCwd = manifest.cwd ?? rewardCwd; // a reward module path is relative to where the run started
    recordedTaskFiles = (manifest.extra as { task_files?: TaskFileRecord[] } | null)?.task_files;
    const fromCli = (k: string) => program.getOptionValueSource(k) === 'cli';
    settings = {
      ...recorded,
      endpoint: flags.endpoint.length ? flags.endpoint : recorded.endpoint,
      apiKeyEnv: flags.apiKeyEnv ?? recorded.apiKeyEnv,
      subEndpoint: flags.subEndpoint ?? recorded.subEndpoint,
      requestTimeout: fromCli('requestTimeout') ? flags.requestTimeout : recorded.requestTimeout,
      maxRetries: fromCli('maxRetries') ? flags.maxRetries : recorded.maxRetries,
      // The served id recorded for the run, so an alias cannot drift to another model on resume.
      model: isBuiltinPolicy(recorded.model) ? recorded.model : (manifest.models?.root ?? recorded.model),
      subModel: resumedSubModels(recorded.subModel, manifest.models as Record<string, unknown> | undefined),
      contextTokens: recordedSizes(recorded.contextTokens),
      quiet: flags.quiet,
      report: flags.report,
    };
  } else {
    outDir = path.resolve(flags.out ?? defaultOutDir(flags.model, flags.task, flags.shard));
  }

  // Built-in families, task files (file:PATH) and plugins (./family.ts); files are validated here, plugins registered.
  const nGiven = !!flags.resume || program.getOptionValueSource('n') === 'cli';
  const sources = await resolveTaskSources(String(settings.task), { cwd: rewardCwd, n: nGiven ? settings.n : null }).catch((e: Error) => fail(e.message, 2));
  const families = sources.families;
  settings.n = sources.n;
  if (flags.resume) tryOr(() => checkRecordedTaskFiles(recordedTaskFiles, sources.files), (e) => fail(e.message, 2));
  const shard = settings.shard ? tryOr(() => parseShard(settings.shard), (e) => fail(e.message, 2)) : undefined;
  // Host-backed contexts need the JavaScript REPL: say so before generating gigabytes (each family's own size estimate).
  if ((settings.repl ?? 'js') === 'python') {
    // As generateTask merges them: --task-options win over the placement flags.
    const placement = { contextStorage: settings.contextStorage ?? 'auto', hostContextThreshold: settings.hostContextThreshold ?? undefined, ...(settings.taskOptions ?? {}) };
    const sizes: (number | undefined)[] = settings.contextTokens?.length ? settings.contextTokens : [undefined];
    const host = families.flatMap((f) => sizes.filter((t) => tryOr(() => willBeHostBacked(f, { ...placement, ...(t === undefined ? {} : { contextTokens: t }) }), () => false)).map((t) => `${f} at ${t ?? 'its default'} tokens`));
    if (settings.contextStorage === 'host' || host.length > 0) {
      fail(`--repl python does not support host-backed contexts (${settings.contextStorage === 'host' ? '--context-storage host' : `${host[0]} would be stored on disk, above --host-context-threshold`}); use --repl js, or --context-storage memory (at most 20M tokens)`, 2);
    }
  }
  if (settings.model === 'baseline-code' && (settings.repl ?? 'js') !== 'js') fail('--model baseline-code writes JavaScript only; drop --repl python (or use --model reference)', 2);
  if (settings.maxCost != null && settings.priceIn == null) fail('--max-cost needs --price-in/--price-out', 2);
  if (settings.priceOut != null && settings.priceIn == null) fail('--price-out needs --price-in (USD per 1M prompt tokens)', 2);
  const reward = await buildReward(settings.reward, { cwd: rewardCwd }).catch((e: Error) => fail(e instanceof RewardSpecError ? e.message : `--reward: ${e.message}`, 2));

  const keyEnv = settings.apiKeyEnv ?? (settings.provider === 'hf' ? 'HF_TOKEN' : 'OPENAI_API_KEY');
  if (settings.apiKeyEnv && !process.env[keyEnv]) fail(`--api-key-env ${keyEnv}: that environment variable is not set`, 2);
  const apiKey = process.env[keyEnv] || undefined;

  if (!flags.resume) checkWritable(outDir);
  const retry = { maxRetries: settings.maxRetries };
  const timeoutMs = settings.requestTimeout * 1000;

  const root = await connect({ provider: settings.provider, model: settings.model, endpoints: settings.endpoint, apiKey, timeoutMs, retry, maxModelLen: settings.maxModelLen ?? null }).catch((e: Error) =>
    fail(e.message, e instanceof RolloutConfigError ? 2 : 1),
  );
  // Sub-models: none given = the root model; each `[name=]id[@endpoint]` gets its own connection and window.
  const specs: SubModelSpec[] = tryOr(() => {
    const list = (settings.subModel ?? []).map((v: string) => parseSubModelSpec(v));
    checkSubModelSpecs(list);
    return list;
  }, (e) => fail(e.message, 2));
  const subConnections: Connection[] = [];
  const subModels: SubModel[] = [];
  const closeAll = async () => {
    await root.close();
    for (const c of subConnections) await c.close();
  };
  try {
    if (specs.length === 0 && !settings.subEndpoint) {
      // The root's own client, copied so a --sub-max-model-len does not change the root's window.
      const c = Object.assign(Object.create(Object.getPrototypeOf(root.clients[0])), root.clients[0]) as PolicyClient;
      if (settings.subMaxModelLen) c.maxModelLen = settings.subMaxModelLen;
      subModels.push({ name: null, client: c });
    } else {
      for (const spec of specs.length ? specs : [{ name: null, model: isBuiltinPolicy(settings.model) ? settings.model : root.model, endpoint: null }]) {
        const endpoint = spec.endpoint ?? settings.subEndpoint ?? (isBuiltinPolicy(settings.model) && spec.model === settings.model ? undefined : root.reference ? undefined : root.clients[0].endpoint);
        const conn = await connect({
          provider: settings.provider,
          model: spec.model,
          endpoints: endpoint ? [endpoint] : undefined,
          apiKey,
          timeoutMs,
          retry,
          maxModelLen: settings.subMaxModelLen ?? null,
        });
        subConnections.push(conn);
        subModels.push({ name: spec.name, client: conn.clients[0] });
      }
    }
  } catch (e) {
    await closeAll();
    fail((e as Error).message, e instanceof RolloutConfigError ? 2 : 1);
  }
  const defaultSub = subModels.find((s) => s.name === null) ?? subModels[0];

  const sampling: Omit<SamplingParams, 'seed'> = {
    temperature: settings.temperature,
    top_p: settings.topP,
    max_tokens: settings.maxTokens,
    stop: settings.stop ?? null,
    top_k: settings.topK ?? null,
    logprobs: !!settings.logprobs,
    extra_body: withThinking(settings.extraBody, settings.thinking === undefined ? undefined : settings.thinking === 'on'),
  };
  const prices = settings.priceIn != null ? { inputPerM: settings.priceIn, outputPerM: settings.priceOut ?? settings.priceIn } : null;
  const envLimits: EnvLimits = {
    maxTurns: settings.maxTurns,
    maxSubCalls: settings.maxSubCalls,
    maxRootTokens: settings.maxRootTokens ?? null,
    maxWallMs: settings.maxEpisodeSeconds ? settings.maxEpisodeSeconds * 1000 : null,
    maxCostUsd: settings.maxCost ?? null,
    prices,
    sandbox: { cellCpuTimeoutMs: Math.round(settings.cellTimeout * 1000), maxSubConcurrency: settings.maxSubConcurrency },
    rlmDepth: settings.rlmDepth ?? 0,
    keepReasoning: !!settings.keepReasoning,
    maxReplyChars: settings.maxReplyChars ?? 200_000,
    maxCellsPerReply: settings.maxCellsPerReply ?? 20,
    maxTurnCpuMs: Math.round((settings.maxTurnCpu ?? 60) * 1000),
    repl: settings.repl ?? 'js',
  };
  // The sub-models' windows shape the system prompt and the sandbox's prompt limit: recorded so replay rebuilds them.
  Object.assign(envLimits, subModelEnv(subModels, settings.subMaxTokens, envLimits.sandbox));
  const runId = resumedRunId ?? path.basename(outDir);

  // What gets recorded: every setting, never the key (only the NAME of its variable).
  const config = { ...settings, resume: undefined, out: undefined, quiet: undefined, report: undefined };
  const writer = await RunWriter.open(outDir, {
    runId,
    flushEvery: settings.flushEvery,
    manifest: {
      command: ['npm', 'run', 'rollout', '--', ...process.argv.slice(2)],
      config,
      seed: settings.seed,
      shard: shard ?? null,
      endpoints: [
        ...root.served.map((s) => ({ role: 'root', url: root.reference ? 'reference (in-process)' : s.endpoint, served_models: s.models })),
        ...subConnections.flatMap((c, i) =>
          c.served.map((s) => ({ role: 'sub', name: subModels[i].name, url: c.reference ? 'reference (in-process)' : s.endpoint, served_models: s.models })),
        ),
      ],
      models: {
        root: root.model,
        sub: defaultSub.client.model,
        // Named sub-models as `sub:<name>` (the served id each name resolved to).
        ...Object.fromEntries(subModels.filter((s) => s.name !== null).map((s) => [`sub:${s.name}`, s.client.model])),
      },
      reward_spec: reward.spec,
      // What replay needs to rebuild each episode's env exactly (sandbox seed = deriveSeed(seed, episode_index, 0)).
      extra: {
        env: envLimits,
        task_files: sources.files,
        task_plugins: sources.plugins,
        context_window: {
          root: { max_model_len: root.maxModelLen, source: root.maxModelLenSource },
          sub: subModels.map((s, i) => ({
            name: s.name,
            model: s.client.model,
            max_model_len: s.client.maxModelLen,
            source: settings.subMaxModelLen ? 'flag' : s.client.maxModelLen !== null ? 'server' : null,
            prompt_counting: s.client.maxModelLen === null ? 'none' : s.client.exactCounts ? 'exact' : 'estimate',
            index: i,
          })),
          prompt_counting: promptCounting(root),
          context_policy: settings.contextPolicy ?? 'truncate',
          min_completion_tokens: MIN_COMPLETION_TOKENS,
          thinking: settings.thinking ?? null,
          keep_reasoning: !!settings.keepReasoning,
        },
      },
    },
  });
  const skip = flags.resume ? await finishedEpisodeIds(outDir) : undefined;

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n[rollout] ${sig}: no new episodes; running ones stop at their next turn. Press again to stop now.\n`);
      abort.abort();
    } else {
      process.stderr.write(`[rollout] ${sig} again: flushing and exiting.\n`);
      void writer.close({ status: 'interrupted' }).finally(() => process.exit(130));
    }
  };
  setMaxListeners(0, abort.signal);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const options: RolloutOptions = {
    runId,
    families,
    n: settings.n,
    seed: settings.seed,
    groupSize: settings.groupSize,
    taskOptions: settings.taskOptions ?? {},
    placement: {
      contextStorage: settings.contextStorage ?? 'auto',
      hostContextThreshold: settings.hostContextThreshold ?? undefined,
      contextDir: settings.contextDir ? path.resolve(rewardCwd, settings.contextDir) : undefined,
    },
    contextTokens: settings.contextTokens,
    shard,
    skip,
    policies: root.clients,
    subModels,
    contextPolicy: settings.contextPolicy ?? 'truncate',
    sampling,
    subSampling: { ...sampling, logprobs: false, max_tokens: settings.subMaxTokens },
    env: envLimits,
    concurrency: settings.concurrency,
    reward: (ep) => computeReward(reward, ep),
    onEpisode: (ep) => writer.add(ep),
    signal: abort.signal,
  };

  const progress: { reporter: ReturnType<typeof createProgressReporter> | null } = { reporter: null };
  let result;
  try {
    result = await runRollouts({
      ...options,
      onStart: () => {
        process.stderr.write(
          `[rollout] ${families.join(', ')} · ${settings.n} task(s) each${sizesNote(settings.contextTokens)} × group ${settings.groupSize}${shard ? ` · shard ${shard.index}/${shard.count}` : ''} · model ${root.model}` +
            `${root.reference ? ' (reference, in-process)' : ` @ ${root.clients.map((c) => displayUrl(c.endpoint)).join(', ')}`} → ${shown(outDir)}\n`,
        );
        if (root.maxModelLen !== null && !root.exactCounts) {
          process.stderr.write(`[rollout] context window ${root.maxModelLen} tokens; the server has no /tokenize, so prompts are counted by a conservative estimate (recorded in the manifest)\n`);
        }
      },
      onProgress: (p) => {
        if (settings.quiet) return;
        progress.reporter ??= createProgressReporter(p.total);
        progress.reporter.update(p);
      },
    });
  } catch (e) {
    progress.reporter?.stop();
    await writer.close({ status: 'failed' }).catch(() => undefined);
    await closeAll();
    if (e instanceof RolloutConfigError) {
      if (!flags.resume && writer.written === 0) fs.rmSync(outDir, { recursive: true, force: true }); // nothing to keep
      return fail(e.message, 2);
    }
    return fail(`run failed: ${(e as Error).message}`);
  }
  progress.reporter?.stop();
  const interrupted = abort.signal.aborted;
  await writer.close({ status: interrupted ? 'interrupted' : 'completed', interrupted_episodes: result.interrupted });
  await closeAll();

  if (result.byFamily.length) process.stdout.write(`\n${formatSummaryTable(result.byFamily, prices !== null)}\n`);
  process.stdout.write(
    `\n${result.completed} episode(s) in ${(result.wallMs / 1000).toFixed(1)} s written to ${shown(outDir)}` +
      `${result.skipped ? ` (${result.skipped} already recorded)` : ''}${result.interrupted.length ? `; ${result.interrupted.length} not played — finish with: npm run rollout -- --resume ${shown(outDir)}` : ''}\n`,
  );
  if (!interrupted) await reportStep(outDir, shard, settings.report);
  if (interrupted) return 130;
  if (result.completed > 0 && result.failed === result.completed) {
    process.stderr.write(`error: every episode failed; the first error: ${result.firstError}\n`);
    return 1;
  }
  return 0;
}

function sizesArg(v: string): number[] {
  try {
    return parseContextSizes(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function sizesNote(sizes: number[] | undefined): string {
  return sizes && sizes.length > 1 ? ` at ${sizes.length} sizes (${sizes.join(', ')} tokens)` : '';
}

/** With --report, write the run's report; else print the command that does. A sharded run's report covers its shards. */
async function reportStep(outDir: string, shard: { index: number; count: number } | undefined, report: string | boolean | undefined): Promise<void> {
  const target = shard ? path.join(path.dirname(outDir), '*') : outDir;
  if (!report) {
    process.stdout.write(`report: npm run report -- ${shown(target)}${shard ? '   (once every shard has finished)' : ''}\n`);
    return;
  }
  const out = typeof report === 'string' ? path.resolve(report) : path.join(outDir, 'report.html');
  try {
    const r = await writeReport([outDir], { out });
    process.stdout.write(`report: ${shown(r.out)} (${(r.bytes / 1e6).toFixed(1)} MB)${shard ? ` — this shard only; all shards: npm run report -- ${shown(target)}` : ''}\n`);
  } catch (e) {
    process.stderr.write(`warning: the run is complete but its report failed: ${(e as Error).message}\n`);
  }
}

function defaultOutDir(model: string, task: string, shard?: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const run = path.join('runs', `${stamp}-${model.replace(/[^\w.-]+/g, '_')}-${task.replace(/[^\w.-]+/g, '_')}`);
  // Shards never share a directory (one writer per run dir); DuckDB globs them all: runs/x/*/episodes/*.parquet
  return shard ? path.join(run, `shard-${shard.replace('/', '-of-')}`) : run;
}

/** A path as the user would type it: relative when under the cwd, absolute otherwise. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

function checkWritable(dir: string): void {
  if (fs.existsSync(path.join(dir, 'manifest.json'))) fail(`--out ${dir} already holds a run; use --resume ${dir} to finish it, or pick another --out`, 2);
  let probe = dir;
  while (!fs.existsSync(probe)) probe = path.dirname(probe);
  // access(W_OK) says yes to root everywhere (even /proc): create and remove a real entry instead.
  const entry = path.join(probe, `.rlm-gym-probe-${process.pid}`);
  try {
    fs.mkdirSync(entry);
    fs.rmdirSync(entry);
  } catch (e) {
    fail(`--out ${dir} is not writable (${probe}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 2);
  }
}

/** How root prompts are counted, as the manifest states it. */
function promptCounting(root: Connection): string {
  if (root.maxModelLen === null) return "none: no context window known (max_tokens is not clamped; the server's length error still ends an episode as context_window)";
  if (root.exactCounts) return 'exact: the server tokenizes each request (POST /tokenize with the chat messages and template)';
  return `estimate: the server has no /tokenize; o200k tokens × 1.25 + 8 per message + 8 (conservative), max_tokens clamped to the window, ${MIN_COMPLETION_TOKENS} completion tokens at least`;
}

/** --sub-model values of a resumed run, with aliases replaced by the ids the run was served. */
function resumedSubModels(recorded: unknown, models: Record<string, unknown> | undefined): string[] | undefined {
  const list = recorded === undefined || recorded === null ? [] : Array.isArray(recorded) ? (recorded as string[]) : [String(recorded)];
  if (list.length === 0) return undefined;
  return list.map((v) => {
    const spec = parseSubModelSpec(v);
    const id = (spec.name !== null ? models?.[`sub:${spec.name}`] : models?.sub) as string | undefined;
    if (!id) return v;
    return `${spec.name !== null ? `${spec.name}=` : ''}${id}${spec.endpoint ? `@${spec.endpoint}` : ''}`;
  });
}

function tryOr<T>(f: () => T, onError: (e: Error) => T): T {
  try {
    return f();
  } catch (e) {
    return onError(e as Error);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => fail((e as Error)?.stack ?? String(e)),
);

function replArg(v: string): 'js' | 'python' {
  if (v === 'js' || v === 'python') return v;
  fail(`--repl must be js or python, got ${JSON.stringify(v)}`, 2);
}
