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

/** A task file (`--task file:PATH`) that cannot be used: unreadable, a bad row (row number + column), or changed. */
export class TaskFileError extends Error {
  readonly path: string;
  /** 1-based data row (null when the problem is the file itself). */
  readonly row: number | null;
  /** The offending column (null when not tied to one). */
  readonly column: string | null;
  readonly code: 'unreadable' | 'bad_row' | 'changed' | 'empty';
  constructor(path: string, message: string, o: { row?: number | null; column?: string | null; code?: TaskFileError['code'] } = {}) {
    const where = o.row != null ? ` row ${o.row}${o.column ? `, column '${o.column}'` : ''}` : '';
    super(`${path}${where}: ${message}`);
    this.name = 'TaskFileError';
    this.path = path;
    this.row = o.row ?? null;
    this.column = o.column ?? null;
    this.code = o.code ?? 'bad_row';
  }
}

/** A task plugin (`--task ./my-family.ts`) that cannot be loaded or does not honour the family contract. */
export class TaskPluginError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`task plugin ${path}: ${message}`);
    this.name = 'TaskPluginError';
    this.path = path;
  }
}
