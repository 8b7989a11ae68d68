/**
 * npm run export -- DIR --format verl|trl|sft|sft-turns|tokens --out FILE [--min-reward X] [--split NAME] [--drop-truncated] [--max-turn-chars N]
 * Flags in, library call, one line out. Exit codes: 0 ok, 1 run/IO error, 2 bad usage.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXPORT_FORMATS, ExportError, exportRun, isExportFormat } from '../datasets/index.ts';

function fail(msg: string, code: number): never {
  process.stderr.write(`export: ${msg}\n`);
  process.exit(code);
}

const program = new Command()
  .name('npm run export --')
  .description('Export a run directory for a trainer: verl (RL prompts), trl (prompt/completion + rewards), sft (successful conversations), sft-turns (one row per root turn of those), tokens (token ids + loss mask + logprobs + GRPO advantage).')
  .argument('<dir>', 'run directory (holds manifest.json, episodes/, steps/)')
  .requiredOption('--format <format>', `one of: ${EXPORT_FORMATS.join(', ')}`)
  .requiredOption('--out <file>', 'output file: Parquet (ZSTD), or JSON Lines when it ends with .jsonl')
  .option('--min-reward <x>', 'sft: keep episodes with reward ≥ x (default: correct episodes only); trl/tokens: optional row filter; ignored by verl')
  .option('--split <name>', 'verl: extra_info.split', 'train')
  .option('--drop-truncated', 'tokens/trl/sft/sft-turns: leave out episodes where a root turn ended with finish_reason "length"', false)
  .option('--max-turn-chars <n>', 'sft-turns: leave out turns whose input + output exceed n characters (the RLM-Qwen3-8B recipe used 100000)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  npm run export -- runs/x --format verl --out x.verl.parquet
  npm run export -- runs/x --format sft --min-reward 0.5 --out x.sft.jsonl
  npm run export -- runs/x --format tokens --out x.tokens.parquet   # needs a run recorded with --logprobs
  npm run export -- runs/x --format sft-turns --max-turn-chars 100000 --drop-truncated --out x.turns.parquet`,
  );

try {
  program.parse();
} catch (e) {
  // commander already printed its message; help/version exit 0, any usage error exits 2.
  const code = e instanceof CommanderError ? e.code : '';
  process.exit(code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version' ? 0 : 2);
}
const [dir] = program.args;
const opts = program.opts<{ format: string; out: string; minReward?: string; split: string; dropTruncated: boolean; maxTurnChars?: string }>();

if (!isExportFormat(opts.format)) fail(`unknown --format "${opts.format}"; use one of: ${EXPORT_FORMATS.join(', ')}`, 2);
let minReward: number | undefined;
if (opts.minReward !== undefined) {
  minReward = Number(opts.minReward);
  if (opts.minReward.trim() === '' || !Number.isFinite(minReward)) fail(`--min-reward must be a number, got "${opts.minReward}"`, 2);
}
let maxTurnChars: number | undefined;
if (opts.maxTurnChars !== undefined) {
  maxTurnChars = Number(opts.maxTurnChars);
  if (!Number.isSafeInteger(maxTurnChars) || maxTurnChars < 1) fail(`--max-turn-chars must be a positive integer, got "${opts.maxTurnChars}"`, 2);
  if (opts.format !== 'sft-turns') fail('--max-turn-chars applies to --format sft-turns only', 2);
}
if (opts.dropTruncated && opts.format === 'verl') fail('--drop-truncated applies to tokens, trl, sft and sft-turns', 2);
if (!existsSync(dir)) fail(`run directory not found: ${dir}`, 1);
// Writing into the run would shadow or replace its own part files.
if (path.resolve(opts.out).startsWith(path.resolve(dir) + path.sep)) fail(`--out ${opts.out} is inside the run directory ${dir}; write the export elsewhere`, 2);

try {
  const r = await exportRun(dir, { format: opts.format, out: opts.out, minReward, split: opts.split, dropTruncated: opts.dropTruncated, maxTurnChars });
  const kb = (r.bytes / 1024).toFixed(1);
  const rel = path.relative(process.cwd(), r.out);
  const shown = rel && !rel.startsWith('..') ? rel : r.out;
  process.stdout.write(`${r.format}: ${r.rows} row(s) → ${shown} (${r.kind}, ${kb} KiB)\n`);
} catch (e) {
  const msg = e instanceof Error ? e.message : String(e);
  fail(msg, e instanceof ExportError && e.code === 'bad_option' ? 2 : 1);
}
