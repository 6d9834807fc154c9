"""Boards by name: the two measured ones (`hw.board.top.BOARDS`) or any amaranth-boards
platform on an iCE40 or ECP5 part with a clock pin and a UART.

`board("ice40_hx8k_b_evn")` derives a `Board` from the platform in
`amaranth_boards.ice40_hx8k_b_evn`: its default clock (the oscillator), the family's
nextpnr cell names, and no PLL (each board wires its PLL input differently; a derived board
runs at its oscillator's clock). A module with several platforms takes `MODULE:CLASS`. A board
the flow cannot use gets one line saying what it lacks.
"""

from __future__ import annotations

import importlib
import inspect

from ..errors import UserError
from .top import BOARDS, Board

FAMILY_CELLS = {  # lut, ff (None: count in yosys), bram, dsp, bitstream, UART FIFO bytes
    "ice40": ("ICESTORM_LC", None, "ICESTORM_RAM", "ICESTORM_DSP", "bin", 257),
    "ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "bit", 1025),
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
    lut, ff, bram, dsp, ext, fifo = FAMILY_CELLS[family]
    label = module if len(found) == 1 else f"{module}-{cls}"
    return Board(label, f"{cls} ({device}-{plat.package})", cls, module, (clk, 0),
                 int(plat.default_clk_frequency), family, ext, lut, ff, bram, dsp, fifo,
                 pll=False, dsp_blocks=family == "ecp5" or device.startswith("iCE40UP"))
