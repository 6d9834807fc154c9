"""Test BPC (or accuracy) of the same variants across char_ablation records (seeds), and the mean.

    .venv/bin/python -m bench.char_summary results/char-gru128-e8b32.jsonl \\
        results/char-gru128-e8b32-seed1.jsonl [--names float ternary ...]

One row per variant name (in the first record's order, or --names'), one column per record
(its test BPC, `qat`), the mean over the records that hold the variant, and that mean minus
the reference variant's mean over the same records (`--reference`, default `float`; for
example the float run at its best learning rate). A variant missing from a record shows a
dash and its mean is over the others (the row says how many).

`--split valid` shows each run's validation BPC instead, `--split train` its training BPC
(the running mean of the loss while the epoch trained), both of the epoch validation selected
(the last where the record does not say): the two side by side say whether a model underfits
(train near or above valid) or overfits. Records of other tasks (bench.char_ablation --task)
hold their own metric (accuracy for fsdd) in the same places.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .char_ablation import load_records

SPLITS = ("test", "valid", "train")


def value(record: dict, split: str = "test") -> float | None:
    """A run's metric on `split`: test (the trained model's, `qat`), or the valid or train
    entry of the epoch validation selected (`selected_epoch`; the last epoch in records that
    do not name one); None where the record does not hold it."""
    if split == "test":
        return record.get("qat")
    curve = record.get(split)
    if not curve:
        return None
    return curve[(record.get("selected_epoch") or len(curve)) - 1]


def summary(records: list[list[dict]], names: list[str] | None = None,
            reference: str = "float", split: str = "test") -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    by = [{r["name"]: r for r in recs if value(r, split) is not None} for recs in records]
    if names is None:
        names = list(dict.fromkeys(r["name"] for recs in records for r in recs))
    head = "| variant | " + " | ".join(f"record {k + 1}" for k in range(len(by))) + \
        f" | mean | runs | mean - {reference} |"
    lines = [head, "|" + "---|" * (len(by) + 4)]
    for name in names:
        vals = [value(b[name], split) if name in b else None for b in by]
        got = [k for k, v in enumerate(vals) if v is not None]
        if not got:
            continue
        mean = sum(vals[k] for k in got) / len(got)
        ref = [value(by[k][reference], split) for k in got if reference in by[k]]
        delta = f"{mean - sum(ref) / len(ref):+.3f}" if len(ref) == len(got) else ""
        cells = " | ".join("-" if v is None else f"{v:.3f}" for v in vals)
        lines.append(f"| {name} | {cells} | {mean:.3f} | {len(got)} | {delta} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("records", nargs="+", help="char_ablation JSON-lines records")
    p.add_argument("--names", nargs="+", help="variants to show, in this order")
    p.add_argument("--reference", default="float",
                   help="the variant the last column subtracts (default: float)")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="test BPC (default), the final validation BPC, or the last epoch's "
                        "training BPC")
    a = p.parse_args(argv)
    missing = [r for r in a.records if not Path(r).is_file()]
    if missing:
        print(f"error: record {missing[0]} does not exist", file=sys.stderr)
        return 2
    print(summary([load_records(Path(r)) for r in a.records], a.names, a.reference, a.split))
    return 0


if __name__ == "__main__":
    sys.exit(main())
