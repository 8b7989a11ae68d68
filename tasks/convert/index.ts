/**
 * Converters from the published long-context datasets to the task-file format (`--task file:PATH`), with their
 * official scoring rules mapped onto the file scorers. The user brings the files; nothing downloads.
 *
 *   convertFiles('oolong', ['validation.parquet'], { dataset: 'trec_coarse' }) → FileTaskRow[]
 *   writeTaskFile(rows, 'tasks.jsonl')                                         → validated JSON Lines
 */
import { writeFileSync } from 'node:fs';
import { loadTaskFile, type FileTaskRow } from '../file-tasks.ts';
import { convertBrowseCompPlus } from './browsecomp-plus.ts';
import { ConvertError, readInputRows, type InputRow } from './input.ts';
import { CODEQA_DOMAIN, convertLongBenchV2 } from './longbench.ts';
import { convertOolongReal, convertOolongSynth, type ConvertOptions } from './oolong.ts';
import { convertOolongPairs } from './pairs.ts';

export { ConvertError } from './input.ts';
export { OOLONG_PAIRS_TASKS, goldPairs, pairQuestion, parseLabelledContext } from './pairs.ts';
export { parsePythonList, type ConvertOptions } from './oolong.ts';
export { CODEQA_DOMAIN } from './longbench.ts';

export const CONVERT_SOURCES = ['oolong', 'oolong-real', 'oolong-pairs', 'browsecomp-plus', 'longbench-v2'] as const;
export type ConvertSource = (typeof CONVERT_SOURCES)[number];

export interface ConvertAllOptions extends ConvertOptions {
  /** longbench-v2: keep one domain (CodeQA = "Code Repository Understanding"). */
  domain?: string | null;
}

export function convertRows(from: ConvertSource, rows: InputRow[], o: ConvertAllOptions = {}): FileTaskRow[] {
  switch (from) {
    case 'oolong':
      return convertOolongSynth(rows, o);
    case 'oolong-real':
      return convertOolongReal(rows, o);
    case 'oolong-pairs':
      return convertOolongPairs(rows, o);
    case 'browsecomp-plus':
      return convertBrowseCompPlus(rows, o);
    case 'longbench-v2':
      return convertLongBenchV2(rows, o);
  }
  throw new ConvertError(`unknown source '${String(from)}'; valid: ${CONVERT_SOURCES.join(', ')}`);
}

export function convertFiles(from: ConvertSource, files: string[], o: ConvertAllOptions = {}): FileTaskRow[] {
  if (!(CONVERT_SOURCES as readonly string[]).includes(from)) throw new ConvertError(`unknown --from '${from}'; valid: ${CONVERT_SOURCES.join(', ')}`);
  if (files.length === 0) throw new ConvertError('no input files given');
  const rows = files.flatMap(readInputRows);
  const out = convertRows(from, rows, o);
  if (out.length === 0) throw new ConvertError(`no tasks: none of the ${rows.length} input rows matched${o.dataset ? ` (dataset ${o.dataset})` : ''}${o.domain ? ` (domain ${o.domain})` : ''}`);
  return out;
}

/** Writes JSON Lines and validates the result with the task-file reader (a converter bug fails here, not in a run). */
export function writeTaskFile(rows: FileTaskRow[], out: string): { rows: number; sha256: string } {
  const lines = rows.map((r) => {
    const o: Record<string, unknown> = { id: r.id, question: r.question, context: r.context, answer: r.answer, scorer: r.scorer };
    if (r.aliases.length) o.aliases = r.aliases;
    if (Object.keys(r.meta).length) o.meta = r.meta;
    return JSON.stringify(o);
  });
  writeFileSync(out, `${lines.join('\n')}\n`);
  const f = loadTaskFile(out);
  return { rows: f.rows.length, sha256: f.sha256 };
}

export const CODEQA = CODEQA_DOMAIN;
