"""Mixed precision at shift-and-add cost (issue 29): the generator's figures for a char model
whose recurrent matrix is ternary and whose edges (a one-hot input's matrix, the head) are
int8, against the same model all ternary and all int8, each with `--parallel auto`'s folding
for the board.

    python -m bench.mixed [--board ulx3s] [--hidden 160] [--vocab 50] [--dsp-cap 24]

Random weights (the figures do not depend on them): a GRU and an LSTM of `--hidden` units
over a one-hot input of `--vocab` symbols, a head of `--vocab` outputs, emit every (a
language model). Cycles per step are the plan's (the circuit takes them: tests measure them);
LUTs are the fit's estimate, block RAMs and DSP blocks counted from the plan; a bitstream
build is the check of those (docs/hardware.md). The ratios divide by the all-ternary design's
figure. `--dsp-cap` adds the mixed design chosen with at most that many DSP blocks.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from hw.board.registry import BOARDS
from hw.gen.fit import estimate
from hw.gen.topplan import TopPlan
from hw.random_model import random_model

VARIANTS = (
    ("all ternary", {}),
    ("ternary, int8 head", {"head_scheme": "int8"}),
    ("ternary, int8 input and head", {"head_scheme": "int8", "input_scheme": "int8"}),
    ("all int8", {"scheme": "int8"}),
)


def row(model, device, label: str) -> dict:
    tp = TopPlan.auto(model, device, image=False)
    f = estimate(tp, device)
    r = tp.resources
    return {"label": label, "cycles": f.cycles_per_step, "folding": f"{f.parallel} x {f.simd}"
            + (f" + head {f.head[0]} x {f.head[1]}" if f.head else ""),
            "multipliers": r["multipliers"], "dsps": f.dsps, "memory_bits": r["memory_bits"],
            "luts": f.luts, "brams": f.brams, "bound": tp.bound_cycles}


def table(cell: str, hidden: int, vocab: int, board: str, dsp_cap: int | None) -> list[str]:
    device = BOARDS[board].calibrated()
    rows = []
    for label, kw in VARIANTS:
        kw = {"scheme": "ternary"} | kw
        m = random_model(cell=cell, input_size=vocab, hidden_size=hidden, outputs=vocab,
                         emit="every", onehot=True, seed=0, **kw)
        rows.append(row(m, device, label))
        if dsp_cap is not None and label == "ternary, int8 input and head":
            rows.append(row(m, replace(device, dsps=dsp_cap),
                            f"{label}, at most {dsp_cap} DSP blocks"))
    base = rows[0]
    out = [f"### {cell.upper()} {hidden}, one-hot input of {vocab}, {vocab} outputs, emit every, "
           f"{device.name}", "",
           "| model | cycles/step | / all-ternary | bound | lanes x columns | weight multipliers "
           "| DSP blocks | memory bits | / all-ternary | LUTs (est.) | BRAM |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {r['cycles']} | {r['cycles'] / base['cycles']:.2f} | "
                   f"{r['bound']} | {r['folding']} | {r['multipliers']} | {r['dsps']} | "
                   f"{r['memory_bits']:,} | {r['memory_bits'] / base['memory_bits']:.2f} | "
                   f"{r['luts']:,} | {r['brams']} |")
    return out + [""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="ulx3s",
                   choices=sorted(n for n, b in BOARDS.items() if b.device))
    p.add_argument("--hidden", type=int, default=160)
    p.add_argument("--vocab", type=int, default=50)
    p.add_argument("--dsp-cap", type=int, default=24)
    a = p.parse_args(argv)
    for cell in ("gru", "lstm"):
        print("\n".join(table(cell, a.hidden, a.vocab, a.board, a.dsp_cap)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
