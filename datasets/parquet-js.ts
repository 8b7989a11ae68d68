/**
 * A Parquet encoder for rlm-gym's own schemas, in TypeScript: rows are shredded straight into column chunks (Dremel
 * repetition/definition levels, PLAIN values, RLE levels, data pages v1, one row group), each page is compressed with
 * native ZSTD (`@mongodb-js/zstd`, which runs on libuv's thread pool, so the pages of a part compress in parallel and
 * off the event loop), and the footer is Thrift compact protocol with the Arrow schema under `ARROW:schema`, so Arrow
 * readers (pyarrow, Hugging Face datasets, parquet-wasm) get the exact types and schema metadata back.
 *
 * Why not parquet-wasm for the run tables: measured on the parquet_write bench, rows → Arrow → IPC → wasm → ZSTD cost
 * ~4× DuckDB's time, most of it in the copies and the single-threaded wasm ZSTD. This path makes one pass over the rows.
 * When the native ZSTD binding cannot be loaded, {@link nativeZstdAvailable} is false and callers use parquet-wasm
 * (datasets/parquet.ts), which writes the same logical files.
 */
import { createRequire } from 'node:module';
import * as arrow from 'apache-arrow';

type Compress = (data: Buffer, level: number) => Promise<Buffer>;

let zstdCompress: Compress | null | undefined;
let zstdLoadError = '';

/** The native ZSTD compressor, or null (with {@link nativeZstdError}) when its binding is not installed for this platform. */
function nativeCompress(): Compress | null {
  if (zstdCompress !== undefined) return zstdCompress;
  if (process.env.RLM_GYM_PARQUET_ENGINE === 'wasm') {
    zstdLoadError = 'RLM_GYM_PARQUET_ENGINE=wasm';
    return (zstdCompress = null);
  }
  try {
    const require = createRequire(import.meta.url);
    // The package's index.js drops the level argument; its napi binding takes it.
    zstdCompress = (require('@mongodb-js/zstd/bindings.js') as { compress: Compress }).compress;
  } catch (e) {
    zstdLoadError = e instanceof Error ? e.message : String(e);
    zstdCompress = null;
  }
  return zstdCompress;
}

/** True when the native encoder can be used (the `@mongodb-js/zstd` binding loads and RLM_GYM_PARQUET_ENGINE≠wasm). */
export function nativeZstdAvailable(): boolean {
  return nativeCompress() !== null;
}

/** Why the native encoder is unavailable ('' when it is available). */
export function nativeZstdError(): string {
  nativeCompress();
  return zstdLoadError;
}

/** ZSTD level of the pages (parquet-wasm's default level too). */
export const ZSTD_LEVEL = 1;
/** A column's page is cut at the next row boundary once it holds this many uncompressed bytes. */
const PAGE_BYTES = 1 << 20;

// ---------------------------------------------------------------------------------------------------------------------
// Growable byte buffer
// ---------------------------------------------------------------------------------------------------------------------

