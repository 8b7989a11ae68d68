/**
 * Model aliases: short names users type (`--model qwen3`) → the Hugging Face id vLLM usually serves. When the endpoint
 * lists its models, an alias resolves to the served id that contains the alias's pattern instead (a vLLM server started
 * with `--served-model-name` or another Qwen3 size still matches).
 */
import { ModelNotServedError } from './errors.ts';

export interface ModelAlias {
  /** Default id when the endpoint does not list models. */
  id: string;
  /** Lower-case substrings: a served id containing any of them matches (first pattern preferred). */
  match: string[];
}

export const MODEL_ALIASES: Record<string, ModelAlias> = {
  qwen3: { id: 'Qwen/Qwen3-8B', match: ['qwen3-', 'qwen3'] },
  'qwen3-coder': { id: 'Qwen/Qwen3-Coder-30B-A3B-Instruct', match: ['qwen3-coder'] },
  'qwen2.5': { id: 'Qwen/Qwen2.5-7B-Instruct', match: ['qwen2.5'] },
  'qwen2.5-coder': { id: 'Qwen/Qwen2.5-Coder-7B-Instruct', match: ['qwen2.5-coder'] },
  llama3: { id: 'meta-llama/Llama-3.1-8B-Instruct', match: ['llama-3', 'llama3'] },
  'llama3.1': { id: 'meta-llama/Llama-3.1-8B-Instruct', match: ['llama-3.1', 'llama3.1'] },
  'llama3.3': { id: 'meta-llama/Llama-3.3-70B-Instruct', match: ['llama-3.3', 'llama3.3'] },
  gemma3: { id: 'google/gemma-3-12b-it', match: ['gemma-3', 'gemma3'] },
  'gpt-oss': { id: 'openai/gpt-oss-20b', match: ['gpt-oss'] },
  'deepseek-r1': { id: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', match: ['deepseek-r1'] },
  mistral: { id: 'mistralai/Mistral-7B-Instruct-v0.3', match: ['mistral'] },
};

/**
 * `requested` → the id to send. An exact served id wins; then an alias's patterns (a coder alias does not match a
 * non-coder model: candidates containing "coder" are skipped unless the alias asks for it); then a plain substring.
 * `served` null = the endpoint does not list models: aliases map to their default id, ids pass through.
 */
export function resolveModel(requested: string, served: string[] | null, url = 'the endpoint'): string {
  const alias = MODEL_ALIASES[requested.toLowerCase()];
  if (served === null) return alias?.id ?? requested;
  if (served.includes(requested)) return requested;
  const lower = served.map((s) => s.toLowerCase());
  const wantsCoder = requested.toLowerCase().includes('coder');
  const patterns = alias ? alias.match : [requested.toLowerCase()];
  for (const p of patterns) {
    const i = lower.findIndex((s) => s.includes(p) && (wantsCoder || !s.includes('coder')));
    if (i >= 0) return served[i];
  }
  if (alias) {
    const i = lower.indexOf(alias.id.toLowerCase());
    if (i >= 0) return served[i];
  }
  throw new ModelNotServedError(requested, served, url);
}
