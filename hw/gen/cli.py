"""The generator: `generate` (a model to Verilog text and its manifest), `generate_run` (the
`make verilog` stage over files) and `python -m hw verilog RUN/model.json --parallel
P|auto|unrolled [--simd S] [--order rows|columns|auto] [--board NAME] [--ports axis]
--out RUN`, which only parses its arguments into `GenerateOptions` and calls `generate_run`.

`generate_run` writes RUN/top.v (module `top`, from amaranth.back.verilog; `--ports axis`
gives it the AXI-Stream-style names of hw.gen.axis) and then RUN/manifest.json, both
atomically; the manifest names the board and holds the options and the design hash
(hw.gen.design) that `make sim` and `make bitstream` check. Bad input (a missing or malformed
model, a bad option, a board without calibration for --parallel auto) is a UserError. Where
the model cannot use what was asked (more lanes or columns than its passes have), it builds
what it can and says so in a printed note.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from ..board import registry
from ..cell import UNIT_ROWS
from ..errors import UserError
from ..fileio import atomic_write_text, writable_folder
from ..modelfile import load
from .axis import NATIVE, PORT_STYLES, AxisTop, rename
from .design import seal
from .lanes import ORDERS
from .manifest import TOP, Manifest, check_ports, save_manifest
from .options import AUTO, OUTPUTS, UNROLLED, GenerateOptions, parse_parallel
from .placement import STORAGES
from .topplan import plan_for


def generate(model, parallel, cell_units: int | None = None, storage: str = "memory",
             simd: int = 1, board: str | None = None, *, placement=None,
             ports: str = NATIVE, order: str = AUTO,
             head: tuple[int, int] | None = None,
             reloadable: bool = False, output: str = AUTO) -> tuple[str, Manifest]:
    """(Verilog text, manifest) for a model; `board`: the board (hw.board.registry) whose
    calibration the manifest's roofline refers to (and that `parallel="auto"` sizes the
    engine for), and whose memory placement is used unless `placement`, a
    hw.gen.placement.Placement, is given; `ports`: the port names (hw.gen.axis); `order`: the
    engine's walk, or "auto" (chosen with the folding, or the faster one for a given
    folding); `head`: the head's own engine (lanes, columns) of a mixed model; `reloadable`:
    the weight memories written at run time (hw.gen.topplan); `output`: the head's outputs
    as one beat, streamed or auto (hw.gen.serial)."""
    rec = registry.board(board) if board is not None else None
    device = None
    if parallel == AUTO:
        if rec is None:
            raise UserError("--parallel auto sizes the engine for a board; name one")
        device = rec.calibrated()
    elif reloadable and parallel != UNROLLED and rec is not None and placement is None:
        # a reloadable design of a given folding gets its memories placed on the board as
        # auto places them (the iCE40UP5K's SPRAM where block RAM does not hold them:
        # TopPlan.on); a fixed one keeps block RAM, SPRAM having no initial contents
        device = rec.device
    if parallel == UNROLLED and storage == "memory":
        storage = "registers"  # the unrolled engine's only storage
    if parallel != UNROLLED and placement is None and rec is not None:
        placement = rec.placement
    try:
        plan = plan_for(model, parallel=parallel, simd=simd, cell_units=cell_units,
                        storage=storage, placement=placement, order=order, head=head,
                        device=device, reloadable=reloadable, output=output)
    except ValueError as e:  # nothing fits, a bad meta.emit in the model file, a bad option
        raise UserError(str(e)) from None
    man = plan.manifest(rec.device if rec is not None else None)
    top = plan.create()
    if ports != NATIVE:
        top = AxisTop(top)
        man = rename(man, top)
    text = verilog.convert(top, name=TOP, emit_src=False)
    check_ports(man, text)
    return text, man


@dataclass(frozen=True)
class Generated:
    """What `generate_run` wrote."""

    folder: Path
    top_v: Path
    manifest_path: Path
    manifest: Manifest
    notes: tuple[str, ...]  # what was built instead of what was asked, where they differ
    seconds: float

    @property
    def cycles_per_step(self) -> int:
        return self.manifest.cycles_per_step

    @property
    def latency(self) -> int:
        return self.manifest.latency

    @property
    def parallel(self) -> int | str:
        return self.manifest.parallel


def generate_run(model_path, options: GenerateOptions | None = None, out=None, *,
                 say: Callable[[str], None] = print, placement=None) -> Generated:
    """OUT/top.v and OUT/manifest.json (OUT: the model's folder unless `out`) for the model
    file at `model_path`, as `options` ask (default: GenerateOptions()); notes on what was
    built instead go to `say`. `placement`: a hand-made hw.gen.placement.Placement (for
    example memories named into SPRAM), instead of the board's (`generate`)."""
    opts = (options or GenerateOptions()).check()
    board = registry.board(opts.board)
    if opts.parallel == AUTO:
        board.calibrated()  # before the model is even read
    model_path = Path(model_path)
    model = load(model_path)
    out = writable_folder(Path(out) if out is not None else model_path.parent, "output folder")
    t0 = time.monotonic()
    head = None
    if (opts.head_parallel, opts.head_simd) != (None, None):
        head = (opts.head_parallel or len(UNIT_ROWS[model.cell]), opts.head_simd or 1)
    text, man = generate(model, opts.parallel, opts.cell_units, opts.storage, opts.simd or 1,
                         board.name, ports=opts.ports, order=opts.order, head=head,
                         reloadable=opts.reloadable, placement=placement, output=opts.output)
    notes = []
    if opts.parallel not in (AUTO, UNROLLED) and man.parallel < opts.parallel:
        notes.append(f"note: --parallel {opts.parallel} is more lanes than this model's "
                     f"tallest pass has rows: built {man.parallel} lanes")
    if opts.simd is not None and man.simd < opts.simd:
        notes.append(f"note: --simd {opts.simd} is more columns than this model's widest "
                     f"pass needs (a power of two covering it): built simd {man.simd}")
    if man.reload is not None and not opts.reloadable:
        notes.append(f"note: this design keeps {', '.join(man.placement['huge'])} in the "
                     f"{board.name}'s SPRAM, which has no initial contents: built it "
                     f"reloadable; after each power-up, load the weights with python -m hw "
                     f"load {out} --port PORT")
    for line in notes:
        say(line)
    top_v, man_path = out / "top.v", out / "manifest.json"
    atomic_write_text(top_v, text)
    man = seal(dataclasses.replace(man, board=board.name, options=opts), model_path, top_v)
    save_manifest(man, man_path)
    return Generated(out, top_v, man_path, man, tuple(notes), time.monotonic() - t0)


# ---------------------------------------------------------------- the command

def add_arguments(p) -> None:
    p.add_argument("model", help="path to model.json")
    p.add_argument("--parallel", default=AUTO, metavar="P|auto|unrolled",
                   help="lanes (rows a cycle, a multiple of the cell's gate rows), 'auto' "
                        "(default: the folding with the most steps/s that fits --board), or "
                        "'unrolled'")
    p.add_argument("--board", default="icebreaker", metavar="NAME",
                   help=f"the board the design is for: {', '.join(sorted(registry.BOARDS))} "
                        f"(measured: --parallel auto sizes the engine for them) or any board "
                        f"`hw bitstream` takes (default icebreaker)")
    p.add_argument("--simd", type=int, default=None, metavar="S",
                   help="columns each lane takes a cycle, a power of two (default 1; "
                        "chosen with --parallel auto)")
    p.add_argument("--storage", choices=STORAGES, default=None,
                   help="vectors in memories (default; block RAM on the boards) or in "
                        "flip-flops ('registers', the unrolled engine's)")
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
                   help="hidden units the unrolled engine updates per cycle (default all)")
    p.add_argument("--ports", choices=PORT_STYLES, default=NATIVE,
                   help="port names: 'native' (clk, rst, i__payload, ...; default) or 'axis' "
                        "(aclk, aresetn, s_axis_tdata/tuser/tlast/tvalid/tready, m_axis_*; "
                        "docs/hardware.md)")
    p.add_argument("--reloadable", action="store_true",
                   help="a design for the model's shape whose weight memories are written at "
                        "run time (python -m hw load; docs/hardware.md, Reloadable weights)")
    p.add_argument("--output", choices=OUTPUTS + (AUTO,), default=AUTO,
                   help="the head's outputs: 'beat' (all in one beat of registers), 'serial' "
                        "(one element a beat out of a memory, the argmax with the last) or "
                        "'auto' (serial for more than 16 outputs where the readout fits the "
                        "layers' time; default; docs/hardware.md, Streamed outputs)")
    p.add_argument("--out", default=None, help="output folder (default: the model's folder)")


