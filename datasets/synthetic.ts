/**
 * Deterministic synthetic EpisodeRecords for tests, benchmarks and smoke-testing a trainer pipeline without running a
 * policy. Several task families, GRPO groups, nested sub-calls, optional token ids/logprobs, unicode, nulls.
 */
import type { Message, StepRecord } from '../env/types.ts';
import type { SubCallRecord } from '../env/sandbox/types.ts';
import type { EpisodeRecord, SamplingParams } from '../rollouts/types.ts';

export interface SyntheticOptions {
  runId?: string;
  /** Number of episodes. */
  n: number;
  /** Episodes per GRPO group (same task). Default 4. */
  groupSize?: number;
  /** Record token ids/logprobs: true = all episodes, false = none, 'some' = every other group. Default false. */
  tokens?: boolean | 'some';
  /** Turns per episode: min..max. Default [1, 4]. */
  turns?: [number, number];
  /** Sub-calls per turn: 0..max. Default 3. */
  maxSubCalls?: number;
  /** Approximate chars per reply/observation/sub-call text (bench: larger). Default 200. */
  textChars?: number;
  seed?: number;
  /** First episode index. Default 0. */
  startIndex?: number;
}

const FAMILIES = ['sniah', 'oolong', 'oolong-pairs', 'browsecomp'];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function text(r: () => number, chars: number, tag: string): string {
  const words = ['context', 'needle', 'llm_query', 'chunk', 'answer', 'user', 'label', 'é', '数据', 'FINAL', 'count', '🙂'];
  let s = tag;
  while (s.length < chars) s += ' ' + words[Math.floor(r() * words.length)];
  return s;
}

