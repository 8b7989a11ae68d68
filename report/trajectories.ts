/**
 * The trajectory viewer's data: one small index row per episode (all of them, for the list and its filters) and the
 * full turns of the embedded episodes, gzip-compressed in chunks of ~256 KB of JSON that the page inflates only when
 * an episode is opened. Long texts are cut at `maxTextChars` with a marker saying how much was cut.
 */
import { gzipSync } from 'node:zlib';
import { requestedSize, totalTokens } from './aggregate.ts';
import { isChild, type LoadedRun, type ReportEpisode, type ReportStep } from './load.ts';
import type { EpisodeDetail, EpisodeIndexRow, StepDetail } from './payload.ts';

export interface TrajectoryOptions {
  /** Embed the turns of at most this many root episodes (children come with their root). Default: all. */
  maxEpisodes?: number | null;
  /** Cut each text field at this many chars. Default 20,000 (the REPL's own output cap). */
  maxTextChars?: number;
  /** Target raw JSON bytes per chunk before compression. Default 256 KB. */
  chunkBytes?: number;
}

export interface Trajectories {
  index: EpisodeIndexRow[];
  /** base64 of gzip(JSON EpisodeDetail[]) */
  chunks: string[];
  embedded: number;
}

export const DEFAULT_MAX_TEXT_CHARS = 20_000;

export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}\n… [${(s.length - max).toLocaleString('en-US')} more chars not shown in the report; the run's Parquet has them]`;
}

const short = (s: string | null, n: number) => (s === null ? null : s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * Which root episodes get their turns embedded when there are more than `max`: taken round-robin over the
 * (run, family, size) strata in episode order, so every family and size stays represented.
 */
export function pickEmbedded(runs: readonly { r: number; eps: readonly ReportEpisode[] }[], max: number | null | undefined): Set<string> {
  const key = (r: number, e: ReportEpisode) => `${r}\u0000${e.episode_id}`;
  const roots = runs.flatMap(({ r, eps }) => eps.filter((e) => !isChild(e)).map((e) => ({ r, e })));
  if (max === null || max === undefined || roots.length <= max) return new Set(roots.map(({ r, e }) => key(r, e)));
  const strata = new Map<string, { r: number; e: ReportEpisode }[]>();
  for (const x of roots) {
    const k = `${x.r}\u0000${x.e.task_family}\u0000${requestedSize(x.e)}`;
    const list = strata.get(k);
    if (list) list.push(x);
    else strata.set(k, [x]);
  }
  const out = new Set<string>();
  const lists = [...strata.values()];
  for (let i = 0; out.size < max; i++) {
    let any = false;
    for (const l of lists) {
      if (i < l.length && out.size < max) {
        out.add(key(l[i].r, l[i].e));
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

function stepDetail(s: ReportStep, max: number): StepDetail {
  return {
    turn: s.turn,
    reply: cut(s.reply, max),
    reasoning: s.reasoning ? cut(s.reasoning, max) : null,
    finish: s.finish_reason ?? null,
    code: s.code_cells.map((c) => cut(c, max)),
    obs: cut(s.observation, max),
    errs: s.cell_errors.map((c) => cut(c, max)),
    ms: s.duration_ms,
    pt: s.prompt_tokens,
    ct: s.completion_tokens,
    sub: s.sub_calls.map((c) => {
      const fin = (c as { finish_reason?: string | null }).finish_reason ?? null;
      return { p: cut(c.prompt, max), r: cut(c.response, max), m: c.model, pt: c.prompt_tokens, ct: c.completion_tokens, ms: c.latency_ms, err: c.error, fin };
    }),
  };
}

export function buildTrajectories(runs: readonly LoadedRun[], opts: TrajectoryOptions = {}): Trajectories {
  const max = opts.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  const chunkBytes = opts.chunkBytes ?? 256 * 1024;
  const embedded = pickEmbedded(runs.map((run, r) => ({ r, eps: run.episodes })), opts.maxEpisodes);
  const index: EpisodeIndexRow[] = [];
  const chunks: string[] = [];
  let pending: string[] = []; // JSON of each EpisodeDetail
  let pendingBytes = 0;
  let embeddedCount = 0;
  const flush = () => {
    if (!pending.length) return;
    chunks.push(gzipSync(Buffer.from(`[${pending.join(',')}]`)).toString('base64'));
    pending = [];
    pendingBytes = 0;
  };
  runs.forEach((run, r) => {
    const stepsBy = new Map<string, ReportStep[]>();
    for (const s of run.steps) {
      const l = stepsBy.get(s.episode_id);
      if (l) l.push(s);
      else stepsBy.set(s.episode_id, [s]);
    }
    const rootOf = (e: ReportEpisode) => e.root_episode_id ?? e.parent_episode_id ?? e.episode_id;
    for (const e of run.episodes) {
      const child = isChild(e);
      const owner = child ? rootOf(e) : e.episode_id;
      const embed = embedded.has(`${r}\u0000${owner}`);
      index.push({
        r,
        id: e.episode_id,
        fam: e.task_family,
        size: requestedSize(e),
        ctx: e.context_tokens,
        seed: e.seed,
        grp: e.group_id,
        score: e.score,
        ok: e.correct,
        rew: e.reward,
        stop: e.stop_reason,
        turns: e.turns,
        sub: e.sub_calls,
        tok: totalTokens(e),
        cost: e.cost_usd,
        wall: e.wall_ms,
        q: short(e.question, 300)!,
        ans: short(e.final_answer, 200),
        gold: short(e.gold_answer, 200)!,
        err: short(e.error, 300),
        ct: e.completion_truncated ?? null,
        depth: e.depth ?? (child ? 1 : 0),
        parent: e.parent_episode_id ?? null,
        root: child ? rootOf(e) : null,
        chunk: embed ? chunks.length : -1,
      });
      if (!embed) continue;
      embeddedCount += child ? 0 : 1;
      const steps = (stepsBy.get(e.episode_id) ?? []).slice().sort((a, b) => a.turn - b.turn);
      const detail: EpisodeDetail = {
        r,
        id: e.episode_id,
        question: cut(e.question, max),
        gold: cut(e.gold_answer, max),
        answer: e.final_answer === null ? null : cut(e.final_answer, max),
        components: e.reward_components ?? {},
        reward: e.reward,
        rewardError: e.reward_error,
        error: e.error,
        scoreDetails: cut(e.score_details, max),
        taskOptions: e.task_options,
        sampling: e.sampling_params,
        rootModel: e.root_model,
        subModel: e.sub_model,
        system: e.messages?.[0]?.role === 'system' ? cut(e.messages[0].content, max) : null,
        firstUser: e.messages?.[1]?.role === 'user' ? cut(e.messages[1].content, max) : null,
        steps: steps.map((s) => stepDetail(s, max)),
      };
      const json = JSON.stringify(detail);
      pending.push(json);
      pendingBytes += json.length;
      if (pendingBytes >= chunkBytes) flush();
    }
    flush(); // a chunk never spans two runs
  });
  flush();
  return { index, chunks, embedded: embeddedCount };
}
