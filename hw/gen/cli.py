"""`python -m hw verilog RUN/model.json --parallel P|auto|unrolled [--simd S]
[--order rows|columns|auto] [--ports axis] --out RUN`.

Writes RUN/top.v (module `top`, from amaranth.back.verilog; `--ports axis` gives it the
AXI-Stream-style names of hw.gen.axis) and RUN/manifest.json, both atomically. Bad input (a
missing or malformed model, a bad --parallel) is a UserError.
"""

from __future__ import annotations

import time
from pathlib import Path

from amaranth.back import verilog

from ..cell import UNIT_ROWS
from ..errors import UserError
from ..fileio import atomic_write_text
from ..modelfile import load
from .axis import NATIVE, PORT_STYLES, AxisTop, rename
from .fit import DEVICES
from .lanes import ORDERS
from .manifest import TOP, Manifest, check_ports, save_manifest
from .placement import STORAGES
from .topplan import AUTO, plan_for
from .unrolled_top import UNROLLED


def parse_parallel(text: str, *, auto: bool = False):
    if text == UNROLLED or (auto and text == AUTO):
        return text
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        also = f", {AUTO!r}" if auto else ""
        raise UserError(f"--parallel must be a positive integer{also} or {UNROLLED!r}, "
                        f"not {text!r}")
    return value


def add_arguments(p) -> None:
    p.add_argument("model", help="path to model.json")
    p.add_argument("--parallel", default=AUTO, metavar="P|auto|unrolled",
                   help="lanes (rows a cycle, a multiple of the cell's gate rows), 'auto' "
                        "(default: the folding with the most steps/s that fits --board), or "
                        "'unrolled'")
    p.add_argument("--board", default="icebreaker", choices=sorted(DEVICES),
                   help="the board --parallel auto sizes the engine for (default icebreaker)")
    p.add_argument("--simd", type=int, default=None, metavar="S",
                   help="columns each lane takes a cycle, a power of two (default 1; "
                        "chosen with --parallel auto)")
    p.add_argument("--storage", choices=STORAGES, default="memory",
                   help="vectors in memories (default; block RAM on the boards) or in "
                        "flip-flops ('registers')")
    p.add_argument("--order", choices=ORDERS + (AUTO,), default=AUTO,
                   help="the engine's walk of a pass: 'rows' (group by group), 'columns' "
                        "(chunk by chunk: the steps of a sequence overlap, for small models) "
                        "or 'auto' (the one with fewer cycles per step; default)")
    p.add_argument("--head-parallel", type=int, default=None, metavar="P",
                   help="lanes of the head's own multiplier engine, for a model whose head "
                        "alone is intN (default: chosen with --parallel auto, else one "
                        "unit's rows)")
    p.add_argument("--head-simd", type=int, default=None, metavar="S",
                   help="columns a cycle of the head's own engine (a power of two, at most "
                        "--simd; default: chosen with --parallel auto, else 1)")
    p.add_argument("--cell-units", type=int, default=None, metavar="U",
                   help="hidden units updated per cycle (default 1, or all when unrolled)")
    p.add_argument("--ports", choices=PORT_STYLES, default=NATIVE,
                   help="port names: 'native' (clk, rst, i__payload, ...; default) or 'axis' "
                        "(aclk, aresetn, s_axis_tdata/tuser/tlast/tvalid/tready, m_axis_*; "
                        "docs/hardware.md)")
    p.add_argument("--out", default=None, help="output folder (default: the model's folder)")


def generate(model, parallel, cell_units: int | None = None, storage: str = "memory",
             simd: int = 1, board: str | None = None, *, placement=None,
             ports: str = NATIVE, order: str = AUTO,
             head: tuple[int, int] | None = None) -> tuple[str, Manifest]:
    """(Verilog text, manifest) for a model; `board`: the device the manifest's roofline
    refers to (and that `parallel="auto"` sizes the engine for, and whose memory placement
    is used unless `placement`, a hw.gen.placement.Placement, is given); `ports`: the port
    names (hw.gen.axis); `order`: the engine's walk, or "auto" (chosen with the folding, or
    the faster one for a given folding)."""
    if parallel == UNROLLED and storage == "memory":
        storage = "registers"  # the unrolled engine's only storage
    if parallel != UNROLLED and placement is None and board in DEVICES:
        placement = DEVICES[board].placement
    try:
        plan = plan_for(model, parallel=parallel, simd=simd, cell_units=cell_units,
                        storage=storage, placement=placement, order=order, head=head,
                        device=DEVICES.get(board or "icebreaker"))
    except ValueError as e:  # nothing fits, a bad meta.emit in the model file, a bad option
        raise UserError(str(e)) from None
    man = plan.manifest(DEVICES.get(board) if board else None)
    top = plan.create()
    if ports != NATIVE:
        top = AxisTop(top)
        man = rename(man, top)
    text = verilog.convert(top, name=TOP, emit_src=False)
    check_ports(man, text)
    return text, man


def main(args) -> int:
    parallel = parse_parallel(args.parallel, auto=True)
    model = load(args.model)
    out = Path(args.out) if args.out is not None else Path(args.model).parent
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    t0 = time.monotonic()
    if parallel != AUTO and args.simd is None:
        args.simd = 1
    elif parallel == AUTO and args.simd is not None:
        raise UserError("--simd is chosen by --parallel auto; give --parallel P with it")
    head = None
    if args.head_parallel is not None or args.head_simd is not None:
        if parallel == AUTO:
            raise UserError("--head-parallel and --head-simd are chosen by --parallel auto; "
                            "give --parallel P with them")
        head = (args.head_parallel or len(UNIT_ROWS[model.cell]), args.head_simd or 1)
    text, man = generate(model, parallel, args.cell_units, args.storage, args.simd, args.board,
                         ports=args.ports, order=getattr(args, "order", AUTO), head=head)
    atomic_write_text(out / "top.v", text)
    save_manifest(man, out / "manifest.json")
    r = man.resources
    print(f"wrote {out / 'top.v'} and {out / 'manifest.json'} in {time.monotonic() - t0:.1f} s: "
          f"parallel {man.parallel}, simd {man.simd}"
          f"{f', order {man.order}' if man.order else ''}, "
          f"{man.cycles_per_step} cycles/step, latency {man.latency}, "
          f"{r['adders']} adders, {r['multipliers']} weight multipliers, "
          f"{r['elementwise_multipliers']} element-wise multipliers, "
          f"{r['memory_bits']} memory bits")
    return 0
