/**
 * Reading a user's Parquet task file into plain rows. The task layer cannot use datasets/ (data flows the other way),
 * so this is the small read-only half: parquet-wasm's ESM build (its `node` entry is CommonJS inside an ESM package)
 * instantiated from the wasm file it ships, then Arrow values turned into plain JSON values.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as arrow from 'apache-arrow';
import * as pq from 'parquet-wasm/esm';

let ready = false;
function ensureWasm(): void {
  if (ready) return;
  const require = createRequire(import.meta.url);
  pq.initSync({ module: readFileSync(require.resolve('parquet-wasm/esm/parquet_wasm_bg.wasm')) });
  ready = true;
}

/** Arrow value → plain JSON value: lists → arrays, structs → objects, int64 → number, binary → utf8 string. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v instanceof arrow.Vector) return [...v].map(plain);
  if (Array.isArray(v)) return v.map(plain);
  const maybeJson = (v as { toJSON?: () => unknown }).toJSON;
  if (typeof maybeJson === 'function') {
    const j = maybeJson.call(v);
    if (Array.isArray(j)) return j.map(plain);
    if (j && typeof j === 'object') return Object.fromEntries(Object.entries(j).map(([k, x]) => [k, plain(x)]));
    return j;
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
}

/** Every row of a Parquet file as a plain object (column name → value); throws with the decoder's message. */
export function readParquetObjects(bytes: Uint8Array): { columns: string[]; rows: Record<string, unknown>[] } {
  ensureWasm();
  const table = arrow.tableFromIPC(pq.readParquet(bytes).intoIPCStream());
  const columns = table.schema.fields.map((f) => f.name);
  const rows: Record<string, unknown>[] = Array.from({ length: table.numRows }, () => ({}));
  for (const name of columns) {
    const vec = table.getChild(name)!;
    let i = 0;
    for (const v of vec as Iterable<unknown>) rows[i++][name] = plain(v);
  }
  return { columns, rows };
}
