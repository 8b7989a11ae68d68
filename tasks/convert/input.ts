/**
 * Reading the published dataset files a converter is given: JSON Lines (`.jsonl`), a JSON array (`.json`, such as
 * LongBench-v2's data.json, or an object holding one array) or Parquet (`.parquet`, as the Hugging Face datasets are
 * stored). Nothing is downloaded: the user brings the files.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readParquetObjects } from '../file-parquet.ts';

export class ConvertError extends Error {
  override name = 'ConvertError';
}

export interface InputRow {
  /** Source file (as given) and 1-based row within it, for error messages. */
  file: string;
  row: number;
  value: Record<string, unknown>;
}

export function readInputRows(file: string): InputRow[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new ConvertError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const ext = path.extname(file).toLowerCase();
  let values: unknown[];
  if (ext === '.parquet') {
    try {
      values = readParquetObjects(bytes).rows;
    } catch (e) {
      throw new ConvertError(`${file}: not a readable Parquet file (${(e as Error).message})`);
    }
  } else if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new ConvertError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (Array.isArray(parsed)) values = parsed;
    else if (parsed && typeof parsed === 'object') {
      const arrays = Object.values(parsed).filter(Array.isArray);
      if (arrays.length !== 1) throw new ConvertError(`${file}: expected a JSON array of rows (or an object holding exactly one array)`);
      values = arrays[0] as unknown[];
    } else throw new ConvertError(`${file}: expected a JSON array of rows`);
  } else {
    values = [];
    bytes
      .toString('utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.trim() === '') return;
        try {
          values.push(JSON.parse(line));
        } catch (e) {
          throw new ConvertError(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
        }
      });
  }
  return values.map((value, i) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConvertError(`${file} row ${i + 1}: expected an object`);
    return { file, row: i + 1, value: value as Record<string, unknown> };
  });
}

/** The value of a required column, with a clear error naming file, row and column. */
export function need<T>(r: InputRow, column: string, check: (v: unknown) => v is T, what: string): T {
  const v = r.value[column];
  if (!check(v)) {
    const got = v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 60);
    throw new ConvertError(`${r.file} row ${r.row}, column '${column}': expected ${what} (got ${got})`);
  }
  return v;
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const isIntLike = (v: unknown): v is number | string => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v.trim()));
