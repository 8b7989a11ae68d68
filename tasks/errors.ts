/**
 * Typed errors of the task layer. Callers (the env, the CLI) catch these by class to turn them into one clear line,
 * so every message is written to be shown to a person as is.
 */

/** A task family name that is not in the registry. The message lists the valid names. */
export class UnknownTaskError extends Error {
  readonly family: string;
  readonly validFamilies: readonly string[];
  constructor(family: string, validFamilies: readonly string[]) {
    super(`unknown task family '${family}'; valid families: ${validFamilies.join(', ')}`);
    this.name = 'UnknownTaskError';
    this.family = family;
    this.validFamilies = validFamilies;
  }
}

/** A generator option that is missing, unknown, of the wrong type or out of range. */
export class TaskOptionError extends Error {
  readonly family: string;
  /** The offending option name ('' when the problem is not tied to one option). */
  readonly option: string;
  constructor(family: string, option: string, message: string) {
    super(`invalid options for ${family}: ${message}`);
    this.name = 'TaskOptionError';
    this.family = family;
    this.option = option;
  }
}
