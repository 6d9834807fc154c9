"""Where does low precision win? Tables and plots over bench.char_ablation records (issue 32).

    .venv/bin/python -m bench.lowprec char [--results results] \\
        [--plot-width results/lowprec-char-width.png] \\
        [--plot-gap results/lowprec-char-gap.png]
    .venv/bin/python -m bench.lowprec fsdd [--results results] \\
        [--plot results/lowprec-fsdd.png]

Reads the records of one budget, found by name in `--results`: `char-{cell}{width}-e8b32.jsonl`
(PTB char, 8 epochs at batch 32) or `fsdd-{cell}{width}-e30.jsonl` (spoken digits, 30 epochs),
each with its other seeds beside it (`...-seed1.jsonl`, ...). A record file is one seed.

A *series* is a model family whose variants differ only in training settings (learning rate,
warm-up, the level lr scale): float, float with dropout, ternary / pow2-ternary / exponential
recurrent matrix with int8 input matrix and head (char), each quantizer (fsdd), and the same
in hardware mode. For each cell and width, a series' row is the variant that validation
chose: among its variants that ran in every seed's record, the best mean validation metric
over the seeds (for the epoch validation selected); where none ran in every record, the best
on the first record (seed 0). The row then shows that variant's mean over the seeds of the
training metric (the running mean of the loss over the selected epoch, dropout on where
the run had it), the validation and the test metric (`qat`, the trained model; `integer`, the
exported model file run by hw.reference, is printed beside it, marked exact where every run
was in hardware mode and so equal to `qat` on every logit), the test metric minus the float
row's mean over the same seeds, and the mean minutes of training per run.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hw.fileio import atomic_save_png

from . import RESULTS
from .char_ablation import load_records
from .char_summary import value

# char: float rates, dropout, and the int8-edge recurrent-matrix quantizers with their settings
_SETTINGS = r"(-lr-none)?(-lr[0-9.]+)?(-warmup1)?"
CHAR_SERIES = {
    "float": r"float(-lr[0-9.]+)?",
    "float + dropout": r"float(-lr[0-9.]+)?-drop[0-9.]+",
    "ternary, int8 edges": "ternary-input-head-int8" + _SETTINGS,
    "pow2-ternary, int8 edges": "pow2-ternary-input-head-int8" + _SETTINGS,
    "exponential, int8 edges": "exponential-input-head-int8" + _SETTINGS,
}
FSDD_QUANTS = ("binary", "binary-stoch", "ternary", "ternary-stoch", "pow2-ternary",
               "exponential", "exponential-stoch")
FSDD_SERIES = {"float": CHAR_SERIES["float"], "float + dropout": CHAR_SERIES["float + dropout"],
               **{q: re.escape(q) for q in FSDD_QUANTS},
               **{f"{q} (hardware)": re.escape(q) + "-hardware" for q in FSDD_QUANTS}}
BUDGETS = {"char": ("char", "e8b32", CHAR_SERIES), "fsdd": ("fsdd", "e30", FSDD_SERIES)}


@dataclass
class Row:
    cell: str
    width: int
    series: str
    variant: str
    seeds: int
    train: float
    valid: float
    test: float
    integer: float
    minutes: float
    exact: bool
    tests: dict[int, float]  # record (seed) index -> test metric


def find_records(results: Path, task: str, budget: str) -> dict[tuple[str, int], list[Path]]:
    """(cell, width) -> its record files, seed 0 first, then the other seeds in order."""
    pat = re.compile(rf"{task}-(rnn|gru|lstm)(\d+)-{budget}(?:-seed(\d+))?\.jsonl")
    found: dict[tuple[str, int], list[tuple[int, Path]]] = {}
    for p in sorted(results.glob(f"{task}-*-{budget}*.jsonl")):
        m = pat.fullmatch(p.name)
        if m:
            found.setdefault((m[1], int(m[2])), []).append((int(m[3] or 0), p))
    return {k: [p for _, p in sorted(v)] for k, v in sorted(found.items())}


def _mean(xs):
    return sum(xs) / len(xs)


def choose(records: list[list[dict]], pattern: str, higher_better: bool) -> str | None:
    """The variant of the series `pattern` that validation chose (module docstring)."""
    rx = re.compile(pattern)
    names = list(dict.fromkeys(r["name"] for recs in records for r in recs
                               if rx.fullmatch(r["name"]) and value(r, "valid") is not None))
    by = [{r["name"]: r for r in recs} for recs in records]
    everywhere = [n for n in names if all(n in b for b in by)]
    pool, use = (everywhere, by) if everywhere else \
        ([n for n in names if n in by[0]], by[:1])
    if not pool:
        return None
    score = {n: _mean([value(b[n], "valid") for b in use]) for n in pool}
    return (max if higher_better else min)(pool, key=score.get)


def rows(results: Path, which: str) -> list[Row]:
    task, budget, series = BUDGETS[which]
    out = []
    for (cell, width), paths in find_records(results, task, budget).items():
        records = [load_records(p) for p in paths]
        higher = next((r.get("metric") for recs in records for r in recs), "bpc") == "accuracy"
        for label, pattern in series.items():
            name = choose(records, pattern, higher)
            if name is None:
                continue
            at = {k: r for k, recs in enumerate(records) for r in recs if r["name"] == name}
            runs = list(at.values())
            out.append(Row(cell, width, label, name, len(runs),
                           _mean([value(r, "train") for r in runs]),
                           _mean([value(r, "valid") for r in runs]),
                           _mean([r["qat"] for r in runs]), _mean([r["integer"] for r in runs]),
                           _mean([r["seconds"] for r in runs]) / 60,
                           all(r.get("exact") for r in runs),
                           {k: r["qat"] for k, r in at.items()}))
    return out


def table(rs: list[Row], percent: bool) -> str:
    f = (lambda v: f"{100 * v:.1f}") if percent else (lambda v: f"{v:.3f}")
    d = (lambda v: f"{100 * v:+.1f}") if percent else (lambda v: f"{v:+.3f}")
    unit = "accuracy %" if percent else "BPC"
    lines = [f"| cell | width | model (variant) | seeds | train {unit} | valid | test | "
             "test per seed | test - float | integer | minutes per run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        ref = next((x for x in rs if (x.cell, x.width, x.series) == (r.cell, r.width, "float")),
                   None)
        # against float over the same seeds (records)
        delta = d(r.test - _mean([ref.tests[k] for k in r.tests]))  \
            if ref and set(r.tests) <= set(ref.tests) else ""
        exact = " (exact)" if r.exact else ""
        seeds = " / ".join(f(t) for t in r.tests.values())
        lines.append(f"| {r.cell.upper()} | {r.width} | {r.series} (`{r.variant}`) | {r.seeds} | "
                     f"{f(r.train)} | {f(r.valid)} | {f(r.test)} | "
                     f"{seeds} | {delta} | {f(r.integer)}{exact} | "
                     f"{r.minutes:.1f} |")
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_width(rs: list[Row], path: Path, gap: bool = False) -> None:
    """Test BPC (or test - train BPC, `gap`) against width, a line per series, a panel per
    cell; each seed's test BPC as a dot (for `gap`, the mean only)."""
    plt = _plt()
    cells = sorted({r.cell for r in rs})
    fig, axes = plt.subplots(1, len(cells), figsize=(5.5 * len(cells), 4.2), squeeze=False)
    colours = dict(zip(CHAR_SERIES, plt.get_cmap("tab10").colors, strict=False))
    for ax, cell in zip(axes[0], cells, strict=True):
        for label in CHAR_SERIES:
            pts = sorted((r.width, r) for r in rs if r.cell == cell and r.series == label)
            if not pts:
                continue
            ws = [w for w, _ in pts]
            ys = [r.test - r.train if gap else r.test for _, r in pts]
            ax.plot(ws, ys, marker="o", color=colours[label], label=label)
            if not gap:
                for w, r in pts:
                    ax.plot([w] * len(r.tests), list(r.tests.values()), ".",
                            color=colours[label], alpha=0.5)
        ax.set(xlabel="hidden units", title=f"{cell.upper()}, PTB char, 8 epochs at batch 32",
               ylabel="test BPC - training BPC (selected epoch, running mean)" if gap else
               "test BPC (mean of seeds; dots: seeds)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r.width for r in rs if r.cell == cell}))
        ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)