export function syntheticEpisode(index: number, opts: SyntheticOptions): EpisodeRecord {
  const groupSize = opts.groupSize ?? 4;
  const group = Math.floor(index / groupSize);
  const r = rng((opts.seed ?? 1) * 1_000_003 + index * 7919 + 17);
  const family = FAMILIES[group % FAMILIES.length];
  const runId = opts.runId ?? 'synthetic';
  const [tmin, tmax] = opts.turns ?? [1, 4];
  const nTurns = tmin + Math.floor(r() * (tmax - tmin + 1));
  const chars = opts.textChars ?? 200;
  const tokens = opts.tokens === true || (opts.tokens === 'some' && group % 2 === 0);
  const truncated = r() < 0.15;
  const terminated = !truncated;
  const correct = terminated && r() < 0.6;
  const score = correct ? 1 : terminated ? Math.round(r() * 50) / 100 : 0;
  const gold = `gold-${group}`;
  const finalAnswer = terminated ? (correct ? gold : `guess-${index}`) : null;

  const system = `You are an RLM. ${text(r, Math.min(chars, 400), 'system')}`;
  const question = `Question ${group} (${family}): what is the magic number?`;
  const messages: Message[] = [
    { role: 'system', content: system },
    { role: 'user', content: `${question}\nThe context is a string of ${1000 * (group + 1)} chars.` },
  ];
  const steps: StepRecord[] = [];
  let promptIds: number[] = Array.from({ length: 20 + (group % 5) }, (_, k) => 1000 + ((group * 31 + k) % 5000));
  let subTotal = 0;
  let subP = 0;
  let subC = 0;
  let rootP = 0;
  let rootC = 0;
  for (let t = 0; t < nTurns; t++) {
    const last = t === nTurns - 1;
    const noCode = r() < 0.1 && !last;
    const code = noCode ? [] : [`const x${t} = context.slice(0, ${100 * (t + 1)});\nprint(x${t}.length)`, ...(r() < 0.3 ? ['print(SHOW_VARS())'] : [])];
    if (last && terminated && code.length) code.push(`FINAL(${JSON.stringify(finalAnswer)})`);
    const reply = noCode
      ? text(r, chars, `I think about turn ${t}.`)
      : `${text(r, chars / 2, `Turn ${t}.`)}\n\`\`\`repl\n${code.join('\n')}\n\`\`\``;
    const nSub = Math.floor(r() * ((opts.maxSubCalls ?? 3) + 1));
    const subCalls: SubCallRecord[] = Array.from({ length: nSub }, (_, k) => {
      const pt = 50 + Math.floor(r() * 500);
      const ct = 5 + Math.floor(r() * 50);
      subP += pt;
      subC += ct;
      return {
        prompt: text(r, chars, `chunk ${k}:`),
        response: text(r, Math.max(8, chars / 4), 'resp'),
        model: 'sub-model',
        prompt_tokens: pt,
        completion_tokens: ct,
        latency_ms: Math.round(r() * 2000 * 100) / 100,
        error: r() < 0.1 ? 'RateLimitError: 429' : null,
        finish_reason: 'stop',
      };
    });
    subTotal += nSub;
    const observation = last && terminated ? '' : text(r, chars, `out ${t}:`);
    const completionLen = 10 + Math.floor(r() * 30);
    const completionIds = Array.from({ length: completionLen }, (_, k) => 2000 + ((index * 13 + t * 7 + k) % 30000));
    const pTok = promptIds.length;
    rootP += pTok;
    rootC += completionLen;
    steps.push({
      turn: t + 1,
      reply,
      code_cells: code,
      observation,
      cell_errors: r() < 0.2 ? ['TypeError: x is not a function'] : [],
      duration_ms: Math.round(r() * 500 * 1000) / 1000,
      sub_calls: subCalls,
      prompt_tokens: pTok,
      completion_tokens: completionLen,
      prompt_token_ids: tokens ? promptIds.slice() : null,
      completion_token_ids: tokens ? completionIds : null,
      completion_logprobs: tokens ? completionIds.map((_, k) => -Math.round(r() * 3 * 1e6) / 1e6 - (k % 2) * 0.001) : null,
      loss_mask: tokens ? completionIds.map(() => 1) : null,
      reasoning: r() < 0.3 ? text(r, Math.max(8, chars / 2), `Thinking about turn ${t}:`) : null,
      finish_reason: r() < 0.1 ? 'length' : 'stop',
      max_tokens: 2048,
      dropped_turns: 0,
    });
    messages.push({ role: 'assistant', content: reply });
    if (!(last && terminated)) messages.push({ role: 'user', content: observation });
    // Next prompt = previous prompt + completion + env tokens (append-only template).
    const envIds = Array.from({ length: 5 + (t % 3) }, (_, k) => 500 + ((t * 11 + k) % 100));
    promptIds = [...promptIds, ...completionIds, ...envIds];
  }
  const sampling: SamplingParams = {
    temperature: 0.7,
    top_p: 0.95,
    max_tokens: 2048,
    stop: null,
    top_k: 20,
    seed: index,
    logprobs: tokens,
    extra_body: { chat_template_kwargs: { enable_thinking: false } },
  };
  const accuracy = score;
  const cost = (rootP + rootC + subP + subC) / 1e6;
  return {
    run_id: runId,
    episode_id: String(index).padStart(6, '0'),
    episode_index: index,
    group_id: `g${String(group).padStart(4, '0')}`,
    task_family: family,
    task_id: `${family}-${group.toString(16).padStart(8, '0')}`,
    seed: 1000 + group,
    task_options: JSON.stringify({ contextTokens: 1000 * (group + 1), seed: 1000 + group }),
    question,
    gold_answer: gold,
    final_answer: finalAnswer,
    score,
    correct,
    reward: accuracy - 0.1 * cost,
    reward_components: { accuracy, cost },
    reward_error: null,
    turns: nTurns,
    terminated,
    truncated,
    stop_reason: truncated ? 'max_turns' : 'final',
    error: null,
    root_prompt_tokens: rootP,
    root_completion_tokens: rootC,
    sub_calls: subTotal,
    sub_prompt_tokens: subP,
    sub_completion_tokens: subC,
    cost_usd: 0,
    wall_ms: Math.round(r() * 60_000 * 1000) / 1000,
    context_chars: 1000 * (group + 1),
    context_tokens: 250 * (group + 1),
    root_model: 'Qwen/Qwen3-8B',
    sub_model: 'Qwen/Qwen3-8B',
    sampling_params: JSON.stringify(sampling),
    score_details: JSON.stringify({ match: correct, note: 'synthetic' }),
    messages,
    steps,
    completion_truncated: steps.some((s) => s.finish_reason === 'length'),
  };
}

/** `n` deterministic synthetic episodes (indices startIndex .. startIndex+n-1). */
export function syntheticEpisodes(opts: SyntheticOptions): EpisodeRecord[] {
  const start = opts.startIndex ?? 0;
  return Array.from({ length: opts.n }, (_, i) => syntheticEpisode(start + i, opts));
}
