"""Equal-accuracy comparisons of a sweep's designs, and the design to build.

For a task and a board, `iso_tables` answers "what does each weight scheme cost to reach
this accuracy?": the levels are the best test metric each scheme reached, and for every level
and scheme it takes the cheapest design that reaches it (at least as good), by one cost at a
time (LUTs, steps per second, block RAMs, weight bits). Everything is computed from the trials'
records (trials.jsonl), never written by hand. `recommend` returns the one design to build for
an objective, with its run folder. Pure Python over the records: nothing here runs a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hw.errors import UserError

from .figures import LOWER_IS_BETTER, quality, steps_per_s
from .results import Trials

# name -> (label, value of a record or None, whether more is better)
OBJECTIVES = {
    "luts": ("LUTs", lambda r: r["figures"].get("bitstream", {}).get("lut"), False),
    "steps": ("steps/s", lambda r: steps_per_s(r)[0], True),
    "brams": ("block RAMs", lambda r: r["figures"].get("bitstream", {}).get("bram"), False),
    "weight_bits": ("weight bits", lambda r: r["figures"]["train"].get("weight_bits"), False),
}
# the default floor of `recommend`: this far below the best metric still counts as "as good"
TOLERANCE = {"accuracy": 0.005, "bpc": 0.01}


ORDER = ("float", "int8", "int4", "ternary", "pow2-ternary", "exponential", "binary")


def _scheme_order(s: str) -> tuple:
    """The baselines (float, int8) first, then the shift schemes, then any other."""
    return (ORDER.index(s) if s in ORDER else len(ORDER), s)


def _usable(records: list[dict], board: str | None = None, task: str | None = None):
    out = [r for r in records if r.get("status") == "ok" and quality(r) is not None
           and (board is None or r["config"].get("board") == board)
           and (task is None or r["config"].get("task") == task)]
    return out


def _metric(records: list[dict]) -> str:
    return records[0]["figures"]["train"]["metric"] if records else "accuracy"


def reaches(value: float, level: float, metric: str) -> bool:
    return value <= level if metric in LOWER_IS_BETTER else value >= level


@dataclass(frozen=True)
class Cell:
    """The cheapest design of one scheme that reaches one level, by one objective."""

    value: float
    record: dict


@dataclass(frozen=True)
class IsoTable:
    objective: str
    metric: str
    schemes: tuple[str, ...]
    levels: tuple[float, ...]  # best first
    cells: dict  # (level, scheme) -> Cell

    def ratio(self, level: float, scheme: str, baseline: str) -> float | None:
        a, b = self.cells.get((level, scheme)), self.cells.get((level, baseline))
        if a is None or b is None or not b.value:
            return None
        return a.value / b.value


def iso_tables(records: list[dict], *, board: str | None = None,
               task: str | None = None) -> list[IsoTable]:
    """One table per objective with figures in the records (see the module)."""
    recs = _usable(records, board, task)
    if not recs:
        return []
    metric = _metric(recs)
    lower = metric in LOWER_IS_BETTER
    schemes = tuple(sorted({r["config"]["quant"] for r in recs}, key=_scheme_order))
    best = {s: (min if lower else max)(quality(r) for r in recs if r["config"]["quant"] == s)
            for s in schemes}
    levels = tuple(sorted(set(best.values()), reverse=not lower))
    out = []
    for name, (_, value, more) in OBJECTIVES.items():
        cells = {}
        for lv in levels:
            for s in schemes:
                cands = [(value(r), r) for r in recs if r["config"]["quant"] == s
                         and value(r) is not None and reaches(quality(r), lv, metric)]
                if cands:
                    v, r = (max if more else min)(cands, key=lambda c: c[0])
                    cells[lv, s] = Cell(v, r)
        if cells:
            out.append(IsoTable(name, metric, schemes, levels, cells))
    return out


def _fmt_level(v: float, metric: str) -> str:
    return f"{100 * v:.2f} %" if metric == "accuracy" else f"{v:.3f}"


def _design(r: dict) -> str:
    c = r["config"]
    return f"{c['cell']} {c['hidden']}"


def markdown(tables: list[IsoTable], baseline: str = "int8") -> list[str]:
    """The tables as Markdown lines: per level (each scheme's best metric), each scheme's
    cheapest design that reaches it, and its ratio to `baseline` where both reach it."""
    lines = []
    for t in tables:
        label, _, more = OBJECTIVES[t.objective]
        word = "most" if more else "fewest"
        lines += [f"### {label} at equal {t.metric} ({word} per scheme)", ""]
        others = [s for s in t.schemes if s != baseline]
        head = ["at least" if t.metric not in LOWER_IS_BETTER else "at most", *t.schemes]
        if baseline in t.schemes:
            head += [f"{s} / {baseline}" for s in others]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lv in t.levels:
            row = [_fmt_level(lv, t.metric)]
            for s in t.schemes:
                c = t.cells.get((lv, s))
                row.append("-" if c is None else
                           f"{c.value:,.0f} ({_design(c.record)}, {c.record['hash'][:6]})")
            if baseline in t.schemes:
                for s in others:
                    q = t.ratio(lv, s, baseline)
                    row.append("-" if q is None else f"{q:.2f}")
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"A dash: the scheme reaches no design at that level (or none with this "
                  f"figure). Levels are the best test {t.metric} each scheme reached.", ""]
    return lines


@dataclass(frozen=True)
class Recommendation:
    hash: str
    run: Path
    config: dict
    metric: str
    quality: float
    objective: str
    value: float | None
    reason: str


def recommend(out, board: str, objective: str = "luts", floor: float | None = None
              ) -> Recommendation:
    """The design to build from the sweep in `out` for `board`: with objective "accuracy"
    the best test metric (then the fewest LUTs); else, among the designs at least as good as
    `floor` (default: the best metric less TOLERANCE), the best by the objective (then the
    better metric). UserError when the sweep has no finished design for the board."""
    if objective != "accuracy" and objective not in OBJECTIVES:
        raise UserError(f"objective must be accuracy or one of {', '.join(OBJECTIVES)}, "
                        f"not {objective!r}")
    recs = _usable(Trials(Path(out)).latest(), board)
    if not recs:
        raise UserError(f"{out} holds no finished trial for the {board}")
    metric = _metric(recs)
    lower = metric in LOWER_IS_BETTER
    sign = 1 if lower else -1  # sort keys: smaller is better

    def luts(r):
        v = OBJECTIVES["luts"][1](r)
        return float("inf") if v is None else v

    if objective == "accuracy":
        r = min(recs, key=lambda r: (sign * quality(r), luts(r)))
        return Recommendation(r["hash"], Path(r["run"]), r["config"], metric, quality(r),
                              objective, quality(r), f"the best test {metric}")
    best = (min if lower else max)(quality(r) for r in recs)
    if floor is None:
        floor = best + (TOLERANCE.get(metric, 0.0) if lower else -TOLERANCE.get(metric, 0.0))
    _, value, more = OBJECTIVES[objective]
    cands = [r for r in recs if reaches(quality(r), floor, metric) and value(r) is not None]
    if not cands:
        raise UserError(f"no design in {out} for the {board} reaches {metric} "
                        f"{_fmt_level(floor, metric)} with a {OBJECTIVES[objective][0]} figure")
    r = min(cands, key=lambda r: ((-1 if more else 1) * value(r), sign * quality(r)))
    return Recommendation(r["hash"], Path(r["run"]), r["config"], metric, quality(r),
                          objective, value(r),
                          f"the {'most' if more else 'fewest'} {OBJECTIVES[objective][0]} "
                          f"among the designs at {metric} {_fmt_level(floor, metric)} or "
                          f"better (the best is {_fmt_level(best, metric)})")
