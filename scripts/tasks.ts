/**
 * npm run tasks -- --task <family> [--n 3] [--seed 1] [--context-tokens N] [--json] [family options]
 * Previews generated tasks: a readable summary per task, or with --json one full task (context included) per line.
 * Task i (0-based) uses seed + i. Exit code 2 with one line on stderr for an unknown family or a bad option value.
 * npm run tasks -- convert --from <dataset> IN… --out tasks.jsonl converts published dataset files (tasks-convert.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import {
  TASK_FAMILIES,
  TASK_FAMILY_NAMES,
  TaskOptionError,
  UnknownTaskError,
  formatTaskSummary,
  generateTask,
  isTemporaryContext,
  removeTaskContext,
} from '../tasks/index.ts';

// `npm run tasks -- convert …` converts published dataset files to a task file (scripts/tasks-convert.ts).
if (process.argv[2] === 'convert') {
  const { runConvert } = await import('./tasks-convert.ts');
  process.exit(await runConvert(process.argv.slice(3)));
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function nonNegativeInt(flag: string, raw: string, min = 0): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) fail(`${flag} must be an integer >= ${min} (got '${raw}')`);
  return n;
}

/** Flag values for generator options: numbers and null/true/false parse as such, anything else stays a string. */
function optionValue(raw: string): unknown {
  const t = raw.trim();
  if (t === 'null') return null;
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return raw;
}

const familyHelp = TASK_FAMILY_NAMES.map((name) => {
  const def = TASK_FAMILIES[name];
  const opts = Object.entries(def.optionDocs ?? {})
    .map(([k, v]) => `      ${k}: ${v}`)
    .join('\n');
  return `  ${name} — ${def.description}\n${opts}`;
}).join('\n');

const program = new Command()
  .name('npm run tasks --')
  .description('Preview seeded rlm-gym tasks.')
  .addOption(new Option('--task <family>', `task family: ${TASK_FAMILY_NAMES.join(', ')}`))
  .option('--n <count>', 'number of tasks (task i uses seed + i)', '3')
  .option('--seed <seed>', 'seed of the first task', '1')
  .option('--context-tokens <tokens>', 'context size in o200k tokens (default: per family)')
  .option('--value-type <type>', 'sniah: number | uuid | word')
  .option('--depth <fraction>', 'sniah: needle depth 0 … 1')
  .option('--distractors <count>', 'sniah: needles for other keys')
  .option('--query <kind>', 'oolong: count | most_frequent | least_frequent | compare | count_users | count_dates')
  .option('--users <count>', 'oolong, oolong-pairs: number of user ids')
  .option('--max-pairs <count>', 'oolong-pairs: largest answer size')
  .option('--num-docs <count>', 'browsecomp: number of documents')
  .option('--constraints <count>', 'browsecomp: 3 or 4 constraints')
  .option('--opt <key=value...>', 'any generator option by its name (repeatable), e.g. --opt depth=0.5')
  .option('--json', 'print JSON Lines: one full task (context included) per line')
  .addHelpText('after', `\nFamilies and their options:\n${familyHelp}\n\nConvert published datasets to a task file: npm run tasks -- convert --help\n`)
  .exitOverride()
  .configureOutput({
    // Commander's own usage errors become our single-line, exit-code-2 errors.
    writeErr: (s) => {
      if (!/^error:/.test(s)) process.stderr.write(s);
    },
    outputError: (s) => process.stderr.write(`${s.trim()} (see --help)\n`),
  });

try {
  program.parse(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
    process.exit(2);
  }
  throw err;
}

const o = program.opts<Record<string, string | string[] | boolean | undefined>>();
const family = typeof o.task === 'string' ? o.task : fail(`--task is required; valid families: ${TASK_FAMILY_NAMES.join(', ')}`);
if (!TASK_FAMILY_NAMES.includes(family)) fail(new UnknownTaskError(family, TASK_FAMILY_NAMES).message);
const n = nonNegativeInt('--n', String(o.n), 1);
const seed = nonNegativeInt('--seed', String(o.seed));

const flagToOption: [string, string][] = [
  ['contextTokens', 'contextTokens'], ['valueType', 'valueType'], ['depth', 'depth'], ['distractors', 'distractors'],
  ['query', 'query'], ['users', 'users'], ['maxPairs', 'maxPairs'], ['numDocs', 'numDocs'], ['constraints', 'constraints'],
];
const options: Record<string, unknown> = {};
for (const [flag, key] of flagToOption) if (typeof o[flag] === 'string') options[key] = optionValue(o[flag] as string);
for (const kv of (o.opt as string[] | undefined) ?? []) {
  const eq = kv.indexOf('=');
  if (eq <= 0) fail(`--opt expects key=value (got '${kv}')`);
  options[kv.slice(0, eq)] = optionValue(kv.slice(eq + 1));
}

// `| head` closes stdout early: that is a normal way to stop reading, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

for (let i = 0; i < n; i++) {
  let task;
  try {
    task = generateTask(family, { ...options, seed: seed + i });
  } catch (err) {
    if (err instanceof TaskOptionError || err instanceof UnknownTaskError) fail(err.message);
    throw err;
  }
  if (o.json) process.stdout.write(`${JSON.stringify(task)}\n`);
  else process.stdout.write(`${formatTaskSummary(task)}\n\n`);
  // A host-backed context in a temp dir is only for this printout (keep one with --opt contextDir=DIR).
  if (isTemporaryContext(task)) {
    removeTaskContext(task);
    if (!o.json) process.stdout.write('(host-backed context: its temp chunk files were deleted; pass --opt contextDir=DIR to keep them)\n\n');
  }
}
