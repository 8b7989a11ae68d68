/**
 * npm run report — one self-contained HTML file from one or more run directories: run headers, the results table,
 * the plots and the trajectory viewer.
 */
import path from 'node:path';
import { Command } from 'commander';
import { ReportInputError, resolveInputs, writeReport } from '../report/index.ts';
import { fail, intArg, strictCommand } from './cli.ts';

const program = strictCommand(new Command('report'))
  .description('Write an HTML report (results table, plots, trajectory viewer) of one or more run directories.')
  .argument('<run-dirs...>', 'run directories; a directory of shards (runs/x, or runs/x/*) is one run; several runs are compared side by side')
  .option('--out <file>', 'HTML file to write (default: <run>/report.html for one run, else report.html)')
  .option('--max-episodes <N>', 'embed the turns of at most N episodes, spread over families and sizes (the table and plots always use all)', intArg('--max-episodes', 0))
  .option('--max-text <chars>', 'cut each text of a turn (reply, output, sub-call prompt …) at this many chars', intArg('--max-text', 100), 20_000)
  .option('--title <text>', 'page title')
  .addHelpText('after', `
Examples:
  npm run report -- runs/x                                 # writes runs/x/report.html
  npm run report -- runs/qwen3 runs/llama --out compare.html
  npm run report -- runs/x/* --max-episodes 2000           # a sharded run, the turns of 2,000 episodes embedded`);

program.parse();
const flags = program.opts<{ out?: string; maxEpisodes?: number; maxText: number; title?: string }>();
const inputs = program.args;

/** Default output: inside the run when the inputs are one run (or the shards of one), else ./report.html. */
function defaultOut(): string {
  const { groups } = resolveInputs(inputs);
  if (groups.length !== 1) return 'report.html';
  const g = groups[0];
  return path.join(g.sharded ? path.dirname(g.dirs[0]) : g.dirs[0], 'report.html');
}

async function main(): Promise<number> {
  const started = performance.now();
  let out: string;
  try {
    out = flags.out ?? defaultOut();
  } catch (e) {
    return fail((e as Error).message, 2);
  }
  try {
    const r = await writeReport(inputs, { out, maxEpisodes: flags.maxEpisodes ?? null, maxTextChars: flags.maxText, title: flags.title });
    for (const s of r.skipped) process.stderr.write(`note: skipped ${s}\n`);
    const rel = path.relative(process.cwd(), r.out);
    const mb = r.bytes / 1e6;
    process.stdout.write(
      `report: ${rel && !rel.startsWith('..') ? rel : r.out} — ${r.runs.length} run(s) (${r.runs.join(', ')}), ${r.episodes.toLocaleString('en-US')} episodes, ` +
        `turns of ${r.embedded.toLocaleString('en-US')} embedded, ${mb.toFixed(1)} MB, ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    if (mb > 50) process.stderr.write(`note: the file is over 50 MB; --max-episodes N embeds fewer trajectories and opens faster\n`);
    return 0;
  } catch (e) {
    if (e instanceof ReportInputError) return fail(e.message, 2);
    return fail(`report failed: ${(e as Error).message}`);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => fail((e as Error)?.stack ?? String(e)),
);
