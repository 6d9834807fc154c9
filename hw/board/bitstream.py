"""The `make bitstream` stage: `bitstream(run, board, options)` builds the design `make verilog`
wrote into RUN for that board and writes RUN/BOARD.bin|bit and RUN/bitstream.json;
`python -m hw bitstream RUN --board NAME [--clock-mhz MHZ|auto]` parses its arguments into
`BuildOptions` and calls it.

Before anything is elaborated: RUN/model.json, top.v and manifest.json must be the ones
`make verilog` wrote together (their design hash, hw.gen.design), for this board; the folding
(lanes, columns, walk, storage, placement) is the manifest's and nothing else. A RUN without
manifest.json is generated first for the board (`--parallel auto`, with a note). RUN/sim.json
tells whether `make sim` checked this design: a passed simulation of it is recorded in
bitstream.json, one of another design (or none) gives a note and `sim: null` (the demo builds
while it simulates), and a failed one of this design is refused. A clock the board cannot make
is refused; one the PLL makes only approximately is built at the PLL's clock, with a note.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserError
from ..fileio import atomic_write_text, writable_folder
from ..gen.cli import generate_run
from ..gen.design import check_run
from ..gen.options import GenerateOptions
from ..gen.placement import Placement
from ..modelfile import load
from . import build as tools
from .registry import BOARDS, Board
from .registry import board as find_board


@dataclass(frozen=True)
class BuildOptions:
    clock_mhz: float | str = "auto"  # MHz, or "auto": the oscillator, then the PLL near Fmax
    baud: int = 1_000_000  # the UART's rate
    dsp: bool = True  # let yosys map multipliers to DSP blocks
    seed: int = 1  # nextpnr's placement seed
    # the design must be reloadable (generated so when the run has no manifest yet)
    reloadable: bool = False

    def check(self) -> BuildOptions:
        clock = self.clock_mhz
        if clock != "auto":
            try:
                clock = float(clock)
            except (TypeError, ValueError):
                clock = -1.0
            if not clock > 0:
                raise UserError(f"--clock-mhz must be a positive number or 'auto', not "
                                f"{self.clock_mhz!r}")
        for name, least, what in (("baud", 1, "positive"), ("seed", 0, "non-negative")):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise UserError(f"--{name} must be a {what} integer, not {v!r}")
        return BuildOptions(clock, self.baud, bool(self.dsp), self.seed, bool(self.reloadable))


def clock_for(board: Board, clock_mhz: float, say: Callable[[str], None]) -> float:
    """The clock in Hz the board makes for --clock-mhz: the oscillator's, or the PLL's nearest
    (a note when that is not the one asked for); UserError when it cannot come within 1%."""
    want = clock_mhz * 1e6
    try:
        cfg = board.pll_config(want)
    except ValueError as e:
        raise UserError(str(e)) from None
    if cfg is None:
        return want
    if abs(cfg.f_out - want) > 0.01 * want:
        raise UserError(f"--clock-mhz {clock_mhz:g}: the {board.name}'s PLL makes "
                        f"{cfg.f_out / 1e6:.3f} MHz at the nearest; ask for a clock it can make "
                        f"(or 'auto')")
    if cfg.f_out != want:
        say(f"note: the {board.name}'s PLL makes {cfg.f_out / 1e6:.3f} MHz, the nearest to "
            f"--clock-mhz {clock_mhz:g}: building at that")
    return cfg.f_out


def simulation(run: Path, design_hash: str, say: Callable[[str], None]) -> dict | None:
    """What RUN/sim.json says about this design: its record when `make sim` checked it and
    every beat matched; None (with a note) when it checked another design or is absent."""
    path = run / "sim.json"
    unsimulated = (f"building a design make sim has not checked (make sim RUN={run} checks it "
                   f"bit for bit against the reference model)")
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        say(f"note: no {path}: {unsimulated}")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        say(f"note: {path} is unreadable ({e}): {unsimulated}")
        return None
    if not isinstance(rec, dict) or rec.get("design_hash") != design_hash:
        say(f"note: {path} checked another design (or was written before sim.json recorded "
            f"one): {unsimulated}")
        return None
    if rec.get("mismatches") != 0:
        raise UserError(f"{path}: make sim found {rec.get('mismatches')!r} output beats of this "
                        f"design that differ from the reference model; a bitstream of it "
                        f"would compute other results (first: {rec.get('first_mismatch')})")
    return {k: rec.get(k) for k in ("design_hash", "simulator", "sequences", "steps",
                                    "mismatches", "testset", "limit")}


def bitstream(run, board: str, options: BuildOptions | None = None, *,
              say: Callable[[str], None] = print) -> tools.BuildResult:
    """Build RUN's design for `board` (a name hw.board.registry knows) with `options`
    (default: BuildOptions()); write the bitstream and RUN/bitstream.json and return its
    content."""
    opts = (options or BuildOptions()).check()
    b = find_board(board)
    run = Path(run)
    if not (run / "model.json").is_file():
        raise UserError(f"{run / 'model.json'} does not exist (train a model or pass a run "
                        f"folder that holds one)")
    writable_folder(run, "run folder")
    clock_hz = None if opts.clock_mhz == "auto" else clock_for(b, opts.clock_mhz, say)
    if not (run / "manifest.json").exists() and not (run / "top.v").exists():
        if b.device is None:
            raise UserError(f"{run} has no manifest.json, and the {b.name} has no calibration "
                            f"figures to size an engine with: run make verilog RUN={run} "
                            f"BOARD={b.name} PARALLEL=P SIMD=S first")
        say(f"[{b.name}] no {run / 'manifest.json'}: generating the design for the board "
            f"(make verilog RUN={run} BOARD={b.name}, --parallel auto)")
        generate_run(run / "model.json",
                     GenerateOptions(board=b.name, reloadable=opts.reloadable), run, say=say)
    man = check_run(run)
    if man.board != b.name:
        raise UserError(f"{run / 'manifest.json'} was generated for {man.board}, building for "
                        f"{b.name}: run make verilog RUN={run} BOARD={b.name}")
    if opts.reloadable and man.reload is None:
        raise UserError(f"{run / 'manifest.json'} is a fixed design (its weights in its "
                        f"bitstream): run make verilog RUN={run} BOARD={b.name} RELOADABLE=1 "
                        f"for a reloadable one")
    sim = simulation(run, man.design_hash, say)
    model = load(run / "model.json")
    common = dict(board=b, parallel=man.parallel, baud=opts.baud, dsp=opts.dsp, seed=opts.seed,
                  storage=man.storage, simd=man.simd, order=man.order or "rows",
                  placement=Placement.from_dict(man.placement),
                  cell_units=man.options.cell_units, reloadable=man.reload is not None,
                  head=tuple(man.head) if man.head else None,  # a mixed model's head engine
                  # as generated: streamed outputs (hw.gen.serial) or one beat
                  output="serial" if "end" in man.output.fields else "beat")
    t0 = time.monotonic()
    if clock_hz is None:
        res = _auto_clock(model, b, run, opts.baud, common, say)
    else:
        res = tools.build(model, clock_hz=clock_hz, out_dir=run / f"build-{b.name}",
                          progress=say, **common)
    if not res.meets_clock:
        raise UserError(f"the design misses its clock on the {b.title}: nextpnr's Fmax is "
                        f"{res.fmax_mhz:.1f} MHz < {res.clock_mhz:.3f} MHz; rebuild with a "
                        f"lower --clock-mhz (or 'auto') or fewer lanes (make verilog PARALLEL=P)")
    res.build_seconds = round(time.monotonic() - t0, 1)
    res.design_hash, res.sim = man.design_hash, sim
    dest = run / f"{b.name}.{b.bitstream_ext}"
    shutil.copyfile(res.bitstream, dest)
    res.bitstream = str(dest)
    atomic_write_text(run / "bitstream.json", json.dumps(asdict(res), indent=1) + "\n")
    return res


def _auto_clock(model, b: Board, run: Path, baud: int, common: dict, say) -> tools.BuildResult:
    """--clock-mhz auto: the oscillator's clock, then the PLL at 90% of the Fmax found, then
    close under that build's own Fmax; the fastest build that met its clock is kept."""
    def build(clock_hz, folder):
        return tools.build(model, clock_hz=clock_hz, out_dir=run / folder, progress=say,
                           **common)

    res = build(b.osc_hz, f"build-{b.name}")
    f = tools.pll_clock(b, res, baud)
    if f is None:
        return res
    say(f"[{b.name}] Fmax {res.fmax_mhz:.1f} MHz at the oscillator's {res.clock_mhz:g} MHz: "
        f"building again with the PLL at {f / 1e6:.3f} MHz")
    res2 = build(f, f"build-{b.name}-pll")
    if res2.meets_clock or not res.meets_clock:
        res = res2
    else:
        say(f"[{b.name}] with the PLL Fmax is {res2.fmax_mhz:.1f} MHz < "
            f"{res2.clock_mhz:.3f} MHz: keeping the oscillator's clock")
    # the PLL build's own Fmax may allow more: one more try, close under it
    f3 = b.pll_clock_for(0.98 * res2.fmax_mhz * 1e6, baud) if res2.meets_clock else None
    if f3 is None or f3 <= 1.03 * f:
        return res
    say(f"[{b.name}] Fmax {res2.fmax_mhz:.1f} MHz at {f / 1e6:.3f} MHz: building again with "
        f"the PLL at {f3 / 1e6:.3f} MHz")
    res3 = build(f3, f"build-{b.name}-pll2")
    if res3.meets_clock:
        return res3
    # placement noise (a build at a tighter clock can place worse than the one before it):
    # the larger of the missed build's own Fmax and the midpoint between the kept clock and
    # the missed one, when still worth it
    f4 = b.pll_clock_for(max(0.98 * res3.fmax_mhz * 1e6, (f + f3) / 2), baud)
    if f4 is not None and f4 > 1.03 * f and f4 < f3:
        say(f"[{b.name}] with the PLL at {f3 / 1e6:.3f} MHz Fmax is {res3.fmax_mhz:.1f} MHz: "
            f"building again at {f4 / 1e6:.3f} MHz")
        res4 = build(f4, f"build-{b.name}-pll3")
        if res4.meets_clock:
            res = res4
    say(f"[{b.name}] keeping {res.clock_mhz:.3f} MHz")
    return res


