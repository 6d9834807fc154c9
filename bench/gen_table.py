"""Cycles per step and resources against the parallelism knob, for one model.

    .venv/bin/python -m bench.gen_table [--cell gru --scheme ternary --hidden 16 --inputs 8]

Prints a Markdown table (docs/hardware.md holds its output): the walk order `--order auto`
takes, cycles per step and latency from ModelTop's properties, the engine's own bound
(ceil(rows / P) x chunks of S columns, summed over the step's passes), resources from the
manifest, and generic cell counts from yosys `stat` on the emitted top.v.
"""

from __future__ import annotations

import argparse
import sys
import time

from hw.gen.cli import generate
from hw.gen.stat import cell_counts
from hw.random_model import random_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="gru")
    ap.add_argument("--scheme", default="ternary")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--outputs", type=int, default=4)
    ap.add_argument("--parallel", default="3x1,3x4,6x8,12x8,48x8,48x32,unrolled",
                    help="foldings PxS (lanes x columns per lane), or unrolled")
    args = ap.parse_args()
    model = random_model(cell=args.cell, scheme=args.scheme, input_size=args.inputs,
                         hidden_size=args.hidden, outputs=args.outputs, seed=0)
    print(f"model: random_model(cell={args.cell!r}, scheme={args.scheme!r}, "
          f"input_size={args.inputs}, hidden_size={args.hidden}, outputs={args.outputs}, "
          f"seed=0), emit 'last'\n")
    print("| P x S | order | cycles/step | bound | latency | adders | shifters | finalizers | "
          "weight mults | elementwise mults | memory bits | yosys $add+$sub | yosys $mul | "
          "yosys shifts | yosys flip-flop cells | generation s |")
    print("|" + "---|" * 16)
    for text in args.parallel.split(","):
        par, simd = ("unrolled", 1) if text == "unrolled" else map(int, text.split("x"))
        t0 = time.monotonic()
        verilog, man = generate(model, par, simd=simd,
                                storage="registers" if par == "unrolled" else "memory")
        gen = time.monotonic() - t0
        cells = cell_counts(verilog)
        bound = "-" if par == "unrolled" else man.bound_cycles
        r = man.resources
        adds = cells.get("$add", 0) + cells.get("$sub", 0)
        shifts = sum(v for k, v in cells.items() if k in ("$shl", "$sshl", "$shr", "$sshr",
                                                          "$shift", "$shiftx"))
        ffs = sum(v for k, v in cells.items() if "dff" in k)
        print(f"| {text} | {man.order or '-'} | {man.cycles_per_step} | {bound} | "
              f"{man.latency} | "
              f"{r['adders']} | {r['shifters']} | {r.get('finalizers', '-')} | "
              f"{r['multipliers']} | "
              f"{r['elementwise_multipliers']} | {r['memory_bits']} | {adds} | "
              f"{cells.get('$mul', 0)} | {shifts} | {ffs} | {gen:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
