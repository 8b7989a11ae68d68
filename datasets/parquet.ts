/**
 * Parquet encode/decode via parquet-wasm (ZSTD) and apache-arrow, plus crash-safe file writes.
 *
 * parquet-wasm 0.7.1's `node` entry is CommonJS inside a `"type": "module"` package, so it cannot be imported under Node
 * ESM; we import the `esm` build and instantiate its wasm synchronously from the file shipped with the package.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import * as arrow from 'apache-arrow';
import * as pq from 'parquet-wasm/esm';
import { encodeRowsNative, nativeZstdAvailable } from './parquet-js.ts';
import { rowsFromTable, tableFromRows } from './schema.ts';

let ready = false;
function ensureWasm(): void {
  if (ready) return;
  const require = createRequire(import.meta.url);
  const wasmPath = require.resolve('parquet-wasm/esm/parquet_wasm_bg.wasm');
  pq.initSync({ module: readFileSync(wasmPath) });
  ready = true;
}

/** A file that is not readable Parquet (or not the expected table). The message names the file. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    message: string,
    readonly code: 'unreadable' | 'not_a_run' | 'locked' | 'duplicate_episode' | 'run_id_mismatch' | 'inconsistent' | 'closed' = 'unreadable',
  ) {
    super(message);
  }
}

/**
 * Top-level columns worth dictionary-encoding (few distinct values). Dictionary encoding is off for everything else:
 * measured on synthetic runs, dictionary pages on long unique text (replies, observations, prompts) cost ~25% more time
 * and ~15% more bytes than plain ZSTD.
 */
export const DICTIONARY_COLUMNS: readonly string[] = [
  'run_id',
  'episode_id',
  'group_id',
  'task_family',
  'task_id',
  'stop_reason',
  'root_model',
  'sub_model',
  'data_source',
  'ability',
  'env_name',
];

/** Encode an Arrow table as ZSTD-compressed Parquet bytes (chunk-level statistics, dictionary only on low-cardinality columns). */
export function encodeParquet(table: arrow.Table): Uint8Array {
  ensureWasm();
  const wasmTable = pq.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  let b = new pq.WriterPropertiesBuilder()
    .setCompression(pq.Compression.ZSTD)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pq.EnabledStatistics.Chunk)
    .setCreatedBy('rlm-gym (parquet-wasm)');
  for (const f of table.schema.fields) if (DICTIONARY_COLUMNS.includes(f.name)) b = b.setColumnDictionaryEnabled(f.name, true);
  return pq.writeParquet(wasmTable, b.build()); // consumes wasmTable and the properties
}

/** Encode plain JS rows with exactly `schema` as ZSTD Parquet. */
export function encodeRows(schema: arrow.Schema, rows: readonly Record<string, unknown>[]): Uint8Array {
  return encodeParquet(tableFromRows(schema, rows));
}

/**
 * Encode plain JS rows (already validated against `schema`) as ZSTD Parquet with the fastest engine available: the
 * TypeScript encoder with native ZSTD on the thread pool (datasets/parquet-js.ts), else parquet-wasm ({@link encodeRows}).
 * Both write the same columns and types; RLM_GYM_PARQUET_ENGINE=wasm forces parquet-wasm.
 */
export async function encodeRowsFast(schema: arrow.Schema, rows: readonly Record<string, unknown>[]): Promise<Uint8Array> {
  if (nativeZstdAvailable()) return encodeRowsNative(schema, rows);
  return encodeRows(schema, rows);
}

/** Which engine {@link encodeRowsFast} uses in this process: 'native' (TypeScript + native ZSTD) or 'wasm' (parquet-wasm). */
export function parquetEngine(): 'native' | 'wasm' {
  return nativeZstdAvailable() ? 'native' : 'wasm';
}

/** Decode Parquet bytes to an Arrow table (optionally only some columns). `label` names the source in errors. */
export function decodeParquet(bytes: Uint8Array, label: string, columns?: string[]): arrow.Table {
  ensureWasm();
  try {
    const t = pq.readParquet(bytes, columns ? { columns } : undefined);
    return arrow.tableFromIPC(t.intoIPCStream());
  } catch (e) {
    throw new DatasetError(`cannot read Parquet file ${label}: ${e instanceof Error ? e.message : String(e)}`, 'unreadable');
  }
}

/** Read a Parquet file into plain JS rows (see rowsFromTable). Unreadable ⇒ DatasetError naming the file. */
export async function readParquetRows<T = Record<string, unknown>>(path: string, columns?: string[]): Promise<T[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DatasetError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, 'unreadable');
  }
  return rowsFromTable<T>(decodeParquet(bytes, path, columns));
}

/** Temp name used while writing `path`: hidden, ends in .tmp (so `*.parquet` globs never see it). */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** True for a temp file left by {@link writeFileAtomic} (e.g. after a crash). */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** Best-effort cleanup after a failed write: never replaces the original error (rm throws ENOTDIR under a non-directory). */
export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}

/** fsync a directory (makes the renames in it durable). */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some platforms/filesystems cannot fsync a directory; the rename itself is still atomic.
  }
}

/** Write `data` to a fresh temp name beside `path` and fsync it; returns the temp path (removed again on failure). */
export async function writeTempSynced(path: string, data: Uint8Array | string): Promise<string> {
  const tmp = tempNameFor(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await removeQuietly(tmp);
    throw e;
  }
  return tmp;
}

/** Write `data` to a temp file in the same directory, fsync it, rename it over `path`, fsync the directory. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = await writeTempSynced(path, data);
  try {
    await rename(tmp, path);
  } catch (e) {
    await removeQuietly(tmp);
    throw e;
  }
  await fsyncDir(dirname(path));
}
