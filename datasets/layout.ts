/**
 * Run directory layout:
 *
 *     <dir>/manifest.json
 *     <dir>/episodes/part-00000.parquet   ← the commit marker of a batch (renamed last)
 *     <dir>/steps/part-00000.parquet      ← same NNNNN = same batch of episodes (renamed first)
 *
 * A batch is committed when its episodes part exists. A steps part without its episodes part is an orphan of a crash
 * between the two renames: readers ignore it and the next RunWriter.open removes it. Temp files (`.<name>.<pid>.<rand>.tmp`)
 * are never matched by `*.parquet` globs and are removed on reopen.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './parquet.ts';

export const MANIFEST_FILE = 'manifest.json';
export const EPISODES_DIR = 'episodes';
export const STEPS_DIR = 'steps';
export const LOCK_FILE = '.writer.lock';
const PART_RE = /^part-(\d{5,})\.parquet$/;

export function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}`;
}

export interface PartPaths {
  index: number;
  name: string;
  /** relative to the run dir */
  episodesFile: string;
  stepsFile: string;
}

async function listParts(dir: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (!existsSync(dir)) return out;
  for (const f of await readdir(dir)) {
    const m = PART_RE.exec(f);
    if (m) out.set(Number(m[1]), f);
  }
  return out;
}

export interface PartListing {
  /** Committed batches (episodes part present), by index. */
  committed: PartPaths[];
  /** Steps parts without an episodes part (crash between the two renames), relative paths. */
  orphanSteps: string[];
  /** Episodes parts without a steps part (should never happen), relative paths. */
  missingSteps: string[];
}

/** The part files of a run directory, by batch index. */
export async function listRunParts(dir: string): Promise<PartListing> {
  const eps = await listParts(join(dir, EPISODES_DIR));
  const sts = await listParts(join(dir, STEPS_DIR));
  const committed: PartPaths[] = [];
  const missingSteps: string[] = [];
  for (const [index, f] of [...eps.entries()].sort((a, b) => a[0] - b[0])) {
    const s = sts.get(index);
    if (s === undefined) {
      missingSteps.push(`${EPISODES_DIR}/${f}`);
      continue;
    }
    committed.push({ index, name: f.replace(/\.parquet$/, ''), episodesFile: `${EPISODES_DIR}/${f}`, stepsFile: `${STEPS_DIR}/${s}` });
  }
  const orphanSteps = [...sts.entries()].filter(([i]) => !eps.has(i)).map(([, f]) => `${STEPS_DIR}/${f}`);
  return { committed, orphanSteps, missingSteps };
}

/** Throw when an episodes part has no steps part: the run directory was altered by hand. */
export function assertConsistent(dir: string, listing: PartListing): void {
  if (listing.missingSteps.length) {
    throw new DatasetError(
      `run ${dir} is inconsistent: ${listing.missingSteps.join(', ')} has no matching steps part (was a file deleted?)`,
      'inconsistent',
    );
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
