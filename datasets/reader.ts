/**
 * Reading a run directory back: typed rows (plain JS values) and the set of finished episode ids (for --resume).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EpisodeRecord } from '../rollouts/types.ts';
import { MANIFEST_FILE, assertConsistent, listRunParts, sha256Hex } from './layout.ts';
import { type Manifest, readManifestFile } from './manifest.ts';
import { DatasetError, decodeParquet } from './parquet.ts';
import { type EpisodeRow, type StepRow, rowsFromTable } from './schema.ts';

export interface RunData {
  /** Absolute run directory. */
  dir: string;
  manifest: Manifest;
  /** Sorted by episode_index, then episode_id. */
  episodes: EpisodeRow[];
  /** Sorted like the episodes, then by turn. */
  steps: StepRow[];
}

export interface ReadRunOptions {
  /** Check each part file's sha256 against the manifest (parts missing from the manifest are an error). Default false. */
  verify?: boolean;
}

function manifestOf(abs: string): Manifest {
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new DatasetError(`run directory not found: ${abs}`, 'not_a_run');
  let m: Manifest | null;
  try {
    m = readManifestFile(join(abs, MANIFEST_FILE));
  } catch (e) {
    throw new DatasetError(e instanceof Error ? e.message : String(e), 'unreadable');
  }
  if (!m) throw new DatasetError(`not a run directory (no ${MANIFEST_FILE}): ${abs}`, 'not_a_run');
  return m;
}

/** Read manifest.json of a run directory (rejects with DatasetError 'not_a_run' when absent). */
export async function readManifest(dir: string): Promise<Manifest> {
  return manifestOf(resolve(dir));
}

/**
 * Read every committed part of a run: `{ manifest, episodes, steps }` with plain JS values (numbers, arrays, objects;
 * `reward_components` as a Record). Steps parts without a committed episodes part (crash orphans) are ignored.
 * An unreadable file ⇒ DatasetError naming it.
 */
export async function readRun(dir: string, opts: ReadRunOptions = {}): Promise<RunData> {
  const abs = resolve(dir);
  const manifest = manifestOf(abs);
  const listing = await listRunParts(abs);
  assertConsistent(abs, listing);
  const byIndex = new Map(manifest.parts.map((p) => [p.index, p]));
  const episodes: EpisodeRow[] = [];
  const steps: StepRow[] = [];
  for (const part of listing.committed) {
    const epPath = join(abs, part.episodesFile);
    const stPath = join(abs, part.stepsFile);
    const [epBytes, stBytes] = [await readFile(epPath), await readFile(stPath)];
    if (opts.verify) {
      const listed = byIndex.get(part.index);
      if (!listed) throw new DatasetError(`${epPath} is not listed in ${MANIFEST_FILE}`, 'inconsistent');
      if (sha256Hex(epBytes) !== listed.episodes.sha256) throw new DatasetError(`sha256 mismatch: ${epPath}`, 'inconsistent');
      if (sha256Hex(stBytes) !== listed.steps.sha256) throw new DatasetError(`sha256 mismatch: ${stPath}`, 'inconsistent');
    }
    episodes.push(...rowsFromTable<EpisodeRow>(decodeParquet(epBytes, epPath)));
    steps.push(...rowsFromTable<StepRow>(decodeParquet(stBytes, stPath)));
  }
  episodes.sort((a, b) => a.episode_index - b.episode_index || (a.episode_id < b.episode_id ? -1 : a.episode_id > b.episode_id ? 1 : 0));
  const order = new Map(episodes.map((e, i) => [e.episode_id, i]));
  steps.sort((a, b) => (order.get(a.episode_id) ?? Infinity) - (order.get(b.episode_id) ?? Infinity) || a.turn - b.turn);
  return { dir: abs, manifest, episodes, steps };
}

/**
 * episode_ids present in committed part files (what `--resume` must skip). Reads only the episode_id column.
 * A missing directory ⇒ empty set. Does not require manifest.json.
 */
export async function finishedEpisodeIds(dir: string): Promise<Set<string>> {
  const abs = resolve(dir);
  const ids = new Set<string>();
  if (!existsSync(abs)) return ids;
  const listing = await listRunParts(abs);
  assertConsistent(abs, listing);
  for (const part of listing.committed) {
    const p = join(abs, part.episodesFile);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(p);
    } catch (e) {
      throw new DatasetError(`cannot read ${p}: ${e instanceof Error ? e.message : String(e)}`, 'unreadable');
    }
    for (const r of rowsFromTable<{ episode_id: string }>(decodeParquet(bytes, p, ['episode_id']))) ids.add(r.episode_id);
  }
  return ids;
}

/** Re-attach each episode's steps (sorted by turn): the EpisodeRecords of a run, e.g. for replay. */
export function joinSteps(run: Pick<RunData, 'episodes' | 'steps'>): EpisodeRecord[] {
  const byEp = new Map<string, StepRow[]>();
  for (const s of run.steps) {
    const list = byEp.get(s.episode_id);
    if (list) list.push(s);
    else byEp.set(s.episode_id, [s]);
  }
  return run.episodes.map((e) => ({
    ...e,
    steps: (byEp.get(e.episode_id) ?? [])
      .slice()
      .sort((a, b) => a.turn - b.turn)
      .map(({ run_id: _r, episode_id: _e, ...s }) => s),
  }));
}
