/** Small shared pieces of the command-line scripts: typed flag parsers and one-line failures. */
import { Command, InvalidArgumentError } from 'commander';

export function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

export function numArg(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

export function jsonObjectArg(name: string) {
  return (v: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      throw new InvalidArgumentError(`${name} must be a JSON object: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`${name} must be a JSON object, got ${v}`);
    return parsed as Record<string, unknown>;
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Usage errors (bad flags) exit 2 with commander's one-line message; --help exits 0. */
export function strictCommand(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });
}

/** One clear line on stderr, then exit. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}
