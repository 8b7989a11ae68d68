/**
 * From user-facing settings (model alias, endpoints, provider) to ready policy clients: starts the embedded reference
 * server for `--model reference`, checks every endpoint answers, and resolves aliases against the served ids.
 */
import { createPolicyClient, type PolicyClient } from './client.ts';
import { resolveModel } from './models.ts';
import { startReferenceServer, REFERENCE_MODEL_ID, type ReferenceServer } from './reference/server.ts';
import type { RetryOptions } from './retry.ts';
import { RolloutConfigError, displayUrl } from './errors.ts';

export const DEFAULT_ENDPOINT = 'http://localhost:8000/v1';

export interface ConnectOptions {
  provider?: 'openai' | 'hf';
  /** 'reference' starts the embedded server. */
  model: string;
  /** Empty ⇒ OPENAI_BASE_URL ⇒ http://localhost:8000/v1. */
  endpoints?: string[];
  apiKey?: string;
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Context window override (--max-model-len); default: the served card's max_model_len. */
  maxModelLen?: number | null;
}

export interface Connection {
  clients: PolicyClient[];
  /** Served ids per endpoint (null = not listed). */
  served: { endpoint: string; models: string[] | null }[];
  /** The resolved model id sent in requests. */
  model: string;
  reference: ReferenceServer | null;
  /** Context window of the model (tokens), and where it came from. */
  maxModelLen: number | null;
  maxModelLenSource: 'flag' | 'server' | null;
  /** Whether every endpoint's /tokenize answered a probe (exact prompt counts) — else counts are estimates. */
  exactCounts: boolean;
  close(): Promise<void>;
}

export function defaultEndpoints(endpoints: string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (endpoints && endpoints.length) return endpoints;
  return [env.OPENAI_BASE_URL || DEFAULT_ENDPOINT];
}

export async function connect(o: ConnectOptions): Promise<Connection> {
  let reference: ReferenceServer | null = null;
  let endpoints: string[];
  let requested = o.model;
  if (o.model === 'reference') {
    reference = await startReferenceServer();
    endpoints = [reference.url];
    requested = REFERENCE_MODEL_ID;
  } else {
    endpoints = defaultEndpoints(o.endpoints);
  }
  for (const e of endpoints) {
    if (!/^https?:\/\//.test(e) && !(o.provider === 'hf' && e.startsWith('hf:'))) {
      await reference?.close();
      throw new RolloutConfigError(`--endpoint must be an http(s) URL${o.provider === 'hf' ? ' or hf:<provider>' : ''}, got '${displayUrl(e)}'`);
    }
    if (/^https?:\/\/[^/]*@/.test(e)) {
      await reference?.close();
      throw new RolloutConfigError(`--endpoint ${displayUrl(e)}: credentials in the URL are not supported; pass the key with --api-key-env`);
    }
  }
  try {
    const clients = endpoints.map((endpoint) =>
      createPolicyClient(o.provider ?? 'openai', { endpoint, model: requested, apiKey: o.apiKey, timeoutMs: o.timeoutMs, retry: o.retry }),
    );
    const served = [];
    for (const c of clients) served.push({ endpoint: c.endpoint, models: await c.listModels() });
    // Resolve against the first endpoint that lists models; every endpoint must serve the resolved id.
    const model = resolveModel(requested, served.find((s) => s.models)?.models ?? null, served.find((s) => s.models)?.endpoint);
    for (const s of served) if (s.models) resolveModel(model, s.models, s.endpoint);
    for (const c of clients) c.model = model;
    // Windows: the flag wins; else each endpoint's card for the resolved model (vLLM ModelCard.max_model_len).
    for (const c of clients) c.maxModelLen = o.maxModelLen ?? c.servedModels?.find((m) => m.id === model)?.maxModelLen ?? null;
    const known = clients.map((c) => c.maxModelLen).filter((n): n is number => n !== null);
    const maxModelLen = known.length === clients.length && known.length ? Math.min(...known) : null;
    // One tiny /tokenize per endpoint: exact counts when it answers, conservative estimates otherwise.
    for (const c of clients) c.exactCounts = c.maxModelLen !== null && (await c.countPromptTokens([{ role: 'user', content: 'ping' }]).catch(() => null)) !== null;
    return {
      clients,
      served,
      model,
      reference,
      maxModelLen,
      maxModelLenSource: o.maxModelLen != null ? 'flag' : maxModelLen !== null ? 'server' : null,
      exactCounts: clients.every((c) => c.exactCounts),
      close: async () => void (await reference?.close()),
    };
  } catch (e) {
    await reference?.close();
    throw e;
  }
}
