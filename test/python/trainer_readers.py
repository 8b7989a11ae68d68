"""Reads every rlm-gym table and export the way trainers do: pyarrow.parquet and datasets.load_dataset("parquet", ...).

Usage: python trainer_readers.py RUN_DIR EXPORTS_DIR
Checks the columns and Arrow types a trainer reads; prints one JSON line with what it read; exits 1 on a mismatch.
"""
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, load_dataset

MSG = pa.list_(pa.struct([pa.field("role", pa.string(), nullable=False), pa.field("content", pa.string(), nullable=False)]))


def ids(t):
    return pa.list_(pa.field("item", t, nullable=False))


EXPECT = {
    "episodes": {
        "episode_id": pa.string(), "group_id": pa.string(), "reward": pa.float64(), "correct": pa.bool_(), "turns": pa.int32(),
        "stop_reason": pa.string(), "truncated": pa.bool_(), "completion_truncated": pa.bool_(), "messages": MSG,
    },
    "steps": {
        "episode_id": pa.string(), "turn": pa.int32(), "reply": pa.string(), "reasoning": pa.string(), "finish_reason": pa.string(),
        "max_tokens": pa.int64(), "dropped_turns": pa.int32(), "prompt_token_ids": ids(pa.int32()), "completion_token_ids": ids(pa.int32()),
        "completion_logprobs": ids(pa.float64()), "loss_mask": ids(pa.int8()),
    },
    "verl": {"data_source": pa.string(), "prompt": MSG, "ability": pa.string()},
    "trl": {"prompt": MSG, "completion": MSG, "reward": pa.float64()},
    "sft": {"messages": MSG, "reward": pa.float64()},
    "sft-turns": {"messages": MSG, "prompt": MSG, "completion": MSG, "episode_id": pa.string(), "turn": pa.int32(), "finish_reason": pa.string()},
    "tokens": {
        "token_ids": ids(pa.int32()), "loss_mask": ids(pa.int8()), "logprobs": ids(pa.float64()), "reward": pa.float64(),
        "advantage": pa.float64(), "prompt_len": pa.int32(), "token_prefix_ok": pa.bool_(), "row_kind": pa.string(),
        "turn": pa.int32(), "completion_truncated": pa.bool_(),
    },
}


def check(name, table, problems):
    for col, want in EXPECT[name].items():
        if col not in table.schema.names:
            problems.append(f"{name}: no column {col}")
            continue
        got = table.schema.field(col).type
        # Nested field nullability differs between writers; compare the shape and leaf types.
        if not (got == want or str(got).replace(" not null", "") == str(want).replace(" not null", "")):
            problems.append(f"{name}.{col}: {got} != {want}")


def main():
    run, exports = Path(sys.argv[1]), Path(sys.argv[2])
    problems, seen = [], {}
    for name in ("episodes", "steps"):
        files = sorted(str(p) for p in (run / name).glob("*.parquet"))
        table = pq.read_table(files)
        check(name, table, problems)
        # datasets has no map type: episodes.reward_components (map<utf8, float64>) is left out of its load; trainers
        # read rewards from `reward` (or the trl export's reward_<component> columns).
        columns = [c for c in table.schema.names if not pa.types.is_map(table.schema.field(c).type)]
        features = Features.from_arrow_schema(pa.schema([table.schema.field(c) for c in columns]))
        ds = load_dataset("parquet", data_files=files, split="train", columns=columns, features=features)
        seen[name] = {"pyarrow_rows": table.num_rows, "datasets_rows": len(ds), "datasets_left_out": sorted(set(table.schema.names) - set(columns))}
    for name in ("verl", "trl", "sft", "sft-turns", "tokens"):
        f = str(exports / f"{name}.parquet")
        table = pq.read_table(f)
        check(name, table, problems)
        ds = load_dataset("parquet", data_files=f, split="train")
        seen[name] = {"pyarrow_rows": table.num_rows, "datasets_rows": len(ds)}
        if name == "tokens":
            for row in ds:
                n = len(row["token_ids"])
                if not (len(row["loss_mask"]) == n == len(row["logprobs"])):
                    problems.append("tokens: token_ids / loss_mask / logprobs lengths differ")
                if row["row_kind"] not in ("episode", "turn"):
                    problems.append(f"tokens: row_kind {row['row_kind']!r}")
            seen[name]["row_kinds"] = sorted(set(ds["row_kind"]))
        if name == "sft-turns":
            first = ds[0]
            if first["messages"][-1]["role"] != "assistant" or first["completion"][0]["role"] != "assistant":
                problems.append("sft-turns: the last message is not the assistant reply")
    steps = pq.read_table(sorted(str(p) for p in (run / "steps").glob("*.parquet"))).to_pylist()
    seen["steps"]["finish_reasons"] = sorted(set(r["finish_reason"] for r in steps))
    seen["steps"]["reasoning_present"] = sum(1 for r in steps if r["reasoning"])
    print(json.dumps({"problems": problems, "seen": seen}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
