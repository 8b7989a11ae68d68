/**
 * npm run tasks -- convert --from oolong|oolong-real|oolong-pairs|browsecomp-plus|longbench-v2 IN… --out tasks.jsonl
 * Converts published long-context dataset files (JSON Lines, JSON or Parquet, as downloaded) into the task-file format
 * for `npm run rollout -- --task file:tasks.jsonl`. Exit 2 with one line on a usage error or a bad input row.
 */
import { Command, CommanderError } from 'commander';
import { CODEQA_DOMAIN, CONVERT_SOURCES, ConvertError, convertFiles, writeTaskFile, type ConvertSource } from '../tasks/convert/index.ts';
import { TaskFileError } from '../tasks/index.ts';

export async function runConvert(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run tasks -- convert')
    .description('Convert published dataset files to an rlm-gym task file (JSON Lines) with the datasets\' official scoring rules.')
    .argument('<in...>', 'input files: .jsonl, .json (an array of rows) or .parquet, in the dataset\'s published row schema')
    .requiredOption('--from <source>', `dataset: ${CONVERT_SOURCES.join(' | ')}`)
    .requiredOption('--out <file>', 'output task file (JSON Lines)')
    .option('--dataset <name>', 'oolong, oolong-pairs: keep rows of this `dataset` (oolong-pairs default: trec_coarse)')
    .option('--max-context-len <n>', 'oolong, oolong-pairs: keep rows with context_len ≤ n')
    .option('--docs-per-query <n>', 'browsecomp-plus: documents per query, gold + evidence included (default 1000)')
    .option('--seed <n>', 'browsecomp-plus: seed of the sampled documents (default 0)')
    .option('--domain <name>', 'longbench-v2: keep one domain')
    .option('--codeqa', `longbench-v2: keep the paper's CodeQA (domain "${CODEQA_DOMAIN}")`)
    .addHelpText('after', `
Sources and scoring:
  oolong           oolong-synth rows → numeric 0.75^|Δ|, dates by date, comparisons by containment, else exact;
                   answers read after the last ':' (the paper's trec_coarse rows are in the validation split)
  oolong-real      oolong-real rows → answers read from \\boxed{}; integers 0.75^|Δ|, lists by overlap, strings exact
  oolong-pairs     the paper's 20 pair tasks per oolong-synth trec_coarse context window, gold from its labelled text; F1
  browsecomp-plus  decrypted queries + corpus rows → one task per query with 1,000 documents (gold + evidence + seeded)
  longbench-v2     data.json rows → multiple choice ("The correct answer is (X)")
Examples:
  npm run tasks -- convert --from oolong --dataset trec_coarse validation-00000-of-00001.parquet --out oolong.jsonl
  npm run tasks -- convert --from longbench-v2 --codeqa data.json --out codeqa.jsonl`)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => {
        if (!/^error:/.test(s)) process.stderr.write(s);
      },
      outputError: (s) => process.stderr.write(`${s.trim()} (see --help)\n`),
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 2;
    throw err;
  }
  const o = program.opts<Record<string, string | boolean | undefined>>();
  const int = (flag: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) {
      process.stderr.write(`error: ${flag} must be an integer ≥ 0 (got '${String(v)}')\n`);
      process.exit(2);
    }
    return n;
  };
  try {
    const rows = convertFiles(String(o.from) as ConvertSource, program.args, {
      dataset: typeof o.dataset === 'string' ? o.dataset : null,
      maxContextLen: int('--max-context-len', o.maxContextLen) ?? null,
      docsPerQuery: int('--docs-per-query', o.docsPerQuery),
      seed: int('--seed', o.seed),
      domain: o.codeqa ? CODEQA_DOMAIN : typeof o.domain === 'string' ? o.domain : null,
    });
    const r = writeTaskFile(rows, String(o.out));
    process.stdout.write(`${r.rows} task(s) written to ${String(o.out)} (sha256 ${r.sha256.slice(0, 16)}…); run them with: npm run rollout -- --task file:${String(o.out)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConvertError || e instanceof TaskFileError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
