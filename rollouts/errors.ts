/** A URL safe to print: credentials and query values (where keys hide: ?api_key=…) removed. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, '…');
    return u.toString().replace(/%E2%80%A6/g, '…');
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//').replace(/\?.*$/, '');
  }
}

/** The endpoint could not be reached at all (connection refused, DNS, TLS). */
export class EndpointUnreachableError extends Error {
  override name = 'EndpointUnreachableError';
  constructor(readonly url: string, cause: string) {
    super(
      `cannot reach the model endpoint ${displayUrl(url)} (${cause}). Start a server, e.g. \`vllm serve Qwen/Qwen3-8B\` ` +
        `(it listens on http://localhost:8000/v1), pass --endpoint URL, or use --model reference for the built-in offline policy.`,
    );
  }
}

/** `--model` named an alias or id that the endpoint does not serve. */
export class ModelNotServedError extends Error {
  override name = 'ModelNotServedError';
  constructor(readonly requested: string, readonly served: string[], readonly url: string) {
    super(`model '${requested}' is not served by ${displayUrl(url)}; served models: ${served.length ? served.join(', ') : '(none listed)'}`);
  }
}

/** A request failed and will not be retried (4xx other than 408/429), or retries ran out. */
export class PolicyRequestError extends Error {
  override name = 'PolicyRequestError';
  constructor(message: string, readonly status: number | null, readonly attempts: number, readonly retryable: boolean) {
    super(message);
  }
}

/** Bad rollout options (flags or programmatic). */
export class RolloutConfigError extends Error {
  override name = 'RolloutConfigError';
}

/**
 * The request does not fit the model's context window: the server said so (vLLM's HTTP 400 "maximum context length …"
 * in any of its historical wordings), or the harness's own count did. Ends an episode as `context_window`, never `error`.
 */
export class ContextWindowExceededError extends Error {
  override name = 'ContextWindowExceededError';
  constructor(
    message: string,
    /** The window the server reported, when its message said. */
    readonly maxModelLen: number | null = null,
    /** The prompt tokens the server counted, when its message said. */
    readonly inputTokens: number | null = null,
  ) {
    super(message);
  }
}

/** llm_query(prompt, name) named a sub-model that is not configured. The message lists the names. */
export class UnknownSubModelError extends Error {
  override name = 'UnknownSubModelError';
}
