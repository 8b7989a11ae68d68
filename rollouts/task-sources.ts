/**
 * What `--task` names, resolved before a run starts: built-in families, task files (`file:PATH`, JSON Lines or Parquet)
 * and task plugins (`./my-family.ts`). Files are read and validated here (a bad row fails the run before any episode,
 * with its row number and column); plugins are imported, validated and registered. The result says what to record in
 * the manifest (path + sha256 + row ids of each file; path + name of each plugin) so replay and resume reload the same
 * tasks, and `checkRecordedTaskFiles` refuses a resume whose file changed.
 */
import path from 'node:path';
import {
  TASK_FAMILY_NAMES,
  TaskFileError,
  isFileTaskName,
  isPluginSpec,
  loadTaskFile,
  loadTaskPlugin,
  resolveFileTaskName,
} from '../tasks/index.ts';
import { RolloutConfigError } from './errors.ts';

export interface TaskFileRecord {
  /** The family name used in the run: `file:/abs/path`. */
  family: string;
  path: string;
  sha256: string;
  rows: number;
  /** Ids of the rows the run plays (rows 0 … n−1). */
  row_ids: string[];
}

export interface TaskPluginRecord {
  spec: string;
  path: string;
  name: string;
}

export interface ResolvedTaskSources {
  /** Family names to plan, in the order given. */
  families: string[];
  files: TaskFileRecord[];
  plugins: TaskPluginRecord[];
}

/**
 * Resolves a `--task` value (`all`, a family, a comma list mixing families, `file:PATH` and plugin paths).
 * `n` is the tasks per family; null = not given (a run of task files then plays every row).
 */
export async function resolveTaskSources(spec: string, o: { cwd: string; n: number | null }): Promise<ResolvedTaskSources & { n: number }> {
  const parts = spec === 'all' ? [...TASK_FAMILY_NAMES] : spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new RolloutConfigError(`--task is empty; valid: ${TASK_FAMILY_NAMES.join(', ')}, all, file:PATH, ./plugin.ts`);
  const families: string[] = [];
  const files: TaskFileRecord[] = [];
  const plugins: TaskPluginRecord[] = [];
  for (const p of parts) {
    if (isFileTaskName(p)) {
      const family = resolveFileTaskName(p, o.cwd);
      try {
        const f = loadTaskFile(family.slice('file:'.length));
        files.push({ family, path: f.path, sha256: f.sha256, rows: f.rows.length, row_ids: [] });
      } catch (e) {
        throw new RolloutConfigError(`--task ${p}: ${(e as Error).message}`);
      }
      families.push(family);
    } else if (isPluginSpec(p)) {
      try {
        const def = await loadTaskPlugin(p, o.cwd);
        plugins.push({ spec: p, path: def.path, name: def.name });
        families.push(def.name);
      } catch (e) {
        throw new RolloutConfigError(`--task ${p}: ${(e as Error).message}`);
      }
    } else if ((TASK_FAMILY_NAMES as readonly string[]).includes(p)) {
      families.push(p);
    } else {
      throw new RolloutConfigError(`unknown task '${p}'; valid: ${TASK_FAMILY_NAMES.join(', ')}, all, file:PATH (JSON Lines or Parquet), ./my-family.ts (a plugin)`);
    }
  }
  if (new Set(families).size !== families.length) throw new RolloutConfigError(`--task ${spec}: a family is named twice`);
  const onlyFiles = files.length > 0 && files.length === families.length;
  const n = o.n ?? (onlyFiles ? Math.min(...files.map((f) => f.rows)) : 2);
  for (const f of files) {
    if (n > f.rows) throw new RolloutConfigError(`--n ${n}: ${path.basename(f.path)} has only ${f.rows} row(s)`);
    f.row_ids = loadTaskFile(f.path).rows.slice(0, n).map((r) => r.id);
  }
  return { families, files, plugins, n };
}

/** A resumed run must see the same task files: same sha256 (else a clear refusal naming the file). */
export function checkRecordedTaskFiles(recorded: TaskFileRecord[] | undefined, current: TaskFileRecord[]): void {
  for (const r of recorded ?? []) {
    const now = current.find((c) => c.family === r.family);
    if (!now) continue;
    if (now.sha256 !== r.sha256) {
      throw new RolloutConfigError(
        new TaskFileError(r.path, `the file changed since the run was recorded (sha256 was ${r.sha256.slice(0, 16)}…, is now ${now.sha256.slice(0, 16)}…); restore the original file to resume`, { code: 'changed' }).message,
      );
    }
  }
}
