/**
 * Sub-models: who answers llm_query / llm_query_batched. `--sub-model` may be repeated as `name=id@endpoint`;
 * `llm_query(prompt, "name")` routes to that one, an unknown name is an error the model sees, and a call without a name
 * goes to the default (the unnamed `--sub-model`, else the first named one). Without names the second argument is
 * ignored, as before. Each call is fitted into its sub-model's window: a prompt that cannot fit is refused with a clear
 * error (nothing is sent, the model can chunk smaller), `max_tokens` is clamped, and the server's own length error
 * becomes the same clear error instead of an HTTP failure.
 */
import type { SubCallHandler, SubCallRequest, SubCallResponse } from '../env/sandbox/types.ts';
import type { SubModelInfo } from '../env/rlm-env.ts';
import { splitReasoning } from '../env/reasoning.ts';
import type { PolicyClient } from './client.ts';
import { CHARS_PER_TOKEN, MIN_COMPLETION_TOKENS, estimatePromptTokens } from './context-window.ts';
import { ContextWindowExceededError, RolloutConfigError, UnknownSubModelError } from './errors.ts';
import type { SamplingParams } from './types.ts';

export interface SubModelSpec {
  /** null = the default, unnamed sub-model. */
  name: string | null;
  /** Model id or alias. */
  model: string;
  /** Endpoint; null = the default sub endpoint (--sub-endpoint, else the first root endpoint). */
  endpoint: string | null;
}

const SPEC = /^(?:([A-Za-z_][\w.-]{0,63})=)?([^@=\s]+)(?:@(\S+))?$/;

/** `id`, `id@endpoint`, `name=id` or `name=id@endpoint`. Throws RolloutConfigError with the accepted forms. */
export function parseSubModelSpec(value: string): SubModelSpec {
  const m = SPEC.exec(value.trim());
  if (!m) throw new RolloutConfigError(`--sub-model '${value}': expected id, id@endpoint, name=id or name=id@endpoint (e.g. fast=Qwen/Qwen3-0.6B@http://localhost:8001/v1)`);
  return { name: m[1] ?? null, model: m[2], endpoint: m[3] ?? null };
}

/** Checks a list of specs: at most one unnamed, names unique. */
export function checkSubModelSpecs(specs: readonly SubModelSpec[]): void {
  if (specs.filter((s) => s.name === null).length > 1) throw new RolloutConfigError('--sub-model: at most one unnamed sub-model (the default); give the others names: name=id@endpoint');
  const names = specs.map((s) => s.name).filter((n): n is string => n !== null);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new RolloutConfigError(`--sub-model: the name '${dup}' is used twice`);
}

export interface SubModel {
  name: string | null;
  client: PolicyClient;
}

export class SubModelRouter {
  readonly named: boolean;
  private readonly byName = new Map<string, SubModel>();
  readonly fallback: SubModel;

  constructor(readonly subs: readonly SubModel[]) {
    if (subs.length === 0) throw new RolloutConfigError('at least one sub-model is needed');
    for (const s of subs) if (s.name !== null) this.byName.set(s.name, s);
    this.named = this.byName.size > 0;
    this.fallback = subs.find((s) => s.name === null) ?? subs[0];
  }

  /** The sub-model for llm_query's second argument. Unknown names throw UnknownSubModelError (shown to the model). */
  resolve(name: string | undefined): SubModel {
    if (!this.named || name === undefined || name === '') return this.fallback;
    const s = this.byName.get(name);
    if (!s) throw new UnknownSubModelError(`unknown sub-model "${name}"; available: ${[...this.byName.keys()].map((n) => `"${n}"`).join(', ')}${this.subs.some((x) => x.name === null) ? ' (or no name for the default)' : ''}`);
    return s;
  }

  /** What the system prompt says about them (windows in chars: window − the answer's max_tokens, × CHARS_PER_TOKEN). */
  info(answerTokens: number): SubModelInfo[] {
    return this.subs.map((s) => ({
      name: s.name,
      model: s.client.model,
      maxModelLen: s.client.maxModelLen,
      maxPromptChars: s.client.maxModelLen !== null ? promptCharsFor(s.client.maxModelLen, answerTokens) : null,
    }));
  }
}

