/** npm run replay -- DIR — re-execute a recorded run and verify observations, answers, scores and rewards. */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { replayRun } from '../datasets/index.ts';
import { fail, strictCommand } from './cli.ts';

const program = strictCommand(new Command('replay'))
  .description('Re-create each task from its seed, re-run the recorded replies in fresh sandboxes with the recorded sub-call responses, and verify every observation, final answer, score and reward. Exit 1 on any mismatch.')
  .argument('<dir>', 'run directory (manifest.json, episodes/, steps/)')
  .option('--episodes <ids>', 'only these episode ids (comma-separated)')
  .option('--context-dir <dir>', 'regenerate host-backed tasks here (default: the recorded context dir if it exists, else a temp dir deleted after each episode)')
  .option('--quiet', 'print mismatches and the summary only', false);
program.parse();
const [dir] = program.args;
const flags = program.opts<{ episodes?: string; contextDir?: string; quiet: boolean }>();
if (!existsSync(dir)) fail(`run directory not found: ${dir}`);

const short = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}… (${s.length} chars)` : s);
const result = await replayRun(dir, {
  episodes: flags.episodes?.split(',').map((s) => s.trim()).filter(Boolean),
  contextDir: flags.contextDir,
  onEpisode(r) {
    if (r.status === 'ok' && flags.quiet) return;
    process.stdout.write(`${r.episode_id}  ${r.status}${r.reason ? ` (${r.reason})` : ''}\n`);
    for (const m of r.mismatches) {
      process.stdout.write(`  ${m.turn === null ? 'episode' : `turn ${m.turn}`} · ${m.field}\n    recorded: ${short(m.expected)}\n    replayed: ${short(m.actual)}\n`);
    }
  },
}).catch((e: Error) => fail(e.message));
process.stdout.write(
  `\nreplayed ${result.episodes} episode(s): ${result.ok} ok, ${result.skipped} skipped, ${result.episodes - result.ok - result.skipped} with ${result.mismatches.length} mismatch(es)\n`,
);
process.exit(result.mismatches.length ? 1 : 0);
