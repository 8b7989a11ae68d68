/**
 * Server-wide budgets and sandbox limits (from the serve flags) and a session's own budgets, which may lower them,
 * never raise them: a value above the server's limit is a 400 naming both numbers (never silently clamped).
 */
import type { EnvLimits } from '../rollouts/index.ts';
import type { Prices } from '../env/index.ts';
import { ApiError, ServerConfigError } from './errors.ts';
import type { Budgets } from './protocol.ts';

/** What every session gets unless it asks for less. null = no limit. */
export interface ServerLimits {
  maxTurns: number;
  maxSubCalls: number;
  maxRootTokens: number | null;
  maxEpisodeSeconds: number | null;
  maxCostUsd: number | null;
  /** CPU seconds per REPL cell. */
  cellTimeoutS: number;
  /** Wall seconds per REPL cell (covers time blocked on sub-calls). */
  cellWallTimeoutS: number;
  maxSubConcurrency: number;
  maxOutputChars: number;
  /** Largest task context a session may ask for (the generator's contextTokens, and the generated size). */
  maxContextTokens: number;
  prices: Prices | null;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxTurns: 30,
  maxSubCalls: 500,
  maxRootTokens: null,
  maxEpisodeSeconds: null,
  maxCostUsd: null,
  cellTimeoutS: 10,
  cellWallTimeoutS: 120,
  maxSubConcurrency: 16,
  maxOutputChars: 20_000,
  maxContextTokens: 1_000_000,
  prices: null,
};

export function resolveServerLimits(partial: Partial<ServerLimits> = {}): ServerLimits {
  const l: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (l as unknown as Record<string, unknown>)[k] = v;
  if (l.maxCostUsd !== null && !l.prices) throw new ServerConfigError('--max-cost needs --price-in/--price-out');
  return l;
}

/** Budget key (wire) → the ServerLimits field it lowers. */
const BUDGET_FIELDS: Record<keyof Budgets, keyof ServerLimits> = {
  max_turns: 'maxTurns',
  max_sub_calls: 'maxSubCalls',
  max_root_tokens: 'maxRootTokens',
  max_episode_seconds: 'maxEpisodeSeconds',
  max_cost_usd: 'maxCostUsd',
  cell_timeout_s: 'cellTimeoutS',
  cell_wall_timeout_s: 'cellWallTimeoutS',
  max_sub_concurrency: 'maxSubConcurrency',
  max_output_chars: 'maxOutputChars',
};

/** The server limits lowered by a session's budgets. Throws a 400 for a value above the server's limit. */
export function sessionLimits(server: ServerLimits, budgets: Budgets | undefined): ServerLimits {
  const out: ServerLimits = { ...server };
  for (const [key, value] of Object.entries(budgets ?? {}) as [keyof Budgets, number | undefined][]) {
    if (value === undefined) continue;
    const field = BUDGET_FIELDS[key];
    const limit = server[field] as number | null;
    if (key === 'max_cost_usd' && !server.prices) {
      throw new ApiError('bad_request', 'budgets.max_cost_usd: this server has no prices (start it with --price-in/--price-out)');
    }
    if (limit !== null && value > limit) {
      throw new ApiError('bad_request', `budgets.${key}: ${value} is above the server's limit ${limit}; a session may lower budgets, not raise them`);
    }
    (out as unknown as Record<string, unknown>)[field] = value;
  }
  return out;
}

/** The wire view of the budgets in force (reset info, GET /v1/sessions/{id}). */
export function budgetsView(l: ServerLimits): Record<string, number | null> {
  return {
    max_turns: l.maxTurns,
    max_sub_calls: l.maxSubCalls,
    max_root_tokens: l.maxRootTokens,
    max_episode_seconds: l.maxEpisodeSeconds,
    max_cost_usd: l.maxCostUsd,
    cell_timeout_s: l.cellTimeoutS,
    cell_wall_timeout_s: l.cellWallTimeoutS,
    max_sub_concurrency: l.maxSubConcurrency,
    max_output_chars: l.maxOutputChars,
  };
}

/** RLMEnv's budget fields and REPL language (the EnvLimits recorded for replay) for these limits. */
export function envLimits(l: ServerLimits, repl: 'js' | 'python' = 'js'): EnvLimits {
  return {
    repl,
    maxTurns: l.maxTurns,
    maxSubCalls: l.maxSubCalls,
    maxRootTokens: l.maxRootTokens,
    maxWallMs: l.maxEpisodeSeconds === null ? null : Math.round(l.maxEpisodeSeconds * 1000),
    maxCostUsd: l.maxCostUsd,
    prices: l.prices,
    sandbox: {
      cellCpuTimeoutMs: Math.round(l.cellTimeoutS * 1000),
      cellWallTimeoutMs: Math.round(l.cellWallTimeoutS * 1000),
      maxSubConcurrency: l.maxSubConcurrency,
      maxOutputChars: l.maxOutputChars,
    },
    rlmDepth: 0,
  };
}
