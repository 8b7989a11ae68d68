/**
 * Where a generated context lives: in memory (a string, as always) or host-backed (chunk files on disk, see
 * chunked.ts). Generators that support host storage (sniah; oolong) accept three placement options:
 *   contextStorage        'auto' (default) | 'memory' | 'host' — auto = host when the estimated size exceeds the threshold
 *   hostContextThreshold  chars (default 64 Mi = 67,108,864) above which auto stores on disk
 *   contextDir            directory for the chunk files (default: a fresh temp dir per task, removed by its owner)
 * Placement never changes the text: the same seed and options give the same characters either way (but a host-backed
 * task's id hashes its chunk hashes, so it differs from the in-memory id). task.options records `contextStorage` only
 * when it is needed to reproduce the task (it differs from what auto with the default threshold picks) and `contextDir`
 * when given; neither threshold nor directory is part of the id.
 *
 * A host-backed task also writes `task.json` (the whole Task) next to its chunk files, so generating the same task again
 * into the same contextDir reuses the files after verifying every chunk's sha256 (a changed file is refused).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { isChunkedContext, verifyChunkedContext } from './chunked.ts';
import { canonicalJson, taskHash } from './hash.ts';
import { TaskOptionError } from './errors.ts';
import type { Task } from './types.ts';

export const CONTEXT_STORAGES = ['auto', 'memory', 'host'] as const;
export type ContextStorage = (typeof CONTEXT_STORAGES)[number];
/** 64 Mi chars: well below V8's ~2^29-char string limit and the sandbox's default memory; ≈ 12M o200k tokens of prose. */
export const DEFAULT_HOST_CONTEXT_THRESHOLD = 1 << 26;
/** Largest host-backed context a generator accepts (tokens): 2B ≈ 10 GB of text on disk. */
export const MAX_HOST_CONTEXT_TOKENS = 2_000_000_000;
export const TASK_FILE = 'task.json';

/** The zod fields a family adds to its strict schema to accept placement options. */
export const placementFields = {
  contextStorage: z.enum(CONTEXT_STORAGES).optional(),
  hostContextThreshold: z.number().int().min(1).optional(),
  contextDir: z.string().min(1).optional(),
};

export interface PlacementOptions {
  contextStorage?: ContextStorage;
  hostContextThreshold?: number;
  contextDir?: string;
}

export interface Placement {
  host: boolean;
  /** Host only: the directory of this task's chunk files. */
  dir: string | null;
  /** Host only: the directory was created for this task alone (its owner deletes it: removeTaskContext). */
  temporary: boolean;
  /** What task.options must carry (see the header). */
  recorded: PlacementOptions;
}

/** The placement rule alone: does a context of about `estimatedChars` go to disk under these options? */
export function placesOnHost(o: PlacementOptions, estimatedChars: number): boolean {
  const storage = o.contextStorage ?? 'auto';
  return storage === 'host' || (storage === 'auto' && estimatedChars > (o.hostContextThreshold ?? DEFAULT_HOST_CONTEXT_THRESHOLD));
}

/**
 * Decides where a context of about `estimatedChars` goes. `identity` (the task's options without placement keys) names
 * the task's sub-directory inside contextDir, so several tasks can share one contextDir.
 */
export function resolvePlacement(family: string, seed: number, identity: Record<string, unknown>, o: PlacementOptions, estimatedChars: number): Placement {
  const host = placesOnHost(o, estimatedChars);
  const defaultHost = estimatedChars > DEFAULT_HOST_CONTEXT_THRESHOLD;
  const recorded: PlacementOptions = {};
  if (host !== defaultHost) recorded.contextStorage = host ? 'host' : 'memory';
  if (!host) return { host, dir: null, temporary: false, recorded };
  // Absolute, so replay and --resume from another cwd find the same files.
  if (o.contextDir !== undefined) recorded.contextDir = resolve(o.contextDir);
  if (o.contextDir === undefined) {
    return { host, dir: mkdtempSync(join(tmpdir(), `rlm-gym-context-${family}-`)), temporary: true, recorded };
  }
  const tag = createHash('sha256').update(canonicalJson(identity)).digest('hex').slice(0, 12);
  const dir = join(resolve(o.contextDir), `${family}-${seed}-${tag}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TaskOptionError(family, 'contextDir', `option 'contextDir' ${JSON.stringify(o.contextDir)} cannot be used: ${(e as Error).message}`);
  }
  return { host, dir, temporary: false, recorded };
}

/** A host-backed task already generated into `dir` with the same options (verified: every chunk's sha256), or null. */
export function reuseHostTask(dir: string, options: Record<string, unknown>): Task | null {
  const path = join(dir, TASK_FILE);
  if (!existsSync(path)) return null;
  let task: Task;
  try {
    task = JSON.parse(readFileSync(path, 'utf8')) as Task;
  } catch {
    return null;
  }
  if (!isChunkedContext(task.context) || canonicalJson(task.options) !== canonicalJson(options)) return null;
  task.context.dir = dir;
  // Throws ChunkedContextError naming the file when a chunk was changed: never silently regenerate over evidence.
  verifyChunkedContext(task.context);
  if (taskHash(task) !== task.id) return null;
  return task;
}

/** Writes task.json beside the chunk files (what reuseHostTask reads). */
export function saveHostTask(task: Task): void {
  if (!isChunkedContext(task.context)) return;
  writeFileSync(join(task.context.dir, TASK_FILE), `${JSON.stringify(task)}\n`);
}

/** True when the task's context is host-backed in a directory created for it alone (see Placement.temporary). */
export function isTemporaryContext(task: Task): boolean {
  return isChunkedContext(task.context) && (task.meta.contextStorage as { temporary?: boolean } | undefined)?.temporary === true;
}

/** Deletes a host-backed task's files when they were created for it alone (a user's contextDir is left alone). */
export function removeTaskContext(task: Task): void {
  if (isTemporaryContext(task)) rmSync((task.context as { dir: string }).dir, { recursive: true, force: true });
}

/**
 * Undoes a placement after the generator failed: a temporary directory (created for this task alone) is removed with
 * everything in it; a task directory inside the user's contextDir is removed only when empty (the generator's writer
 * removes the files it wrote: ChunkWriter.abort), so nothing else there is ever deleted.
 */
export function abandonPlacement(placement: Placement): void {
  if (!placement.host || placement.dir === null) return;
  try {
    if (placement.temporary) rmSync(placement.dir, { recursive: true, force: true });
    else rmdirSync(placement.dir);
  } catch {
    // Not empty (files of an earlier task) or already gone: left as it is.
  }
}