def options_from(args) -> tuple[Path, GenerateOptions, Path | None]:
    """(model path, options, output folder) from the parsed arguments."""
    return (Path(args.model),
            GenerateOptions(parallel=parse_parallel(args.parallel, auto=True),
                            simd=args.simd, board=args.board, storage=args.storage,
                            order=args.order, cell_units=args.cell_units, ports=args.ports,
                            head_parallel=args.head_parallel, head_simd=args.head_simd,
                            reloadable=args.reloadable, output=args.output),
            Path(args.out) if args.out is not None else None)


def main(args) -> int:
    g = generate_run(*options_from(args))
    man, r = g.manifest, g.manifest.resources
    print(f"wrote {g.top_v} and {g.manifest_path} in {g.seconds:.1f} s: "
          f"parallel {man.parallel}, simd {man.simd}"
          f"{f', order {man.order}' if man.order else ''}, "
          f"{man.cycles_per_step} cycles/step, latency {man.latency}, "
          f"{r['adders']} adders, {r['multipliers']} weight multipliers, "
          f"{r['elementwise_multipliers']} element-wise multipliers, "
          f"{r['memory_bits']} memory bits"
          + (f"; reloadable, shape {man.reload['fingerprint']}, {man.reload['words']} words a "
             f"load" if man.reload else ""))
    return 0