/**
 * What the env is told about the sub-models (system prompt) and the sandbox's per-prompt limit that follows from their
 * windows (unless set explicitly). Recorded with the env limits, so replay rebuilds the same system prompt.
 */
export function subModelEnv<S extends { maxSubPromptChars?: number }>(
  subs: readonly SubModel[],
  answerTokens: number,
  sandbox: S | undefined,
): { subModels: SubModelInfo[]; sandbox: S | undefined } {
  const info = new SubModelRouter(subs).info(answerTokens);
  const chars = info.map((s) => s.maxPromptChars).filter((n): n is number => n !== null);
  const bound = sandbox?.maxSubPromptChars === undefined && chars.length === info.length && chars.length > 0;
  return { subModels: info, sandbox: bound ? ({ ...sandbox, maxSubPromptChars: Math.min(400_000, Math.max(...chars)) } as S) : sandbox };
}

/** Characters of prompt that fit a window with room for `answerTokens` (conservative). */
export function promptCharsFor(window: number, answerTokens: number): number {
  const room = Math.max(MIN_COMPLETION_TOKENS, window - Math.min(answerTokens, Math.floor(window / 2)));
  return Math.max(0, Math.floor(room * CHARS_PER_TOKEN));
}

export interface SubHandlerOptions {
  router: SubModelRouter;
  sampling: Omit<SamplingParams, 'seed'>;
  /** Request seed of a prompt (derived from the run seed, the episode and the prompt). */
  seedOf: (prompt: string) => number;
  signal?: AbortSignal;
  /** Called with each answer (the runner records the served id). */
  onAnswer?: (model: string) => void;
}

/** The env's SubCallHandler over the router: window check, clamping, routing, overflow as a clear error. */
export function subCallHandler(o: SubHandlerOptions): SubCallHandler {
  return async (req: SubCallRequest): Promise<SubCallResponse> => {
    const sub = o.router.resolve(req.model);
    const signal = req.signal && o.signal ? AbortSignal.any([req.signal, o.signal]) : req.signal ?? o.signal;
    const label = sub.name !== null ? `"${sub.name}" (${sub.client.model})` : sub.client.model;
    const messages = [{ role: 'user' as const, content: req.prompt }];
    const kwargs = (o.sampling.extra_body as { chat_template_kwargs?: unknown } | null)?.chat_template_kwargs;
    let maxTokens = o.sampling.max_tokens;
    const window = sub.client.maxModelLen;
    const tooLong = (tokens: number, exact: boolean) =>
      new Error(
        `the prompt is ${exact ? '' : 'about '}${tokens.toLocaleString('en-US')} tokens (${req.prompt.length.toLocaleString('en-US')} chars) but the sub-model ${label} has a ` +
          `${window!.toLocaleString('en-US')}-token context window for prompt and answer together (about ${promptCharsFor(window!, maxTokens).toLocaleString('en-US')} chars of prompt). ` +
          'Nothing was sent: split the text into smaller chunks.',
      );
    if (window !== null) {
      let n = estimatePromptTokens(messages);
      let exact = false;
      if (window - n < MIN_COMPLETION_TOKENS && sub.client.exactCounts) {
        const c = await sub.client.countPromptTokens(messages, kwargs, signal);
        if (c !== null) {
          n = c;
          exact = true;
        }
      }
      if (window - n < MIN_COMPLETION_TOKENS) throw tooLong(n, exact);
      maxTokens = Math.min(maxTokens, window - n);
    }
    try {
      const r = await sub.client.chat(messages, { ...o.sampling, max_tokens: maxTokens, seed: o.seedOf(req.prompt) }, signal);
      o.onAnswer?.(r.model);
      // A thinking sub-model's reasoning is not its answer: the code gets the text after it.
      return { text: splitReasoning(r.text, r.reasoning).action, model: r.model, promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: r.finishReason };
    } catch (e) {
      if (e instanceof ContextWindowExceededError) {
        const w = e.maxModelLen ?? window;
        throw new Error(
          `the sub-model ${label} refused the prompt (${req.prompt.length.toLocaleString('en-US')} chars) as longer than its context window${w ? ` of ${w.toLocaleString('en-US')} tokens` : ''}. ` +
            'Nothing was answered: split the text into smaller chunks.',
        );
      }
      throw e;
    }
  };
}