# ---------------------------------------------------------------- the command

def add_arguments(p) -> None:
    p.add_argument("run", help="run folder with model.json, top.v and manifest.json (make "
                               "verilog); RUN/bitstream.json is written")
    p.add_argument("--board", required=True, metavar="NAME",
                   help=f"{', '.join(sorted(BOARDS))}, or an amaranth_boards module on an "
                        f"iCE40 or ECP5 part with a UART (e.g. ice40_hx8k_b_evn, ecp5_5g_evn; "
                        f"MODULE:CLASS where it has several), built at its oscillator's clock; "
                        f"the one make verilog generated for")
    p.add_argument("--clock-mhz", default="auto", metavar="MHZ|auto",
                   help="system clock; other than the oscillator's means the PLL. 'auto' "
                        "(default) builds at the oscillator's clock, then once more with the "
                        "PLL at 90%% of the Fmax found, and keeps that if it meets timing")
    p.add_argument("--baud", type=int, default=1_000_000, help="UART rate (default 1000000)")
    p.add_argument("--no-dsp", action="store_true", help="keep DSP blocks out of the design")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--reloadable", action="store_true",
                   help="the design must be reloadable (make verilog RELOADABLE=1; generated "
                        "so when RUN has no manifest yet): its weights loaded by hw load")


def options_from(args) -> tuple[Path, str, BuildOptions]:
    """(run folder, board name, options) from the parsed arguments."""
    return Path(args.run), args.board, BuildOptions(args.clock_mhz, args.baud,
                                                    not args.no_dsp, args.seed, args.reloadable)


def main(args) -> int:
    res = bitstream(*options_from(args))
    print(f"wrote {res.bitstream} and {Path(args.run) / 'bitstream.json'}: "
          f"{res.lut}/{res.lut_available} LUTs, {res.ff} FFs, {res.bram} BRAM, {res.dsp} DSP, "
          f"Fmax {res.fmax_mhz:.1f} MHz at {res.clock_mhz:g} MHz, {res.us_per_step} us/step, "
          f"{res.build_seconds:.0f} s{'' if res.sim else ' (not simulated)'}"
          f"{f'; reloadable, shape {res.shape}' if res.shape else ''}")
    return 0