class Bytes {
  buf: Buffer;
  len = 0;
  constructor(cap = 1024) {
    this.buf = Buffer.allocUnsafe(cap);
  }
  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const b = Buffer.allocUnsafe(cap);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  byte(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  varint(v: number): void {
    // v: a non-negative integer < 2^53 (arithmetic, not bit operations, past 2^31).
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }
  append(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Thrift compact protocol (just what the Parquet footer and page headers need)
// ---------------------------------------------------------------------------------------------------------------------

const CT = { TRUE: 1, FALSE: 2, BYTE: 3, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

class Thrift {
  readonly out = new Bytes(4096);
  private last = 0;
  private stack: number[] = [];
  private header(id: number, type: number): void {
    const d = id - this.last;
    if (d > 0 && d <= 15) this.out.byte((d << 4) | type);
    else {
      this.out.byte(type);
      this.out.varint(id >= 0 ? id * 2 : -id * 2 - 1);
    }
    this.last = id;
  }
  i32(id: number, v: number): this {
    this.header(id, CT.I32);
    this.out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
    return this;
  }
  i64(id: number, v: number): this {
    this.header(id, CT.I64);
    this.out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
    return this;
  }
  i8(id: number, v: number): this {
    this.header(id, CT.BYTE);
    this.out.byte(v & 0xff);
    return this;
  }
  bool(id: number, v: boolean): this {
    this.header(id, v ? CT.TRUE : CT.FALSE);
    return this;
  }
  str(id: number, v: string): this {
    this.header(id, CT.BINARY);
    const b = Buffer.from(v, 'utf8');
    this.out.varint(b.length);
    this.out.append(b);
    return this;
  }
  /** Begin a struct-valued field (or, with id null, a struct element of a list / the top-level message). */
  begin(id: number | null): this {
    if (id !== null) this.header(id, CT.STRUCT);
    this.stack.push(this.last);
    this.last = 0;
    return this;
  }
  end(): this {
    this.out.byte(0);
    this.last = this.stack.pop() ?? 0;
    return this;
  }
  list(id: number, elemType: number, n: number): this {
    this.header(id, CT.LIST);
    if (n < 15) this.out.byte((n << 4) | elemType);
    else {
      this.out.byte(0xf0 | elemType);
      this.out.varint(n);
    }
    return this;
  }
  i32Elem(v: number): this {
    this.out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
    return this;
  }
  strElem(v: string): this {
    const b = Buffer.from(v, 'utf8');
    this.out.varint(b.length);
    this.out.append(b);
    return this;
  }
}

// Parquet enums (parquet.thrift)
const PT = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const REP = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
const CONVERTED = { UTF8: 0, MAP: 1, LIST: 3, INT_8: 15 } as const;
const ENC = { PLAIN: 0, RLE: 3 } as const;
const CODEC_ZSTD = 6;

// ---------------------------------------------------------------------------------------------------------------------
// Schema tree: Arrow fields → Parquet nodes with their leaves
// ---------------------------------------------------------------------------------------------------------------------

type Physical = (typeof PT)[keyof typeof PT];
type LeafKind = 'utf8' | 'bool' | 'i8' | 'i32' | 'i64' | 'f64';

interface LeafDef {
  index: number;
  path: string[];
  kind: LeafKind;
  physical: Physical;
  maxDef: number;
  maxRep: number;
}

type Node =
  | { kind: 'leaf'; name: string; optional: boolean; leaf: LeafDef }
  | { kind: 'struct'; name: string; optional: boolean; children: Node[]; leaves: number[] }
  | { kind: 'list'; name: string; optional: boolean; itemName: string; item: Node; rep: number; leaves: number[] }
  | { kind: 'map'; name: string; optional: boolean; key: Node; value: Node; rep: number; leaves: number[] };

interface Plan {
  fields: Node[];
  leaves: LeafDef[];
  /** The flattened Parquet schema (SchemaElement list), encoded once. */
  schemaElements: (t: Thrift) => void;
  schemaElementCount: number;
  arrowSchemaB64: string;
  /** Idle column sets of this schema (two encodes of one schema may run at once). */
  pool: Column[][];
}

function leafKind(t: arrow.DataType): LeafKind {
  if (t instanceof arrow.Utf8) return 'utf8';
  if (t instanceof arrow.Bool) return 'bool';
  if (t instanceof arrow.Float64) return 'f64';
  if (t instanceof arrow.Int && t.isSigned && t.bitWidth === 8) return 'i8';
  if (t instanceof arrow.Int && t.isSigned && t.bitWidth === 32) return 'i32';
  if (t instanceof arrow.Int && t.isSigned && t.bitWidth === 64) return 'i64';
  throw new TypeError(`the native Parquet encoder does not support Arrow type ${String(t)}`);
}

const PHYSICAL: Record<LeafKind, Physical> = { utf8: PT.BYTE_ARRAY, bool: PT.BOOLEAN, i8: PT.INT32, i32: PT.INT32, i64: PT.INT64, f64: PT.DOUBLE };

function planFor(schema: arrow.Schema): Plan {
  const leaves: LeafDef[] = [];
  const emitters: ((t: Thrift) => void)[] = [];
  const build = (name: string, type: arrow.DataType, optional: boolean, path: string[], def: number, rep: number): Node => {
    const d = def + (optional ? 1 : 0);
    const repetition = optional ? REP.OPTIONAL : REP.REQUIRED;
    if (type instanceof arrow.List) {
      const child = type.children[0]!;
      const slot = emitters.length;
      emitters.push(() => undefined);
      const repGroupSlot = emitters.length;
      emitters.push(() => undefined);
      const item = build(child.name, child.type, child.nullable, [...path, name, 'list'], d + 1, rep + 1);
      const node: Node = { kind: 'list', name, optional, itemName: child.name, item, rep: rep + 1, leaves: leavesOf(item) };
      emitters[slot] = (t) => t.begin(null).i32(3, repetition).str(4, name).i32(5, 1).i32(6, CONVERTED.LIST).begin(10).begin(3).end().end().end();
      emitters[repGroupSlot] = (t) => t.begin(null).i32(3, REP.REPEATED).str(4, 'list').i32(5, 1).end();
      return node;
    }
    if (type instanceof arrow.Map_) {
      const entries = type.children[0]!;
      const [kf, vf] = (entries.type as arrow.Struct).children as [arrow.Field, arrow.Field];
      const slot = emitters.length;
      emitters.push(() => undefined);
      const repGroupSlot = emitters.length;
      emitters.push(() => undefined);
      const key = build(kf.name, kf.type, false, [...path, name, entries.name], d + 1, rep + 1);
      const value = build(vf.name, vf.type, vf.nullable, [...path, name, entries.name], d + 1, rep + 1);
      const node: Node = { kind: 'map', name, optional, key, value, rep: rep + 1, leaves: [...leavesOf(key), ...leavesOf(value)] };
      emitters[slot] = (t) => t.begin(null).i32(3, repetition).str(4, name).i32(5, 1).i32(6, CONVERTED.MAP).begin(10).begin(2).end().end().end();
      emitters[repGroupSlot] = (t) => t.begin(null).i32(3, REP.REPEATED).str(4, entries.name).i32(5, 2).end();
      return node;
    }
    if (type instanceof arrow.Struct) {
      const slot = emitters.length;
      emitters.push(() => undefined);
      const children = type.children.map((f) => build(f.name, f.type, f.nullable, [...path, name], d, rep));
      emitters[slot] = (t) => t.begin(null).i32(3, repetition).str(4, name).i32(5, children.length).end();
      return { kind: 'struct', name, optional, children, leaves: children.flatMap(leavesOf) };
    }
    const kind = leafKind(type);
    const leaf: LeafDef = { index: leaves.length, path: [...path, name], kind, physical: PHYSICAL[kind], maxDef: d, maxRep: rep };
    leaves.push(leaf);
    emitters.push((t) => {
      t.begin(null).i32(1, leaf.physical).i32(3, repetition).str(4, name);
      if (kind === 'utf8') t.i32(6, CONVERTED.UTF8).begin(10).begin(1).end().end();
      if (kind === 'i8') t.i32(6, CONVERTED.INT_8).begin(10).begin(10).i8(1, 8).bool(2, true).end().end();
      t.end();
    });
    return { kind: 'leaf', name, optional, leaf };
  };
  const fields = schema.fields.map((f) => build(f.name, f.type, f.nullable, [], 0, 0));
  const root = (t: Thrift) => t.begin(null).str(4, 'arrow_schema').i32(5, fields.length).end();
  return {
    fields,
    leaves,
    schemaElements: (t) => {
      root(t);
      for (const e of emitters) e(t);
    },
    schemaElementCount: emitters.length + 1,
    arrowSchemaB64: arrowSchemaMessage(schema),
    pool: [],
  };
}

function leavesOf(n: Node): number[] {
  return n.kind === 'leaf' ? [n.leaf.index] : n.leaves;
}

/** The Arrow IPC schema message (continuation marker, length, flatbuffer), base64 — the `ARROW:schema` footer value. */
function arrowSchemaMessage(schema: arrow.Schema): string {
  const ipc = arrow.tableToIPC(new arrow.Table(schema), 'stream');
  const dv = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  const cont = dv.getUint32(0, true) === 0xffffffff;
  const len = dv.getInt32(cont ? 4 : 0, true);
  return Buffer.from(ipc.subarray(0, (cont ? 8 : 4) + len)).toString('base64');
}

const plans = new WeakMap<arrow.Schema, Plan>();
function plan(schema: arrow.Schema): Plan {
  let p = plans.get(schema);
  if (!p) plans.set(schema, (p = planFor(schema)));
  return p;
}

// ---------------------------------------------------------------------------------------------------------------------
// Column writers: levels + PLAIN values, cut into pages at row boundaries
// ---------------------------------------------------------------------------------------------------------------------

interface Page {
  data: Buffer;
  numValues: number;
  nulls: number;
}

class Levels {
  a = new Uint8Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) this.grow(1);
    this.a[this.n++] = v;
  }
  fill(v: number, count: number): void {
    if (this.n + count > this.a.length) this.grow(count);
    this.a.fill(v, this.n, this.n + count);
    this.n += count;
  }
  private grow(extra: number): void {
    let cap = this.a.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
}

let f64Scratch = new Float64Array(1024);
let i32Scratch = new Int32Array(1024);
function scratchF64(n: number): Float64Array {
  if (f64Scratch.length < n) f64Scratch = new Float64Array(Math.max(n, f64Scratch.length * 2));
  return f64Scratch;
}
function scratchI32(n: number): Int32Array {
  if (i32Scratch.length < n) i32Scratch = new Int32Array(Math.max(n, i32Scratch.length * 2));
  return i32Scratch;
}

/** RLE runs only (a valid RLE/bit-packed hybrid stream): varint(run << 1) then the value in one byte (levels ≤ 255). */
function rleLevels(l: Levels, out: Bytes): void {
  const lenAt = out.len;
  out.u32(0);
  const a = l.a;
  let i = 0;
  while (i < l.n) {
    const v = a[i]!;
    let j = i + 1;
    while (j < l.n && a[j] === v) j++;
    out.varint((j - i) * 2);
    out.byte(v);
    i = j;
  }
  out.buf.writeUInt32LE(out.len - lenAt - 4, lenAt);
}

class Column {
  rep = new Levels();
  def = new Levels();
  values = new Bytes(4096);
  /** Pages are assembled here, one after another (views stay valid when it grows: they keep the old buffer). */
  arena = new Bytes(4096);
  /** Last utf8 value written and where its bytes are (repeated ids, models, roles are copied, not re-encoded). */
  lastStr: string | null = null;
  lastAt = 0;
  lastLen = 0;
  bits = 0; // boolean values in the current page
  nulls = 0;
  /** Level entries (values + nulls + empty lists) in the current page. */
  count = 0;
  pages: Page[] = [];
  constructor(readonly leaf: LeafDef) {}

  /** Ready for a new file (buffers kept: columns are pooled, so big parts do not churn external memory). */
  reset(): void {
    this.rep.n = 0;
    this.def.n = 0;
    this.values.len = 0;
    this.arena.len = 0;
    this.bits = 0;
    this.nulls = 0;
    this.count = 0;
    this.pages = [];
    this.lastStr = null;
  }

  /** Start a row (rep level 0): cut the page first when it is full. */
  rowBoundary(): void {
    if (this.values.len + this.count >= PAGE_BYTES) this.cut();
  }

  cut(): void {
    const n = this.count;
    if (n === 0 && this.pages.length > 0) return;
    const out = this.arena;
    const start = out.len;
    if (this.leaf.maxRep > 0) rleLevels(this.rep, out);
    if (this.leaf.maxDef > 0) rleLevels(this.def, out);
    out.append(this.values.view());
    this.pages.push({ data: out.buf.subarray(start, out.len), numValues: n, nulls: this.nulls });
    this.rep.n = 0;
    this.def.n = 0;
    this.values.len = 0;
    this.bits = 0;
    this.nulls = 0;
    this.count = 0;
    this.lastStr = null;
  }

  /** A null or absent value at (rep, def) below this leaf's max definition level. */
  empty(rep: number, def: number): void {
    this.count++;
    if (this.leaf.maxRep > 0) this.rep.push(rep);
    this.def.push(def);
    if (def < this.leaf.maxDef) this.nulls++;
  }

  value(rep: number, v: unknown): void {
    this.count++;
    if (this.leaf.maxRep > 0) this.rep.push(rep);
    if (this.leaf.maxDef > 0) this.def.push(this.leaf.maxDef);
    this.put(v);
  }

  put(v: unknown): void {
    const b = this.values;
    switch (this.leaf.kind) {
      case 'utf8': {
        const s = v as string;
        if (s === this.lastStr) {
          b.ensure(this.lastLen);
          b.buf.copyWithin(b.len, this.lastAt, this.lastAt + this.lastLen);
          b.len += this.lastLen;
          return;
        }
        b.ensure(4 + s.length * 3);
        const n = s.length === 0 ? 0 : b.buf.write(s, b.len + 4, 'utf8');
        b.buf.writeUInt32LE(n, b.len);
        this.lastStr = s;
        this.lastAt = b.len;
        this.lastLen = 4 + n;
        b.len += 4 + n;
        return;
      }
      case 'f64':
        b.ensure(8);
        b.buf.writeDoubleLE(v as number, b.len);
        b.len += 8;
        return;
      case 'i32':
      case 'i8': {
        const x = typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : Math.round(v as number);
        b.ensure(4);
        // Wrap like the Int32Array/Int8Array stores of the Arrow path.
        b.buf.writeInt32LE(this.leaf.kind === 'i8' ? (x << 24) >> 24 : x | 0, b.len);
        b.len += 4;
        return;
      }
      case 'i64': {
        b.ensure(8);
        if (typeof v === 'bigint') b.buf.writeBigInt64LE(BigInt.asIntN(64, v), b.len);
        else {
          const x = Math.round(v as number);
          const hi = Math.floor(x / 4294967296);
          b.buf.writeUInt32LE(x - hi * 4294967296, b.len);
          b.buf.writeInt32LE(hi | 0, b.len + 4);
        }
        b.len += 8;
        return;
      }
      case 'bool': {
        const i = this.bits++;
        if ((i & 7) === 0) b.byte(0);
        if (v === true) b.buf[b.len - 1]! |= 1 << (i & 7);
        return;
      }
    }
  }

  /** A whole list of required numbers under one list node (token ids, logprobs, masks): levels by fill, values in a loop. */
  numbers(rep: number, listRep: number, v: ArrayLike<unknown>): void {
    const n = v.length;
    this.count += n;
    if (this.leaf.maxRep > 0) {
      this.rep.push(rep);
      this.rep.fill(listRep, n - 1);
    }
    this.def.fill(this.leaf.maxDef, n);
    const b = this.values;
    const k = this.leaf.kind;
    if (k === 'f64') {
      b.ensure(8 * n);
      let f = v instanceof Float64Array ? v : null;
      if (!f) {
        f = scratchF64(n);
        f.set(v as ArrayLike<number>);
      }
      b.buf.set(new Uint8Array(f.buffer, f.byteOffset, 8 * n), b.len);
      b.len += 8 * n;
      return;
    }
    if (k === 'i32' || k === 'i8') {
      // Token ids and masks: through an Int32Array in one loop when every value is already an integer in range (the
      // usual case); otherwise value by value, rounding and wrapping like the Arrow path.
      const t = v instanceof Int32Array && k === 'i32' ? v : scratchI32(n);
      let ok = t === v;
      if (!ok) {
        ok = true;
        for (let i = 0; i < n; i++) {
          const x = v[i] as number;
          const y = k === 'i8' ? (x << 24) >> 24 : x | 0;
          if (y !== x) {
            ok = false;
            break;
          }
          t[i] = y;
        }
      }
      if (ok) {
        b.ensure(4 * n);
        b.buf.set(new Uint8Array(t.buffer, t.byteOffset, 4 * n), b.len);
        b.len += 4 * n;
        return;
      }
    }
    for (let i = 0; i < n; i++) this.put(v[i]);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Shredding rows (assumed valid: the writer validates each record when it is added)
// ---------------------------------------------------------------------------------------------------------------------

function allEmpty(cols: Column[], leaves: number[], rep: number, def: number): void {
  for (const i of leaves) cols[i]!.empty(rep, def);
}

function shred(cols: Column[], node: Node, v: unknown, rep: number, def: number): void {
  if (v === null || v === undefined) {
    if (!node.optional) throw new TypeError(`Parquet encoder: non-nullable "${node.name}" is ${v === null ? 'null' : 'missing'}`);
    if (node.kind === 'leaf') cols[node.leaf.index]!.empty(rep, def);
    else allEmpty(cols, node.leaves, rep, def);
    return;
  }
  const d = node.optional ? def + 1 : def;
  switch (node.kind) {
    case 'leaf':
      cols[node.leaf.index]!.value(rep, v);
      return;
    case 'struct': {
      const o = v as Record<string, unknown>;
      for (const c of node.children) shred(cols, c, o[c.name], rep, d);
      return;
    }
    case 'list': {
      const items = v as ArrayLike<unknown>;
      if (items.length === 0) return allEmpty(cols, node.leaves, rep, d);
      const item = node.item;
      if (item.kind === 'leaf' && !item.optional && item.leaf.kind !== 'utf8' && item.leaf.kind !== 'bool') {
        cols[item.leaf.index]!.numbers(rep, node.rep, items);
        return;
      }
      for (let i = 0; i < items.length; i++) shred(cols, item, items[i], i === 0 ? rep : node.rep, d + 1);
      return;
    }
    case 'map': {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
      if (entries.length === 0) return allEmpty(cols, node.leaves, rep, d);
      for (let i = 0; i < entries.length; i++) {
        const r = i === 0 ? rep : node.rep;
        shred(cols, node.key, entries[i]![0], r, d + 1);
        shred(cols, node.value, entries[i]![1], r, d + 1);
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// File assembly
// ---------------------------------------------------------------------------------------------------------------------

function pageHeader(p: Page, compressedSize: number): Buffer {
  const t = new Thrift();
  t.begin(null)
    .i32(1, 0) // DATA_PAGE
    .i32(2, p.data.length)
    .i32(3, compressedSize)
    .begin(5)
    .i32(1, p.numValues)
    .i32(2, ENC.PLAIN)
    .i32(3, ENC.RLE)
    .i32(4, ENC.RLE)
    .end()
    .end();
  return Buffer.from(t.out.view());
}

/** Running totals of this process's native encodes (the bench reports them): time shredding, time awaiting ZSTD. */
export const encodeStats = { files: 0, shred_ms: 0, issue_ms: 0, compress_wait_ms: 0, uncompressed_bytes: 0 };

/**
 * Encode rows with exactly `schema` as ZSTD Parquet (one row group). The rows' values must already fit the schema
 * (validateRow); a null in a non-nullable column throws a TypeError. Throws when the native ZSTD binding is missing:
 * check {@link nativeZstdAvailable} first.
 */
export async function encodeRowsNative(schema: arrow.Schema, rows: readonly Record<string, unknown>[], createdBy = 'rlm-gym (parquet-js + zstd)'): Promise<Uint8Array> {
  const compress = nativeCompress();
  if (!compress) throw new Error(`native ZSTD is unavailable (${zstdLoadError}); use encodeRows (parquet-wasm)`);
  const p = plan(schema);
  const t0 = performance.now();
  const cols = p.pool.pop() ?? p.leaves.map((l) => new Column(l));
  const fields = p.fields;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < cols.length; c++) cols[c]!.rowBoundary();
    for (let f = 0; f < fields.length; f++) shred(cols, fields[f]!, row[fields[f]!.name], 0, 0);
  }
  if (rows.length > 0) for (const c of cols) c.cut();
  const t1 = performance.now();
  let compressed: Buffer[][];
  try {
    const pending = cols.map((c) => Promise.all(c.pages.map((pg) => compress(pg.data, ZSTD_LEVEL))));
    encodeStats.issue_ms += performance.now() - t1;
    compressed = await Promise.all(pending);
  } catch (e) {
    for (const c of cols) c.reset();
    p.pool.push(cols);
    throw e;
  }

  const t2 = performance.now();
  encodeStats.files++;
  encodeStats.shred_ms += t1 - t0;
  encodeStats.compress_wait_ms += t2 - t1;
  encodeStats.uncompressed_bytes += cols.reduce((a, c) => a + c.pages.reduce((b, pg) => b + pg.data.length, 0), 0);
  const parts: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const chunks: { leaf: LeafDef; offset: number; numValues: number; uncompressed: number; compressed: number; nulls: number }[] = [];
  for (let c = 0; c < cols.length; c++) {
    const col = cols[c]!;
    const start = offset;
    let numValues = 0;
    let unc = 0;
    let nulls = 0;
    for (let i = 0; i < col.pages.length; i++) {
      const pg = col.pages[i]!;
      const z = compressed[c]![i]!;
      const h = pageHeader(pg, z.length);
      parts.push(h, z);
      offset += h.length + z.length;
      unc += h.length + pg.data.length;
      numValues += pg.numValues;
      nulls += pg.nulls;
    }
    chunks.push({ leaf: col.leaf, offset: start, numValues, uncompressed: unc, compressed: offset - start, nulls });
  }

  const t = new Thrift();
  t.begin(null).i32(1, 1);
  t.list(2, CT.STRUCT, p.schemaElementCount);
  p.schemaElements(t);
  t.i64(3, rows.length);
  const groups = rows.length > 0 ? 1 : 0;
  t.list(4, CT.STRUCT, groups);
  if (groups) {
    t.begin(null).list(1, CT.STRUCT, chunks.length);
    for (const ch of chunks) {
      t.begin(null).i64(2, ch.offset).begin(3);
      t.i32(1, ch.leaf.physical);
      t.list(2, CT.I32, 2).i32Elem(ENC.PLAIN).i32Elem(ENC.RLE);
      t.list(3, CT.BINARY, ch.leaf.path.length);
      for (const s of ch.leaf.path) t.strElem(s);
      t.i32(4, CODEC_ZSTD).i64(5, ch.numValues).i64(6, ch.uncompressed).i64(7, ch.compressed).i64(9, ch.offset);
      t.begin(12).i64(3, ch.nulls).end();
      t.end().end();
    }
    t.i64(2, chunks.reduce((a, c) => a + c.uncompressed, 0)).i64(3, rows.length).i64(5, 4).i64(6, offset - 4);
    t.end();
  }
  t.list(5, CT.STRUCT, 1).begin(null).str(1, 'ARROW:schema').str(2, p.arrowSchemaB64).end();
  t.str(6, createdBy);
  t.end();
  const footer = t.out.view();
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32LE(footer.length, 0);
  tail.write('PAR1', 4, 'latin1');
  parts.push(footer, tail);
  const file = Buffer.concat(parts, offset + footer.length + 8);
  for (const c of cols) c.reset();
  if (p.pool.length < 2) p.pool.push(cols);
  return file;
}
