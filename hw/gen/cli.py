"""`python -m hw verilog RUN/model.json --parallel P|unrolled [--storage memory] --out RUN`.

Writes RUN/top.v (module `top`, from amaranth.back.verilog) and RUN/manifest.json, both
atomically. Bad input (a missing or malformed model, a bad --parallel) is a UserError.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from amaranth.back import verilog

from ..modelfile import UserError, atomic_write_text, load
from .engine import STORAGES
from .manifest import TOP, check_ports, manifest
from .top import UNROLLED, ModelTop


def parse_parallel(text: str):
    if text == UNROLLED:
        return UNROLLED
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise UserError(f"--parallel must be a positive integer or {UNROLLED!r}, not {text!r}")
    return value


def add_arguments(p) -> None:
    p.add_argument("model", help="path to model.json")
    p.add_argument("--parallel", default="4", metavar="P|unrolled",
                   help="lanes of the time-multiplexed engine, or 'unrolled' (default 4)")
    p.add_argument("--storage", choices=STORAGES, default="registers",
                   help="hidden state and results in flip-flops (default) or in memories "
                        "(block RAM: far less logic for large models; one cell unit)")
    p.add_argument("--cell-units", type=int, default=None, metavar="U",
                   help="hidden units updated per cycle (default 1, or all when unrolled)")
    p.add_argument("--out", default=None, help="output folder (default: the model's folder)")


def generate(model, parallel, cell_units: int | None = None,
             storage: str = "registers") -> tuple[str, dict]:
    """(Verilog text, manifest) for a model."""
    try:
        top = ModelTop(model, parallel=parallel, cell_units=cell_units, storage=storage)
    except ValueError as e:  # a bad meta.emit in the model file, a bad --cell-units/--storage
        raise UserError(str(e)) from None
    text = verilog.convert(top, name=TOP, emit_src=False)
    man = manifest(top)
    check_ports(man, text)
    return text, man


def main(args) -> int:
    parallel = parse_parallel(args.parallel)
    model = load(args.model)
    out = Path(args.out) if args.out is not None else Path(args.model).parent
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    t0 = time.monotonic()
    text, man = generate(model, parallel, args.cell_units, args.storage)
    atomic_write_text(out / "top.v", text)
    atomic_write_text(out / "manifest.json", json.dumps(man, indent=1) + "\n")
    r = man["resources"]
    print(f"wrote {out / 'top.v'} and {out / 'manifest.json'} in {time.monotonic() - t0:.1f} s: "
          f"{man['cycles_per_step']} cycles/step, latency {man['latency']}, "
          f"{r['adders']} adders, {r['multipliers']} weight multipliers, "
          f"{r['elementwise_multipliers']} element-wise multipliers, "
          f"{r['memory_bits']} memory bits")
    return 0
