"""pyarrow and Hugging Face `datasets` read rlm-gym's Parquet exactly as datasets/schema.ts documents it.

Usage: python datasets_readers.py SPEC.json
SPEC = {"runs": {label: run_dir}, "export": {"file": path, "schema": ipc_path, "expected": rows_json_path},
        "schemas": {"episodes": ipc_path, "steps": ipc_path}, "expected": {"episodes": rows_json, "steps": rows_json}}
The expected schemas are Arrow IPC streams written from the schema module; the expected rows are the records as the
writer was given them. Prints one JSON line {"problems": [...], "seen": {...}}; exits 1 when there is a problem.
"""
import json
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, load_dataset


def ipc_schema(path):
    with pa.ipc.open_stream(Path(path).read_bytes()) as r:
        return r.schema


def normalize_maps(schema):
    """pyarrow names a map's entries struct after the column ("reward_components"), where the Arrow schema says
    "entries"; the key/value types and nullability are what matter to a reader, so compare maps by those."""
    fields = []
    for f in schema:
        if pa.types.is_map(f.type):
            t = pa.map_(pa.field("key", f.type.key_type, nullable=False), f.type.item_field.with_name("value"))
            f = pa.field(f.name, t, nullable=f.nullable, metadata=f.metadata)
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def plain(v):
    """pyarrow / datasets values → the JSON shapes of the expected rows (maps as dicts, tuples as lists)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def same(a, b):
    if isinstance(a, float) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def compare_rows(label, got, want, columns, problems, maps=()):
    if len(got) != len(want):
        problems.append(f"{label}: {len(got)} rows, expected {len(want)}")
        return
    for i, (g, w) in enumerate(zip(got, want)):
        for c in columns:
            v = dict(g[c]) if c in maps and g[c] is not None else g[c]  # pyarrow returns a map as (key, value) pairs
            if not same(plain(v), w[c]):
                problems.append(f"{label}: row {i} column {c}: {str(plain(g[c]))[:120]!r} != {str(w[c])[:120]!r}")
                return


def key(table_name):
    return (lambda r: (r["episode_id"], r["turn"])) if table_name == "steps" else (lambda r: r["episode_id"])


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    problems, seen = [], {}
    for label, run in spec["runs"].items():
        for name in ("episodes", "steps"):
            files = sorted(str(p) for p in (Path(run) / name).glob("part-*.parquet"))
            want_schema = ipc_schema(spec["schemas"][name])
            want_rows = sorted(json.loads(Path(spec["expected"][name]).read_text()), key=key(name))
            # pyarrow: the exact schema (types, nullability, metadata) and every value.
            for f in files:
                s = pq.read_schema(f)
                if not normalize_maps(s).equals(normalize_maps(want_schema), check_metadata=True):
                    problems.append(f"{label}/{name}: pyarrow schema of {Path(f).name} differs:\n{s}\n!=\n{want_schema}")
                    break
            table = pq.read_table(files)
            maps = [c for c in want_schema.names if pa.types.is_map(want_schema.field(c).type)]
            compare_rows(f"{label}/{name} (pyarrow)", sorted(table.to_pylist(), key=key(name)), want_rows, want_schema.names, problems, maps)
            entry = {"pyarrow_rows": table.num_rows, "files": len(files), "created_by": sorted({pq.ParquetFile(f).metadata.created_by for f in files})}
            # datasets: load as is; a map column has no datasets dtype, so that load fails naming it (what is true today).
            try:
                ds = load_dataset("parquet", data_files=files, split="train")
                entry["plain_load"] = "ok"
            except ValueError as e:
                entry["plain_load"] = f"ValueError: {e}"
                ds = None
            if ds is None:
                # The README's workaround: leave the map column out and pass the features from the Arrow schema.
                columns = [c for c in want_schema.names if c not in maps]
                features = Features.from_arrow_schema(pa.schema([want_schema.field(c) for c in columns]))
                ds = load_dataset("parquet", data_files=files, split="train", columns=columns, features=features)
            else:
                columns = want_schema.names
            entry["datasets_columns_left_out"] = [c for c in want_schema.names if c not in columns]
            entry["datasets_rows"] = len(ds)
            arrow_types = {c: str(ds.data.schema.field(c).type) for c in columns}
            for c in columns:
                want_t = str(want_schema.field(c).type).replace(" not null", "")
                if arrow_types[c].replace(" not null", "") != want_t:
                    problems.append(f"{label}/{name}: datasets column {c} is {arrow_types[c]}, expected {want_t}")
            compare_rows(f"{label}/{name} (datasets)", sorted(ds.to_list(), key=key(name)), want_rows, columns, problems)
            seen[f"{label}/{name}"] = entry
    ex = spec["export"]
    want_schema = ipc_schema(ex["schema"])
    s = pq.read_schema(ex["file"])
    if not s.equals(want_schema, check_metadata=False):
        problems.append(f"export: pyarrow schema differs:\n{s}\n!=\n{want_schema}")
    want_rows = json.loads(Path(ex["expected"]).read_text())
    compare_rows("export (pyarrow)", pq.read_table(ex["file"]).to_pylist(), want_rows, want_schema.names, problems)
    ds = load_dataset("parquet", data_files=ex["file"], split="train")
    compare_rows("export (datasets)", ds.to_list(), want_rows, want_schema.names, problems)
    seen["export"] = {"pyarrow_rows": pq.ParquetFile(ex["file"]).metadata.num_rows, "datasets_rows": len(ds), "features": {k: str(v) for k, v in ds.features.items()}}
    print(json.dumps({"problems": problems, "seen": seen}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
