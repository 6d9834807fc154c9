"""PLLs that raise the board clock: iCE40 SB_PLL40_PAD and ECP5 EHXPLLL.

`ice40_params` and `ecp5_params` search the divider settings in pure Python with the data-sheet
limits that icepll and ecppll (Project IceStorm / Trellis) use, and return the exact frequency
reached; the board top clocks everything from it and the UART divisor is computed from it.
The board top defines the `sync` domain and hands it to the PLL, which drives its clock and
holds it in reset until the PLL reports lock.
"""

import math
from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Const, Instance, Module
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import Out


@dataclass(frozen=True)
class PLLConfig:
    f_in: float
    f_out: float  # what the dividers give, Hz
    params: dict  # divider parameters for the primitive


def ice40_params(f_in: float, f_req: float, *, at_most: bool = False) -> PLLConfig:
    """SB_PLL40 in SIMPLE feedback: f_out = f_in * (DIVF+1) / ((DIVR+1) * 2**DIVQ), the closest
    to f_req (with `at_most`, the closest not above it)."""
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / 2**divq
                if not 16e6 <= f_out <= 275e6 or (at_most and f_out > f_req):
                    continue
                key = abs(f_out - f_req)
                if best is None or key < best[0]:
                    best = (key, f_out, divr, divf, divq, f_pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting reaches {f_req / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz (the PLL gives 16 to 275 MHz)")
    _, f_out, divr, divf, divq, f_pfd = best
    filter_range = next(i + 1 for i, lim in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12))
                        if f_pfd < lim)
    return PLLConfig(f_in, f_out, {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                   "FILTER_RANGE": filter_range})


def ecp5_params(f_in: float, f_req: float, *, at_most: bool = False) -> PLLConfig:
    """EHXPLLL with CLKOP feedback: f_out = f_in * CLKFB_DIV / CLKI_DIV, VCO = f_out * CLKOP_DIV
    (the closest to f_req; with `at_most`, the closest not above it)."""
    best = None
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb in range(1, 81):
            f_out = f_pfd * clkfb
            if at_most and f_out > f_req:
                break
            # CLKOP_DIV puts the VCO in 400..800 MHz; take the one nearest 600 MHz
            ops = range(max(1, math.ceil(400e6 / f_out)), min(128, int(800e6 / f_out)) + 1)
            if not ops:
                continue
            clkop = min(ops, key=lambda d: abs(f_out * d - 600e6))
            key = (abs(f_out - f_req), abs(f_out * clkop - 600e6))
            if best is None or key < best[0]:
                best = (key, f_out, clki, clkfb, clkop)
    if best is None or not 10e6 <= best[1] <= 400e6:
        raise ValueError(f"no ECP5 PLL setting reaches {f_req / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz")
    _, f_out, clki, clkfb, clkop = best
    return PLLConfig(f_in, f_out, {"CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop,
                                   "CLKOP_CPHASE": (clkop - 1) // 2})


class _PLL(wiring.Component):
    """Drives ClockDomain `domain` (`sync`, defined by the caller) from a PLL primitive fed by
    the board's clock pin `pin_resource`, and holds the domain in reset until it locks.
    A family's subclass says how its primitive is instantiated (`primitive`)."""

    locked: Out(1)

    def __init__(self, config: PLLConfig, pin_resource: tuple[str, int], domain: ClockDomain):
        self.config, self.pin_resource, self.domain = config, pin_resource, domain
        super().__init__()

    def primitive(self, m: Module, platform) -> Instance:
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        m.submodules.pll = self.primitive(m, platform)
        m.submodules.reset = ResetSynchronizer(~self.locked, domain=self.domain.name)
        platform.add_clock_constraint(self.domain.clk, self.config.f_out)
        return m


class ICE40PLL(_PLL):
    """SB_PLL40_PAD: it takes the clock pad itself, so nothing else may use the raw
    oscillator."""

    def primitive(self, m, platform):
        pin = platform.request(*self.pin_resource, dir="-")
        c = self.config.params
        return Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE", p_DIVR=c["DIVR"], p_DIVF=c["DIVF"], p_DIVQ=c["DIVQ"],
            p_FILTER_RANGE=c["FILTER_RANGE"],
            i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
            o_PLLOUTGLOBAL=ClockSignal(self.domain.name), o_LOCK=self.locked)


class ECP5PLL(_PLL):
    """EHXPLLL fed by the board's clock input through an input buffer."""

    def primitive(self, m, platform):
        m.submodules.clk_pin = pin = io.Buffer("i", platform.request(*self.pin_resource,
                                                                     dir="-"))
        c = self.config.params
        cd = self.domain
        return Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{self.config.f_in / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{self.config.f_out / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKI_DIV=c["CLKI_DIV"], p_CLKOP_DIV=c["CLKOP_DIV"],
            p_CLKOP_CPHASE=c["CLKOP_CPHASE"], p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=c["CLKFB_DIV"],
            i_RST=Const(0), i_STDBY=Const(0), i_CLKI=pin.i, i_CLKFB=ClockSignal(cd.name),
            i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1),
            i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1), i_PLLWAKESYNC=Const(0),
            i_ENCLKOP=Const(0),
            o_CLKOP=ClockSignal(cd.name), o_LOCK=self.locked)
