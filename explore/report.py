"""DIR/report.md: the Pareto fronts of a sweep, as plots and a table, from DIR/trials.jsonl.

The quality of a trial is its exported integer model's test metric (train.json's `integer`,
the whole test set; the RTL equals it output for output wherever the sim stage ran over the
whole set). Each plot sets it against one cost: LUTs (bitstream stage), steps per second
(the bitstream's clock when built, else the board's oscillator over the manifest's cycles per
step, timing not checked) and weight memory bits. A point is on a front when no other point
is at least as good on both axes and better on one.
"""

from __future__ import annotations

from pathlib import Path

from hw.fileio import atomic_save_png, atomic_write_text

from .figures import LOWER_IS_BETTER, quality, steps_per_s
from .iso import iso_tables
from .iso import markdown as iso_markdown

# name -> (label, value of a record, whether more is better)
COSTS = {
    "luts": ("LUTs (logic cells)", lambda r: r["figures"].get("bitstream", {}).get("lut"),
             False),
    "steps": ("time steps per second", lambda r: steps_per_s(r)[0], True),
    "weight_bits": ("weight memory bits", lambda r: r["figures"]["train"].get("weight_bits"),
                    False),
}


def front(points: list[tuple[float, float, dict]], x_more: bool, y_more: bool) -> list:
    """The non-dominated points, sorted by x from best to worst cost."""
    def better_eq(a, b, more):
        return a >= b if more else a <= b

    out = []
    for p in points:
        dominated = any(better_eq(q[0], p[0], x_more) and better_eq(q[1], p[1], y_more)
                        and (q[0], q[1]) != (p[0], p[1]) for q in points)
        if not dominated:
            out.append(p)
    return sorted(out, key=lambda p: -p[0] if x_more else p[0])


def write(out: Path, records: list[dict], title: str, wall_s: float | None = None) -> Path:
    out = Path(out)
    ok = [r for r in records if r.get("status") == "ok" and quality(r) is not None]
    failed = [r for r in records if r.get("status") != "ok"]
    metric = ok[0]["figures"]["train"]["metric"] if ok else "accuracy"
    y_more = metric not in LOWER_IS_BETTER
    lines = [f"# Design-space exploration: {title}", "",
             f"{len(records)} trials: {len(ok)} finished, {len(failed)} failed"
             + (f"; this run took {wall_s:.0f} s wall time" if wall_s is not None else "")
             + ". Quality: the integer model's test " + metric
             + " (the RTL's, bit for bit, where simulated).", ""]
    fronts = {}
    for name, (label, value, x_more) in COSTS.items():
        pts = [(value(r), quality(r), r) for r in ok if value(r) is not None]
        if not pts:
            lines += [f"No {label} figures (the stage that measures them did not run).", ""]
            continue
        fronts[name] = front(pts, x_more, y_more)
        note = ""
        if name == "steps" and not all(steps_per_s(r)[1] for _, _, r in pts):
            label += " (at the board oscillator; timing not checked)"
            note = (" Steps per second marked (osc): without a bitstream, the board's "
                    "oscillator over the manifest's cycles per step.")
        png = out / f"pareto-{name}.png"
        _plot(pts, fronts[name], label, metric, png)
        lines += [f"## {metric} against {label}", "", f"![{name}]({png.name})", "",
                  f"Front: {len(fronts[name])} of {len(pts)} points.{note}", ""]
        lines += _table(fronts[name])
    if failed:
        lines += ["## Failed trials", "", "| hash | config | stage | error |", "|---|---|---|---|"]
        for r in failed:
            err = (r.get("error") or "").replace("|", "/")
            lines.append(f"| {r['hash']} | {_short(r['config'])} | {r.get('failed_stage')} | "
                         f"{err} |")
        lines.append("")
    tables = iso_tables(ok)
    if len({r["config"]["quant"] for r in ok}) > 1 and tables:
        lines += [f"## Each scheme at equal {metric}", "",
                  "For each level (the best test " + metric + " some scheme reached), the "
                  "cheapest design of each scheme that reaches it, by one cost at a time; "
                  "the ratio columns divide by the int8 design's figure where both reach "
                  "the level.", ""]
        lines += iso_markdown(tables)
    lines += ["Every trial's figures, seconds per stage and the commands that rerun it alone "
              "are in `trials.jsonl`; its files are in its run folder.", ""]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path


