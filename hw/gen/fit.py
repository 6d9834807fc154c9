"""What a design costs on a device, for `--parallel auto` (hw.gen.topplan.TopPlan.auto
searches the foldings with `estimate` and `fits`), and the device's roofline bound.

A folding's cycles per step are exact (hw.gen.topplan); its block RAMs are counted from the
memories' widths and depths in the device's block RAM shapes; its logic is an estimate, a
fixed part plus a cost per weight per cycle and per lane, measured on the boards
(docs/hardware.md, "Choosing the folding") and checked by the build, which reports the real
figures. The clock is the one the engine is built to meet on that device. The functions take
a TopPlan and read its figures; this module does not import hw.gen.topplan (which imports it).

The roofline bound of a scheme on a device (Williams, Waterman and Patterson): weights per
cycle limited by memory, all block RAMs read at full width each cycle / code bits, and by
logic, the LUTs left after the fixed part / the LUTs per weight per cycle; the smaller one,
times the clock, is the bound on weight operations per second. A weight per cycle costs
`luts_per_weight` plus its share of a lane's own logic, `luts_per_lane` / S, so the logic
bound is the device's at the design's columns per lane S (every LUT in lanes of S columns,
however many lanes the design chose); the memory bound depends on the scheme's code bits
alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .placement import Placement


@dataclass(frozen=True)
class Device:
    """A device's calibration: what the fit sizes an engine with. Each measured board's
    figures are in its record in hw.board.registry (docs/hardware.md, "Choosing the
    folding", has the builds they come from)."""

    name: str
    luts: int
    brams: int
    bram_shapes: tuple[tuple[int, int], ...]  # (width, depth) modes of one block RAM
    clock_mhz: float  # the clock the pipelined engine is expected to meet
    fixed_luts: int  # the board top, cell stage, finalizers and control
    luts_per_weight: float  # per weight per cycle (P x S): terms and adder trees
    luts_per_lane: float  # per lane: accumulators, latches, walk selects
    dsps: int  # multiplier blocks; yosys maps every multiplier to one (DSP inference on)
    # per shifter (exponential codes: a shift by the code's level per term), on top of
    # luts_per_weight: 51-60 from three iCEBreaker pairs of exponential and ternary builds at
    # the same folding (docs/explore.md); the ECP5's LUT4s are assumed alike (not measured)
    luts_per_shifter: float = 55.0
    fill: float = 0.85  # the share of the LUTs a design may use and still route
    placement: Placement = Placement()  # code banks and distributed RAM (ECP5)

    @property
    def bram_bits_per_cycle(self) -> int:
        return self.brams * max(w for w, _ in self.bram_shapes)


def bram_blocks(width: int, depth: int, device: Device) -> int:
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in device.bram_shapes)


@dataclass(frozen=True)
class Fit:
    parallel: int
    simd: int
    cycles_per_step: int
    luts: int  # estimated
    brams: int
    steps_per_s: float  # at the device's clock
    dsps: int = 0  # multipliers: the weight products (int schemes) and the cell's own
    order: str = "rows"  # the engine's walk (hw.gen.lanes.LanePlan.order)
    head: tuple[int, int] | None = None  # the head's own engine (lanes, columns): mixed models

    @property
    def weights_per_cycle(self) -> int:
        return self.parallel * self.simd + (self.head[0] * self.head[1] if self.head else 0)


# distributed RAM (ECP5): the GRU 752's h memories (16 x 940 bits, read by the engine and
# by the cell, so yosys keeps two copies) took 2312 LUTs as RAM: about 6.5 bits a LUT
LUTRAM_BITS_PER_LUT = 6


def estimate(tp, device: Device) -> Fit:
    """The cost of the design `tp` (a hw.gen.topplan.TopPlan) on `device`."""
    P, S = tp.parallel, tp.simd
    luts = (device.fixed_luts + device.luts_per_weight * P * S + device.luts_per_lane * P
            + device.luts_per_shifter * tp.resources["shifters"])
    hd = tp.head_lanes
    if hd is not None:  # its products in DSP blocks; its trees and lanes as the layers'
        luts += device.luts_per_weight * hd.lanes * hd.simd + device.luts_per_lane * hd.lanes
    brams = 0
    for name, w, d in tp.memories():
        if tp.memory_style(name, w, d) == "block":
            # an h memory has two read ports (the engine's and the cell's): two copies
            brams += (2 if name.startswith("h") else 1) * bram_blocks(w, d, device)
        elif tp.logic_bank(name, d):
            # a short last code bank in logic (Placement.logic_rom_depth): at most a LUT4 per
            # bit per 16 words (constant bits, such as a head's unused lanes, cost none)
            luts += w * math.ceil(d / 16)
        else:
            luts += w * d / LUTRAM_BITS_PER_LUT  # the copies are in the calibration
    luts = round(luts)
    res = tp.resources
    return Fit(P, S, tp.cycles_per_step, luts, brams,
               device.clock_mhz * 1e6 / tp.cycles_per_step,
               res["multipliers"] + res["elementwise_multipliers"], tp.order,
               None if hd is None else (hd.lanes, hd.simd))


def fits(f: Fit, device: Device) -> bool:
    """Within the LUT share, the block RAMs (less the UART's FIFOs) and the DSP blocks: the
    build infers DSPs by default, and a design with more multipliers than blocks does not
    place (an int8 LSTM 16 at 16 weights a cycle needed 19 of the iCEBreaker's 8)."""
    return not over(f, device)


def over(f: Fit, device: Device) -> list[str]:
    """What of the device the folding needs more of than `fits` allows, in words (estimated):
    the reason a design does not fit."""
    out = []
    for need, room, what in ((f.brams, device.brams - 2, "block RAMs"),
                             (f.luts, int(device.fill * device.luts), "LUTs"),
                             (f.dsps, device.dsps, "DSP blocks")):
        if need > room:
            out.append(f"{need} {what} of {room}")
    return out


def roofline(tp, device: Device, clock_mhz: float) -> dict:
    """Weights per cycle and weight operations per second reached by the design `tp`,
    against the device's bound for its scheme (memory) and its S columns a lane (logic), at
    `clock_mhz`."""
    cb = tp.lanes.code_bits
    mem = device.bram_bits_per_cycle / cb
    logic = (device.luts - device.fixed_luts) / (device.luts_per_weight
                                                 + device.luts_per_lane / tp.simd)
    bound = min(mem, logic)
    reached = tp.weights_per_step / tp.cycles_per_step
    return {
        "weights_per_cycle": round(reached, 2),
        "weight_ops_per_s": round(reached * clock_mhz * 1e6),
        "bound_weights_per_cycle_memory": round(mem, 1),
        "bound_weights_per_cycle_logic": round(logic, 1),
        "bound_weight_ops_per_s": round(bound * clock_mhz * 1e6),
        "fraction_of_bound": round(reached / bound, 4),
    }
