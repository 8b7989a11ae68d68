/** Bad RLMEnv configuration (unknown option, wrong type, out-of-range budget). */
export class RLMEnvConfigError extends Error {
  override name = 'RLMEnvConfigError';
}

/** The env was used out of order: step() before reset(), step() after the episode ended, use after close(). */
export class RLMEnvStateError extends Error {
  override name = 'RLMEnvStateError';
}