def _short(c: dict) -> str:
    keys = ("cell", "quant", "hidden", "layers", "parallel", "storage", "board", "dsp", "seed")
    return " ".join(f"{k}={c[k]}" for k in keys if k in c)


def _table(pts: list) -> list[str]:
    rows = ["| cell | quant | hidden | lanes x columns | storage | metric | LUTs | FFs | BRAM "
            "| DSP | Fmax MHz | clock MHz | steps/s | weight bits | hash |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, y, r in pts:
        c, f = r["config"], r["figures"]
        b = f.get("bitstream", {})
        v = f.get("verilog", {})
        lanes = f"{v.get('parallel', c['parallel'])} x {v.get('simd', c.get('simd', 1))}"
        fmax = f"{b['fmax_mhz']:.1f}" if "fmax_mhz" in b else ""
        clock = f"{b['clock_mhz']:.3g}" if "clock_mhz" in b else ""
        sps, built = steps_per_s(r)
        sps = "" if sps is None else f"{sps:.0f}" + ("" if built else " (osc)")
        rows.append(f"| {c['cell']} | {c['quant']} | {c['hidden']} | {lanes} | {c['storage']} | "
                    f"{y:.4f} | {b.get('lut', '')} | {b.get('ff', '')} | {b.get('bram', '')} | "
                    f"{b.get('dsp', '')} | {fmax} | {clock} | {sps} | "
                    f"{f['train'].get('weight_bits', '')} | {r['hash']} |")
    return rows + [""]


def _plot(pts, fr, xlabel: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quants = sorted({r["config"]["quant"] for _, _, r in pts})
    colours = {q: plt.get_cmap("tab10")(i % 10) for i, q in enumerate(quants)}
    fig, ax = plt.subplots(figsize=(6, 4))
    for q in quants:
        xs = [x for x, _, r in pts if r["config"]["quant"] == q]
        ys = [y for _, y, r in pts if r["config"]["quant"] == q]
        ax.scatter(xs, ys, color=colours[q], label=q, s=28, zorder=3)
    ax.plot([p[0] for p in fr], [p[1] for p in fr], "k--", lw=1, label="Pareto front",
            zorder=2)
    ax.scatter([p[0] for p in fr], [p[1] for p in fr], facecolors="none", edgecolors="k",
               s=90, zorder=4)
    ax.set(xlabel=xlabel, ylabel=f"test {metric}")
    if "steps" in path.name or "bits" in path.name:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_save_png(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    """`python -m explore.report DIR [--iso-accuracy] [--recommend OBJECTIVE --board B]`:
    DIR/report.md again from DIR/trials.jsonl (no stage runs); the equal-accuracy tables and
    the recommended design printed."""
    from hw.cli import Parser, run

    from .iso import OBJECTIVES, recommend
    from .results import Trials

    p = Parser(prog="python -m explore.report", description=main.__doc__.splitlines()[0])
    p.add_argument("out", help="a sweep's folder (with trials.jsonl)")
    p.add_argument("--iso-accuracy", action="store_true",
                   help="print each scheme's cheapest design at each accuracy level")
    p.add_argument("--recommend", metavar="OBJECTIVE",
                   choices=("accuracy",) + tuple(OBJECTIVES),
                   help="print the design to build: accuracy, or the best by "
                        f"{', '.join(OBJECTIVES)} among those within reach of the best metric")
    p.add_argument("--board", help="the board of --recommend (default: the trials' only one)")
    args = p.parse_args(argv)

    def body() -> int:
        from hw.errors import UserError

        out = Path(args.out)
        if not (out / "trials.jsonl").is_file():
            raise UserError(f"{out / 'trials.jsonl'} does not exist (run python -m explore)")
        recs = Trials(out).latest()
        path = write(out, recs, out.name)
        print(f"wrote {path}")
        if args.iso_accuracy:
            print("\n".join(iso_markdown(iso_tables(recs))))
        if args.recommend:
            boards = sorted({r["config"]["board"] for r in recs
                             if r.get("status") == "ok" and r["config"].get("board")})
            board = args.board or (boards[0] if len(boards) == 1 else None)
            if board is None:
                raise UserError(f"the trials are for {', '.join(boards)}: give --board")
            rec = recommend(out, board, args.recommend)
            print(f"build {rec.run} ({rec.config['cell']} {rec.config['hidden']} "
                  f"{rec.config['quant']}, {rec.metric} {rec.quality:.4f}): {rec.reason}")
        return 0

    return run(body)


if __name__ == "__main__":
    import sys

    sys.exit(main())
