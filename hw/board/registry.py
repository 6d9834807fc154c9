"""Boards by name: one record per board, with everything the flow knows about it.

A `Board` holds its pins and clock (an amaranth-boards platform and its oscillator), its FPGA
family's facts (`Family`: the nextpnr cell names, the bitstream, the UART FIFO, the PLL, the
memories' placement) and, for a board measured here, its calibration (`hw.gen.fit.Device`:
the figures `--parallel auto` sizes the engine with and the roofline is drawn against).

`BOARDS` are the two measured boards. `board(name)` also derives a `Board` from any
amaranth-boards platform on an iCE40 or ECP5 part with a clock pin and a UART: its default
clock (the oscillator), its family's facts, no PLL (each board wires its PLL input
differently; a derived board runs at its oscillator's clock) and no calibration (`device` is
None: `--parallel auto` is refused for it, never sized with another board's figures). A
module with several platforms takes `MODULE:CLASS`. A board the flow cannot use gets one
line saying what it lacks.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UserError
from ..gen.fit import Device
from ..gen.placement import Placement
from . import pll as pll_
from .core import uart_divisor


@dataclass(frozen=True)
class Family:
    """What every board on one FPGA family shares."""

    name: str  # "ice40" or "ecp5"
    lut_cell: str  # nextpnr utilisation entries
    ff_cell: str | None  # None: count flip-flops in the yosys statistics (iCE40 logic cells)
    bram_cell: str
    dsp_cell: str
    bitstream_ext: str
    fifo_depth: int  # bytes buffered from the UART: one block RAM's worth
    pll_params: Callable[..., pll_.PLLConfig]  # the divider search (hw.board.pll)
    pll_component: type  # the PLL primitive's wrapper (hw.board.pll)
    # the memories' placement the family's block RAMs and distributed RAM allow
    placement: Placement = Placement()
    huge_cell: str | None = None  # nextpnr's large single-ported RAM (iCE40 UltraPlus SPRAM)


FAMILIES = {
    "ice40": Family("ice40", "ICESTORM_LC", None, "ICESTORM_RAM", "ICESTORM_DSP", "bin", 257,
                    pll_.ice40_params, pll_.ICE40PLL, huge_cell="ICESTORM_SPRAM"),
    "ecp5": Family("ecp5", "TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "bit", 1025,
                   pll_.ecp5_params, pll_.ECP5PLL,
                   placement=Placement(bank_depth=512, lutram_bits=4096, logic_rom_depth=64,
                                       bank_width=36, bank_deepen=4)),
}


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    module: str  # amaranth_boards.<module>
    platform_name: str  # its platform class
    osc: tuple[str, int]  # the oscillator's resource
    osc_hz: int
    family: str  # a key of FAMILIES
    # the fit's calibration (hw.gen.fit.Device); None: not measured, so --parallel auto and
    # the roofline are refused/left out for this board
    device: Device | None = None
    pll: bool = True  # False: always the oscillator's clock (derived boards)
    dsp_blocks: bool = True  # the part has DSP blocks (iCE40 HX/LP parts have none)

    @property
    def facts(self) -> Family:
        return FAMILIES[self.family]

    # the family's facts, as the build reads them
    lut_cell = property(lambda self: self.facts.lut_cell)
    ff_cell = property(lambda self: self.facts.ff_cell)
    bram_cell = property(lambda self: self.facts.bram_cell)
    dsp_cell = property(lambda self: self.facts.dsp_cell)
    bitstream_ext = property(lambda self: self.facts.bitstream_ext)
    huge_cell = property(lambda self: self.facts.huge_cell)
    fifo_depth = property(lambda self: self.facts.fifo_depth)

    @property
    def placement(self) -> Placement:
        """Where the generator puts the memories for this board."""
        return self.device.placement if self.device is not None else self.facts.placement

    def calibrated(self, what: str = "--parallel auto") -> Device:
        """The board's calibration, or one UserError saying it has none and what to give."""
        if self.device is None:
            measured = ", ".join(n for n, b in BOARDS.items() if b.device is not None)
            raise UserError(f"{what} needs a board's calibration figures and the {self.name} "
                            f"has none (measured: {measured}); give --parallel P and --simd S")
        return self.device

    def platform(self):
        return getattr(importlib.import_module(f"amaranth_boards.{self.module}"),
                       self.platform_name)()

    def pll_config(self, clock_hz: float, *, at_most: bool = False) -> pll_.PLLConfig | None:
        """None when the oscillator itself is the clock."""
        if clock_hz == self.osc_hz:
            return None
        if not self.pll:
            raise ValueError(f"the {self.name} runs at its oscillator's "
                             f"{self.osc_hz / 1e6:g} MHz (no PLL set-up for this board), "
                             f"not {clock_hz / 1e6:g} MHz")
        return self.facts.pll_params(self.osc_hz, clock_hz, at_most=at_most)

    def pll_clock_for(self, limit_hz: float, baud: int) -> float | None:
        """The fastest PLL clock not above `limit_hz` that makes `baud` within 1% (a clock near
        a whole multiple of the baud rate), or None."""
        for k in range(int(limit_hz // baud), 3, -1):
            try:
                cfg = self.pll_config(k * baud)
            except ValueError:
                continue
            if cfg is None or cfg.f_out > limit_hz:
                continue
            try:
                uart_divisor(round(cfg.f_out), baud)
            except ValueError:
                continue
            return cfg.f_out
        return None


# fixed_luts / luts_per_* come from the builds in docs/hardware.md ("Choosing the folding"):
# the iCEBreaker's from bench.fit_calibration (65 designs packed by nextpnr, every cell, shift
# and multiplying lanes, 3 and 7 shift levels, reloadable, codes in SPRAM, every-step heads,
# 10 and 40 outputs; RMS error 56 logic cells, the largest 199)
BOARDS = {
    "icebreaker": Board(
        "icebreaker", "iCEBreaker (iCE40UP5K-SG48)", "icebreaker", "ICEBreakerPlatform",
        ("clk12", 0), 12_000_000, "ice40",
        device=Device("iCE40UP5K", 5280, 30, ((16, 256), (8, 512), (4, 1024), (2, 2048)),
                      36.0, 2712, 31.0, 75.2, dsps=8, luts_per_shift_level=7.2,
                      luts_per_select=8.1, cell_luts=(("rnn", 1523), ("lstm", 3018)),
                      luts_per_product=74.4, luts_per_reload=589.5,
                      luts_per_reload_shift_level=5.6, luts_per_huge_block=95.6,
                      luts_per_output=26.1, luts_per_output_byte=35.7,
                      # a streamed output (hw.gen.serial): the mean of the 9 such designs
                      # of bench.fit_calibration beside the terms above (one per cell and
                      # emit, 10 and 40 outputs): RNNs 203-264 cells, GRUs 402-480, LSTMs
                      # 528-573
                      luts_serial_output=416.8,
                      # GRUs built and routed at 5164 and 5161 logic cells (the demo's float
                      # GRU 32 with its codes in SPRAM; an exponential GRU 32): 98 % (5174);
                      # RNNs at 16-20 lanes needed 5282-5476 where the fit said under 5174,
                      # and an LSTM packed at 4890 found no legal placement: 90 % (4752)
                      fill=0.9, cell_fill=(("gru", 0.98),),
                      # the UltraPlus's four SB_SPRAM256KA (the HX/LP parts have none)
                      placement=Placement(huge_blocks=4))),
    "ulx3s": Board(
        "ulx3s", "ULX3S (ECP5 LFE5U-85F)", "ulx3s", "ULX3S_85F_Platform",
        ("clk25", 0), 25_000_000, "ecp5",
        device=Device("ECP5-85F", 83640, 208,
                      ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)),
                      75.0, 4000, 40.0, 60.0, dsps=156,
                      # the current engine's GRU 752 at 72 x 16 (estimated 200 DP16KD and the
                      # UART's 2; built 197) routed in 27 min; a ternary GRU 768 at 9 x 4
                      # (estimated 206; built 203) and an LSTM 656 at 36 x 16 (203; 199) did
                      # not route in 57 and 34 min (docs/boards.md, Capacity): 97.5 % (202)
                      bram_fill=0.975,
                      placement=FAMILIES["ecp5"].placement)),
}


