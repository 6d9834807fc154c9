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
was in hardware mode and so equal to `qat` on every logit), the generalisation gap (train
minus test accuracy, test minus train BPC), the test metric minus the float row's and minus
the float + dropout row's over the same seeds, and the mean minutes of training per run.
A difference is paired by seed (record): its mean, with the standard error of that mean
where two or more seeds pair (sd / sqrt(n)), and how many seeds the row beat the reference
on (ties not counted), e.g. `+0.5 ± 0.3 (3/4)`.
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


def paired(r: Row, ref: Row, higher_better: bool) -> tuple[float, float | None, int, int]:
    """r's test metric minus ref's, paired by seed (record) over the seeds both ran: the mean
    difference, its standard error (None under two pairs), the seeds r beat ref on, the pairs."""
    ds = [r.tests[k] - ref.tests[k] for k in r.tests if k in ref.tests]
    if not ds:
        raise ValueError(f"{r.series} and {ref.series} share no seed")
    m = _mean(ds)
    se = (sum((x - m) ** 2 for x in ds) / (len(ds) - 1) / len(ds)) ** 0.5 if len(ds) > 1 \
        else None
    wins = sum(1 for x in ds if (x > 0 if higher_better else x < 0))
    return m, se, wins, len(ds)


def table(rs: list[Row], percent: bool) -> str:
    scale, digits = (100, 1) if percent else (1, 3)

    def f(v):
        return f"{scale * v:.{digits}f}"

    def d(v):  # signed; a difference that rounds to zero prints +0.0, never -0.0
        return f"{round(scale * v, digits) + 0.0:+.{digits}f}"

    def versus(r, label):
        ref = next((x for x in rs if (x.cell, x.width, x.series) == (r.cell, r.width, label)),
                   None)
        if ref is None or ref is r or not set(r.tests) & set(ref.tests):
            return ""
        m, se, wins, n = paired(r, ref, higher_better=percent)
        return d(m) + (f" ± {f(se)}" if se is not None else "") + f" ({wins}/{n})"

    unit, gap = ("accuracy %", "train - test") if percent else ("BPC", "test - train")
    lines = [f"| cell | width | model (variant) | seeds | train {unit} | valid | test | "
             f"test per seed | {gap} | test - float | test - float + dropout | integer | "
             "minutes per run |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        exact = " (exact)" if r.exact else ""
        seeds = " / ".join(f(t) for t in r.tests.values())
        lines.append(f"| {r.cell.upper()} | {r.width} | {r.series} (`{r.variant}`) | {r.seeds} | "
                     f"{f(r.train)} | {f(r.valid)} | {f(r.test)} | {seeds} | "
                     f"{d(r.train - r.test if percent else r.test - r.train)} | "
                     f"{versus(r, 'float')} | {versus(r, 'float + dropout')} | "
                     f"{f(r.integer)}{exact} | {r.minutes:.1f} |")
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
    """A column per cell and width. Top: test accuracy per series, bars the seed means, dots
    the seeds, the dashed line float's mean. Bottom: the gap, training minus test accuracy
    (the selected epoch's running mean, dropout on where the run had it), mean over seeds."""
    plt = _plt()
    groups = sorted({(r.cell, r.width) for r in rs})
    fig, axes = plt.subplots(2, len(groups), figsize=(4.2 * len(groups), 7.4), squeeze=False,
                             sharey="row", height_ratios=(3, 2))
    order = ["float", "float + dropout", *FSDD_QUANTS, *(f"{q} (hardware)" for q in FSDD_QUANTS)]
    for k, (cell, width) in enumerate(groups):
        top, bottom = axes[0][k], axes[1][k]
        got = {r.series: r for r in rs if (r.cell, r.width) == (cell, width)}
        xs = [s for s in order if s in got]
        colour = [{"float": "C3", "float + dropout": "C1"}.get(s, "C0" if "hardware" in s
                                                                else "0.7") for s in xs]
        top.bar(range(len(xs)), [100 * got[s].test for s in xs], color=colour)
        for i, s in enumerate(xs):
            top.plot([i] * len(got[s].tests), [100 * t for t in got[s].tests.values()], "k.")
        bottom.bar(range(len(xs)), [100 * (got[s].train - got[s].test) for s in xs],
                   color=colour)
        for ax in (top, bottom):
            if "float" in got:
                ref = got["float"].test if ax is top else got["float"].train - got["float"].test
                ax.axhline(100 * ref, color="C3", ls="--", lw=1)
            ax.grid(alpha=0.3, axis="y")
        top.set(title=f"{cell.upper()} {width}", ylim=(80, 100))
        top.set_xticks(range(len(xs)), [])
        bottom.set_xticks(range(len(xs)), xs, rotation=70, ha="right", fontsize=7)
        bottom.axhline(0, color="k", lw=0.5)
    axes[0][0].set_ylabel("test accuracy % (300 clips; bars: mean, dots: seeds)")
    axes[1][0].set_ylabel("train - test accuracy % (mean)")
    fig.suptitle("FSDD spoken digits, 30 epochs, epoch chosen on validation; weights mode "
                 "(red: float, orange: float + dropout), blue: hardware mode", fontsize=10)
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
