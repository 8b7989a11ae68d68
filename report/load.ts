/**
 * Resolving `npm run report` inputs to runs and reading them through datasets/.
 *
 * An input is a run directory (it has manifest.json) or a directory of run directories (`runs/x` holding shards, or
 * `runs/` holding runs). Shards — run directories whose manifest has a `shard` — that share a parent directory and a
 * shard count are one run: `runs/x`, `runs/x/*` and `runs/x/shard-0-of-4 runs/x/shard-1-of-4 …` all give the same run.
 * Columns that later schema versions add (steps.reasoning, steps.finish_reason, episodes.completion_truncated,
 * episodes.root_episode_id / parent_episode_id / depth) are read by name when present.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { MANIFEST_FILE, readRun, type EpisodeRow, type Manifest, type StepRow } from '../datasets/index.ts';
import { ReportInputError } from './errors.ts';

/** An episodes row with the optional columns of newer schema versions. */
export type ReportEpisode = EpisodeRow & {
  completion_truncated?: boolean | null;
  root_episode_id?: string | null;
  parent_episode_id?: string | null;
  depth?: number | null;
};

/** A steps row with the optional columns of newer schema versions. */
export type ReportStep = StepRow & {
  reasoning?: string | null;
  finish_reason?: string | null;
};

export interface LoadedRun {
  label: string;
  /** Absolute run directories (one, or one per shard). */
  dirs: string[];
  manifests: Manifest[];
  episodes: ReportEpisode[];
  steps: ReportStep[];
  notes: string[];
}

export interface ResolvedInputs {
  groups: { label: string; dirs: string[]; sharded: boolean }[];
  /** Inputs that were skipped, and why (printed by the CLI). */
  skipped: string[];
}

const hasManifest = (dir: string) => existsSync(join(dir, MANIFEST_FILE));
const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The manifest's shard, or null (unsharded; an unparsable manifest is reported when the run is read). */
function shardOf(dir: string): { index: number; count: number } | null {
  try {
    return (JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Manifest).shard ?? null;
  } catch {
    return null;
  }
}

/** Inputs → run groups. Throws ReportInputError when an input does not exist or no input holds a run. */
export function resolveInputs(inputs: readonly string[], cwd = process.cwd()): ResolvedInputs {
  if (inputs.length === 0) throw new ReportInputError('no run directory given; usage: npm run report -- runs/x [runs/y …]');
  const skipped: string[] = [];
  const runDirs: string[] = [];
  for (const input of inputs) {
    const abs = resolve(cwd, input);
    if (!existsSync(abs)) throw new ReportInputError(`${input}: no such file or directory`);
    if (!isDir(abs)) {
      skipped.push(`${input}: not a directory`);
      continue;
    }
    if (hasManifest(abs)) {
      runDirs.push(abs);
      continue;
    }
    const inner = readdirSync(abs)
      .map((f) => join(abs, f))
      .filter((p) => isDir(p) && hasManifest(p))
      .sort();
    if (inner.length === 0) {
      // An empty shard directory left by a failed start is not worth stopping for; anything else named explicitly is.
      if (inputs.length > 1) skipped.push(`${input}: not a run directory (no ${MANIFEST_FILE}, and no run directories in it)`);
      else throw new ReportInputError(`${input}: not a run directory (no ${MANIFEST_FILE}, and no run directories in it)`);
      continue;
    }
    runDirs.push(...inner);
  }
  const unique = [...new Set(runDirs)];
  if (unique.length === 0) throw new ReportInputError(`no run directory among: ${inputs.join(' ')}`);

  const groups: ResolvedInputs['groups'] = [];
  const byShardKey = new Map<string, ResolvedInputs['groups'][number]>();
  for (const dir of unique) {
    const shard = shardOf(dir);
    if (!shard) {
      groups.push({ label: basename(dir), dirs: [dir], sharded: false });
      continue;
    }
    const key = `${dirname(dir)}\u0000${shard.count}`;
    let g = byShardKey.get(key);
    if (!g) {
      g = { label: basename(dirname(dir)), dirs: [], sharded: true };
      byShardKey.set(key, g);
      groups.push(g);
    }
    g.dirs.push(dir);
  }
  // Labels name the column groups: make them unique with the path when two runs share a name.
  const counts = new Map<string, number>();
  for (const g of groups) counts.set(g.label, (counts.get(g.label) ?? 0) + 1);
  for (const g of groups) {
    if ((counts.get(g.label) ?? 0) > 1) g.label = relative(cwd, g.sharded ? dirname(g.dirs[0]) : g.dirs[0]) || g.label;
  }
  return { groups, skipped };
}

/** Read every directory of a group (through datasets' readRun) into one run. */
export async function loadRun(group: ResolvedInputs['groups'][number]): Promise<LoadedRun> {
  const manifests: Manifest[] = [];
  const episodes: ReportEpisode[] = [];
  const steps: ReportStep[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  for (const dir of group.dirs) {
    let run;
    try {
      run = await readRun(dir);
    } catch (e) {
      throw new ReportInputError(`${dir}: ${(e as Error).message}`);
    }
    manifests.push(run.manifest);
    let dup = 0;
    const kept = new Set<string>();
    for (const e of run.episodes as ReportEpisode[]) {
      if (seen.has(e.episode_id)) {
        dup++;
        continue;
      }
      seen.add(e.episode_id);
      kept.add(e.episode_id);
      episodes.push(e);
    }
    for (const s of run.steps as ReportStep[]) if (kept.has(s.episode_id)) steps.push(s);
    if (dup) notes.push(`${dir}: ${dup} episode id(s) already read from another shard were left out (shards of different runs in one directory?)`);
  }
  episodes.sort((a, b) => a.episode_index - b.episode_index || (a.episode_id < b.episode_id ? -1 : a.episode_id > b.episode_id ? 1 : 0));
  return { label: group.label, dirs: group.dirs, manifests, episodes, steps, notes };
}

/** A child rlm_query episode (issue 9's columns): it has a parent, or a depth above 0. */
export function isChild(e: ReportEpisode): boolean {
  return (e.parent_episode_id ?? null) !== null || (e.depth ?? 0) > 0;
}