def family_of(device: str) -> str | None:
    if device.startswith("iCE40"):
        return "ice40"
    if device.startswith("LFE5U"):
        return "ecp5"
    return None


def _platforms(mod) -> dict[str, type]:
    return {n: c for n, c in vars(mod).items()
            if isinstance(c, type) and n.endswith("Platform") and not n.startswith("_")
            and c.__module__ == mod.__name__ and not inspect.isabstract(c)}


def board(name: str) -> Board:
    """The Board called `name`, or UserError naming what is missing."""
    if name in BOARDS:
        return BOARDS[name]
    module, _, cls = name.partition(":")
    if not module.isidentifier():
        raise UserError(f"unknown board {name!r}: not one of {', '.join(sorted(BOARDS))} nor "
                        f"an amaranth_boards module name")
    try:
        mod = importlib.import_module(f"amaranth_boards.{module}")
    except ModuleNotFoundError:
        raise UserError(f"unknown board {name!r}: not one of {', '.join(sorted(BOARDS))} nor a "
                        f"module of amaranth_boards") from None
    found = _platforms(mod)
    if cls:
        if cls not in found:
            raise UserError(f"amaranth_boards.{module} has no platform {cls!r}; it has "
                            f"{', '.join(sorted(found))}")
    elif len(found) == 1:
        (cls,) = found
    else:
        raise UserError(f"amaranth_boards.{module} has {len(found)} platforms; name one as "
                        f"{module}:CLASS ({', '.join(sorted(found))})")
    plat = found[cls]()
    device = plat.device
    family = family_of(device)
    if family is None:
        raise UserError(f"{name} is a {device} board; the YoWASP tools (and this flow) build "
                        f"iCE40 and ECP5 parts only")
    clk = plat.default_clk
    if clk is None or (clk, 0) not in plat.resources:
        raise UserError(f"{name} has no clock pin as its default clock ({clk!r}); a derived "
                        f"board runs from an oscillator pin")
    if ("uart", 0) not in plat.resources:
        raise UserError(f"{name} has no 'uart' resource, which the board top needs for its "
                        f"serial link; add one to the platform (docs/boards.md)")
    label = module if len(found) == 1 else f"{module}-{cls}"
    return Board(label, f"{cls} ({device}-{plat.package})", module, cls, (clk, 0),
                 int(plat.default_clk_frequency), family, pll=False,
                 dsp_blocks=family == "ecp5" or device.startswith("iCE40UP"))