def plot_fsdd(rs: list[Row], path: Path) -> None:
    """Test accuracy per quantizer, a panel per cell and width; bars are seed means, dots seeds;
    the dashed line is float's mean."""
    plt = _plt()
    groups = sorted({(r.cell, r.width) for r in rs})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.2), squeeze=False,
                             sharey=True)
    order = ["float", "float + dropout", *FSDD_QUANTS]
    for ax, (cell, width) in zip(axes[0], groups, strict=True):
        got = {r.series: r for r in rs if (r.cell, r.width) == (cell, width)}
        xs = [s for s in order if s in got]
        ax.bar(range(len(xs)), [100 * got[s].test for s in xs], color="0.8")
        for i, s in enumerate(xs):
            ax.plot([i] * len(got[s].tests), [100 * t for t in got[s].tests.values()], "k.")
        if "float" in got:
            ax.axhline(100 * got["float"].test, color="C3", ls="--", lw=1)
        ax.set_xticks(range(len(xs)), xs, rotation=60, ha="right", fontsize=8)
        ax.set(title=f"{cell.upper()} {width}", ylim=(80, 100))
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("test accuracy % (300 clips; bars: mean, dots: seeds)")
    fig.suptitle("FSDD spoken digits, 30 epochs, weights mode, epoch chosen on validation",
                 fontsize=10)
    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", choices=tuple(BUDGETS))
    p.add_argument("--results", default=str(RESULTS),
                   help="folder of the records (default: the repository's results/)")
    p.add_argument("--plot-width", help="char: PNG of test BPC against width")
    p.add_argument("--plot-gap", help="char: PNG of test minus training BPC against width")
    p.add_argument("--plot", help="fsdd: PNG of test accuracy per quantizer")
    a = p.parse_args(argv)
    if not Path(a.results).is_dir():
        print(f"error: --results {a.results} is not a folder", file=sys.stderr)
        return 2
    rs = rows(Path(a.results), a.which)
    if not rs:
        print(f"error: no {a.which} records in {a.results}", file=sys.stderr)
        return 2
    print(table(rs, percent=a.which == "fsdd"))
    if a.which == "char":
        if a.plot_width:
            plot_width(rs, Path(a.plot_width))
        if a.plot_gap:
            plot_width(rs, Path(a.plot_gap), gap=True)
    elif a.plot:
        plot_fsdd(rs, Path(a.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
