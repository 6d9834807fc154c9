"""How long generation takes (ModelTop + amaranth.back.verilog.convert + manifest).

    .venv/bin/python -m bench.gen_speed [--hidden 64 --inputs 16 --cell gru]

The goal is seconds, not minutes, for a 64-unit GRU with 16 inputs.
"""

from __future__ import annotations

import argparse
import sys
import time

from hw.gen.cli import generate
from hw.random_model import random_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="gru")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--schemes", default="ternary,exponential,int8")
    ap.add_argument("--parallel", default="3x1,48x8,unrolled",
                    help="foldings PxS (lanes x columns per lane), or unrolled")
    args = ap.parse_args()
    print("| scheme | P x S | seconds | top.v kB | cycles/step |")
    print("|---|---|---|---|---|")
    for scheme in args.schemes.split(","):
        model = random_model(cell=args.cell, scheme=scheme, input_size=args.inputs,
                             hidden_size=args.hidden, outputs=10, seed=3)
        for text in args.parallel.split(","):
            par, simd = ("unrolled", 1) if text == "unrolled" else map(int, text.split("x"))
            t0 = time.monotonic()
            verilog, man = generate(model, par, simd=simd,
                                    storage="registers" if par == "unrolled" else "memory")
            dt = time.monotonic() - t0
            print(f"| {scheme} | {text} | {dt:.1f} | {len(verilog) // 1000} | "
                  f"{man.cycles_per_step} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
