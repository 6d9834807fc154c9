"""Character-level LM runs under one budget: a table of BPC per variant and a validation plot.

    .venv/bin/python bench/char_ablation.py --data ../shared/data/ptb_char \\
        --base '{"cell": "gru", "hidden": 128, "mode": "weights", "epochs": 1, "batch": 64}' \\
        --variant float '{"quant": "float"}' --variant ternary '{"quant": "ternary"}' \\
        --record bench/results/char-ablation.jsonl [--plot bench/results/char-ablation.png]

Each `--variant NAME JSON` is one `python -m train --task char` run (train.loop.run) with the
`--base` fields and the variant's on top; every variant gets the same budget unless it
overrides one. Runs go one after another (the machine is shared); each finished run appends
one JSON line to `--record` (name, config, validation BPC per epoch, test BPC of the torch
model `qat` and of the exported integer model `integer`, seconds), so an interrupted session
keeps what it finished, and a name already in the record is not run again. At the end the
table of every record line whose config matches is printed, with test BPC minus the `float`
variant's; `--table-only` prints it without training. The run folders go to `--runs`
(default build/char-ablation/NAME).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.modelfile import UserError  # noqa: E402
from train.config import Config  # noqa: E402


def load_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_variant(name: str, fields: dict, runs: Path) -> dict:
    from train.loop import run

    cfg = Config(task="char", **fields).check()
    res = run(cfg, runs / name, progress=True)
    return {"name": name, "fields": fields, "config": cfg.as_dict(),
            "valid": [e["valid_bpc"] for e in res["epochs"]],
            "train": [e["train_bpc"] for e in res["epochs"]],
            "qat": res["qat"], "integer": res["integer"], "exact": res["exact"],
            "seconds": res["seconds"]}


def table(records: list[dict]) -> str:
    ref = next((r for r in records if r["name"] == "float"), None)
    lines = ["| variant | epochs | final valid | test (qat) | test (integer) | test - float |",
             "|---|---|---|---|---|---|"]
    for r in records:
        delta = f"{r['qat'] - ref['qat']:+.3f}" if ref else ""
        lines.append(f"| {r['name']} | {len(r['valid'])} | {r['valid'][-1]:.4f} | "
                     f"{r['qat']:.4f} | {r['integer']:.4f} | {delta} |")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in records:
        ax.plot(range(1, len(r["valid"]) + 1), r["valid"], marker="o", label=r["name"])
    ax.set(xlabel="epoch", ylabel="validation BPC")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="PTB char folder or a text file")
    p.add_argument("--base", default="{}", help="JSON of Config fields shared by every variant")
    p.add_argument("--variant", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    p.add_argument("--record", required=True, help="JSON-lines file the results append to")
    p.add_argument("--runs", default="build/char-ablation", help="folder of the run folders")
    p.add_argument("--plot", help="PNG of validation BPC against epoch")
    p.add_argument("--table-only", action="store_true")
    a = p.parse_args(argv)
    try:
        base = {"data": a.data, **json.loads(a.base)}
        variants = [(n, {**base, **json.loads(j)}) for n, j in a.variant]
    except json.JSONDecodeError as e:
        print(f"error: --base/--variant is not JSON: {e}", file=sys.stderr)
        return 2
    record = Path(a.record)
    records = load_records(record)
    try:
        for name, fields in variants:
            if a.table_only or any(r["name"] == name for r in records):
                continue
            rec = run_variant(name, fields, Path(a.runs))
            records.append(rec)
            with record.open("a") as f:  # one line per finished run
                f.write(json.dumps(rec) + "\n")
            print(f"{name}: valid {rec['valid'][-1]:.4f}, test {rec['qat']:.4f}, "
                  f"integer {rec['integer']:.4f} ({rec['seconds']:.0f} s)", flush=True)
    except (UserError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = [n for n, _ in variants] or [r["name"] for r in records]
    shown = [r for n in names for r in records if r["name"] == n]
    print(table(shown))
    if a.plot and shown:
        plot(shown, Path(a.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
