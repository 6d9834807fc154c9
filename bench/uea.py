"""Small UEA/UCR problems with the `ts` task's defaults, against the archive's 1-NN DTW.

    .venv/bin/python -m bench.uea --data DIR [--problems GunPoint ...] [--quant float ternary]
        [--cell gru] [--seeds 0 1 2] [--config JSON] [--out FILE] [--from FILE]

DIR holds one folder (or the files) per problem: NAME/NAME_TRAIN.ts and NAME/NAME_TEST.ts,
as the UCR/UEA archive ships them (www.timeseriesclassification.com; several small problems
also come inside the `aeon` and `sktime` wheels on PyPI, under aeon/datasets/data/NAME/).
Nothing here is downloaded and the files stay outside the repository.

Each problem x quantizer x seed is one `python -m train --task ts --data DIR/NAME` run with the
task's defaults (plus `--config`'s fields), through `bench.selection.sweep`, so the table also
gives the test accuracy every selection rule would have kept. The first table sets the test
accuracy of the exported model (mean over seeds, and the range) next to the accuracy of
1-NN DTW that the UCR archive publishes for the same train/test split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from hw.errors import UserError
from hw.fileio import atomic_write_text
from train import select
from train.sequences import read_ts

from .selection import Job, commit, sweep, table

# 1-NN DTW test accuracy = 1 - the error rates in the UCR archive's DataSummary.csv (UCR Time
# Series Classification Archive, 2018 release, Dau et al.; www.cs.ucr.edu/~eamonn/
# time_series_data_2018/): "DTW (learned_w)", the warping window set by leave-one-out on the
# training split (its width in % of the length), and "DTW (w=100)", the full window.
# PickupGestureWiimoteZ and PLAID vary in length: the archive's own copies pad each case with
# NaN to the longest (the notes in the .ts header say so); the .ts files keep each length.
UCR_DTW = {
    "ArrowHead": (0.8000, 0, 0.7029),
    "GunPoint": (0.9133, 0, 0.9067),
    "ItalyPowerDemand": (0.9553, 0, 0.9504),
    "OSULeaf": (0.6116, 7, 0.5909),
    "PickupGestureWiimoteZ": (0.6600, 17, 0.6600),
    "PLAID": (0.8343, 12, 0.8361),
    "ACSF1": (0.6200, 4, 0.6400),
}
# the UCR/UEA archives' classification problems that the aeon 1.6.0 wheel ships (less its
# UnitTest and the regression sets), and PLAID from sktime 1.2.0's
PROBLEMS = ["ItalyPowerDemand", "GunPoint", "ArrowHead", "PickupGestureWiimoteZ",
            "BasicMotions", "JapaneseVowels", "OSULeaf", "ACSF1", "PLAID"]


def problem_path(root: Path, name: str) -> Path:
    for p in (root / name / name, root / name):
        if Path(f"{p}_TRAIN.ts").is_file():
            return p
    raise UserError(f"{root} has no {name}_TRAIN.ts (looked in {root / name} and {root})")


def shape(path: Path) -> dict:
    seqs, labels, _ = read_ts(Path(f"{path}_TRAIN.ts"))
    test, _, _ = read_ts(Path(f"{path}_TEST.ts"))
    lengths = sorted({len(s) for s in seqs})
    return {"train": len(seqs), "test": len(test), "classes": len(set(labels)),
            "channels": seqs[0].shape[1],
            "length": str(lengths[0]) if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"}


def summary(runs: list[dict], shapes: dict, quants) -> str:
    lines = ["| problem | train / test | channels x length | classes | 1-NN DTW learned w "
             "(w %) | 1-NN DTW full | " + " | ".join(quants) + " | best of ours - DTW learned |",
             "|---|---|---|---|---|---|" + "---|" * (len(quants) + 1)]
    for name, sh in shapes.items():
        dtw = UCR_DTW.get(name)
        cells, means = [], []
        for q in quants:
            acc = [100 * r["exported"] for r in runs if r["problem"] == name and r["quant"] == q]
            if not acc:
                cells.append("")
                continue
            means.append(statistics.mean(acc))
            spread = f" ({min(acc):.1f}-{max(acc):.1f})" if len(acc) > 1 else ""
            cells.append(f"{means[-1]:.1f}{spread}")
        gap = f"{max(means) - 100 * dtw[0]:+.1f}" if dtw and means else ""
        ref = (f"{100 * dtw[0]:.1f} ({dtw[1]})", f"{100 * dtw[2]:.1f}") if dtw else ("", "")
        lines.append(f"| {name} | {sh['train']} / {sh['test']} | {sh['channels']} x "
                     f"{sh['length']} | {sh['classes']} | {ref[0]} | {ref[1]} | "
                     + " | ".join(cells) + f" | {gap} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="the folder holding the problems")
    p.add_argument("--problems", nargs="+", default=PROBLEMS)
    p.add_argument("--quant", nargs="+", default=["float", "ternary"])
    p.add_argument("--cell", default="gru")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--config", default="{}", help="JSON of extra Config fields for every run")
    p.add_argument("--out", help="also write every run's records as JSON here")
    p.add_argument("--from", dest="src", help="print the tables of a JSON written by --out")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        if a.src:
            saved = json.loads(Path(a.src).read_text())
            head, shapes, runs, quants = saved["head"], saved["shapes"], saved["runs"], \
                saved["quants"]
        else:
            if not a.data:
                raise UserError("--data DIR (the folder holding the problems) is needed")
            extra = json.loads(a.config)
            paths = {n: problem_path(Path(a.data), n) for n in a.problems}
            shapes = {n: shape(pth) for n, pth in paths.items()}
            jobs = [Job(f"{n} {q}", dict(task="ts", data=str(pth), cell=a.cell, quant=q,
                                         **extra))
                    for n, pth in paths.items() for q in a.quant]
            at = commit()  # before the runs: the code they ran
            runs = sweep(jobs, a.seeds)
            for r in runs:
                r["problem"], r["quant"] = r["label"].rsplit(" ", 1)
            quants = a.quant
            head = (f"ts task, {a.cell}, seeds {' '.join(map(str, a.seeds))}, options "
                    f"{extra or 'the task defaults'}, commit {at}")
            if a.out:
                atomic_write_text(Path(a.out), json.dumps(
                    {"head": head, "shapes": shapes, "quants": quants, "runs": runs}) + "\n")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(head)
    print("\nTest accuracy (%) of the exported model, mean over seeds (range):\n")
    print(summary(runs, shapes, quants))
    print("\nThe same runs, test accuracy (%) of the epoch each selection rule keeps:\n")
    print(table(runs, select.RULES, [0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
