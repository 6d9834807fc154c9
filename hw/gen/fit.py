"""What a design costs on a device, for `--parallel auto` (hw.gen.topplan.TopPlan.auto
searches the foldings with `estimate` and `fits`), and the device's roofline bound.

A folding's cycles per step are exact (hw.gen.topplan); its block RAMs are counted from the
memories' widths and depths in the device's block RAM shapes, and where the device has large
single-ported RAM (the iCE40UP5K's SPRAM), `place_huge` moves code, lookup and head code
memories there when the block RAM does not hold them, counted in whole blocks of
HUGE_WIDTH x HUGE_DEPTH (hw.gen.placement); its logic is an estimate, a
fixed part per cell plus costs per weight per cycle, per lane, per finalizer select input,
per exponential shifter, per output byte, for reload logic and SPRAM blocks, least-squares
fitted to packed designs (bench.fit_calibration; docs/hardware.md, "Choosing the folding")
and checked by the build, which reports the real figures. The clock is the one the engine
is built to meet on that device. The functions take a TopPlan and read its figures; this
module does not import hw.gen.topplan (which imports it).

The roofline bound of a scheme on a device (Williams, Waterman and Patterson): weights per
cycle limited by memory, all block RAMs (and large RAM blocks) read at full width each cycle
/ code bits, and by
logic, the LUTs left after the fixed part / the LUTs per weight per cycle; the smaller one,
times the clock, is the bound on weight operations per second. A weight per cycle costs
`luts_per_weight` plus its share of a lane's own logic, `luts_per_lane` / S, so the logic
bound is the device's at the design's columns per lane S (every LUT in lanes of S columns,
however many lanes the design chose); the memory bound depends on the scheme's code bits
alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations

from .placement import HUGE_WIDTH, Placement, huge_blocks_of, is_huge_candidate


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
    fixed_luts: int  # the board top, cell stage, finalizers and control (of a GRU)
    luts_per_weight: float  # per weight per cycle (P x S) of shift-and-add lanes
    luts_per_lane: float  # per lane: accumulators, latches, walk selects
    dsps: int  # multiplier blocks; yosys maps every multiplier to one (DSP inference on)
    # exponential codes (a shift by the code's level per term): per shifter times the code's
    # shift levels K, on top of luts_per_weight (the ECP5's: 51-60 a shifter at K = 7 from
    # three iCEBreaker pairs of builds, assumed alike)
    luts_per_shift_level: float = 8.0
    # per lane and distinct row shift beyond one in each half of a row (the finalizer's
    # select of the aligned sum: `extra_shifts`)
    luts_per_select: float = 0.0
    # the fixed part of the other cells, where measured: ((cell, LUTs), ...); a cell not
    # named has fixed_luts
    cell_luts: tuple[tuple[str, int], ...] = ()
    # per weight per cycle of a multiplying engine (intN: wider terms and trees; the products
    # in DSP blocks); None: luts_per_weight
    luts_per_product: float | None = None
    luts_per_reload: float = 0.0  # a reloadable design's load port and memory write paths
    # a reloadable exponential engine: per shifter and shift level (its levels are written)
    luts_per_reload_shift_level: float = 0.0
    luts_per_huge_block: float = 0.0  # per large RAM block used: its address and read muxes
    luts_per_output: float = 0.0  # per output of a head that emits every step (argmax tree)
    luts_per_output_byte: float = 0.0  # per byte of the output beat (`output_bytes`)
    # a streamed output (hw.gen.serial) instead of those two: its readout, argmax and the
    # frame encoder's one element
    luts_serial_output: float = 0.0
    fill: float = 0.85  # the share of the LUTs a design may use and still route
    cell_fill: tuple[tuple[str, float], ...] = ()  # that share for a cell, where it differs
    # the share of the block RAMs (the board top's included) a design may use and still
    # route in a build's time
    bram_fill: float = 1.0
    # code banks and distributed RAM (ECP5), large single-ported RAM blocks (iCE40UP5K)
    placement: Placement = Placement()

    def lut_room(self, cell: str) -> int:
        """The LUTs a design of `cell` may use (its share of the device's)."""
        return int(dict(self.cell_fill).get(cell, self.fill) * self.luts)

    def fixed_for(self, cell: str) -> int:
        return dict(self.cell_luts).get(cell, self.fixed_luts)

    @property
    def product_luts(self) -> float:
        return self.luts_per_weight if self.luts_per_product is None else self.luts_per_product

    @property
    def bram_bits_per_cycle(self) -> int:
        """Bits all memory blocks give a cycle: the block RAMs at their widest, and the large
        RAM blocks (each a word of HUGE_WIDTH bits a cycle)."""
        return (self.brams * max(w for w, _ in self.bram_shapes)
                + self.placement.huge_blocks * HUGE_WIDTH)

    @property
    def brams_for_design(self) -> int:
        """Block RAMs a design may use: its share of them (`bram_fill`), less the two the
        board top's UART FIFOs take."""
        return int(self.bram_fill * self.brams) - 2


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
    huge_blocks: int = 0  # large single-ported RAM blocks (Placement.huge)
    cell: str = ""  # the model's cell (its share of the LUTs: Device.lut_room)

    @property
    def weights_per_cycle(self) -> int:
        return self.parallel * self.simd + (self.head[0] * self.head[1] if self.head else 0)


# distributed RAM (ECP5): the GRU 752's h memories (16 x 940 bits, read by the engine and
# by the cell, so yosys keeps two copies) took 2312 LUTs as RAM: about 6.5 bits a LUT
LUTRAM_BITS_PER_LUT = 6


def output_bytes(tp) -> int:
    """Bytes of the output beat as the link sends it (each output sign-extended to whole
    bytes): the core's output register and the frame encoder's copy both hold them."""
    return tp.out_count * -(-tp.out_bits // 8)


def extra_shifts(tp) -> int:
    """The distinct row shifts of the layers' engine beyond one in each half of a row: the
    inputs of each finalizer's select beyond a wire (a trained model's rows share a level a
    matrix, a few shifts; random ones, many)."""
    return len(tp.lanes.ua_values) + len(tp.lanes.ub_values) - 2


def estimate(tp, device: Device, *, reloadable: bool = False) -> Fit:
    """The cost of the design `tp` (a hw.gen.topplan.TopPlan) on `device`; `reloadable`: as
    the reloadable design of this folding (a design with memories in SPRAM, or made in a
    shape, is counted so in any case)."""
    P, S = tp.parallel, tp.simd
    per_weight = device.product_luts if tp.lanes.multiply else device.luts_per_weight
    shifters, K = tp.resources["shifters"], tp.lanes.K
    luts = (device.fixed_for(tp.model.cell) + per_weight * P * S + device.luts_per_lane * P
            + device.luts_per_shift_level * shifters * K
            + device.luts_per_select * P * extra_shifts(tp))
    hd = tp.head_lanes
    if hd is not None:  # its products in DSP blocks; its trees and lanes as multiplying lanes'
        luts += device.product_luts * hd.lanes * hd.simd + device.luts_per_lane * hd.lanes
    if reloadable or tp.shape is not None or tp.huge_memories:
        luts += device.luts_per_reload + device.luts_per_reload_shift_level * shifters * K
    if tp.serial:
        luts += device.luts_serial_output
    else:
        if tp.emit == "every":
            luts += device.luts_per_output * tp.out_count
        luts += device.luts_per_output_byte * output_bytes(tp)
    brams, huge, memory = _memories(tp, device)
    luts += memory + device.luts_per_huge_block * huge
    luts = round(luts)
    res = tp.resources
    return Fit(P, S, tp.cycles_per_step, luts, brams,
               device.clock_mhz * 1e6 / tp.cycles_per_step,
               res["multipliers"] + res["elementwise_multipliers"], tp.order,
               None if hd is None else (hd.lanes, hd.simd), huge, tp.model.cell)


def _memories(tp, device: Device) -> tuple[int, int, float]:
    """The design's memories on `device`: (block RAMs, large RAM blocks, LUTs of those in
    logic)."""
    brams = huge = 0
    luts = 0.0
    for name, w, d in tp.memories():
        style = tp.memory_style(name, w, d)
        if style == "block":
            brams += block_rams(name, w, d, device)
        elif style == "huge":
            huge += huge_blocks_of(w, d)
        elif tp.logic_bank(name, d):
            # a short last code bank in logic (Placement.logic_rom_depth): at most a LUT4 per
            # bit per 16 words (constant bits, such as a head's unused lanes, cost none)
            luts += w * math.ceil(d / 16)
        else:
            luts += w * d / LUTRAM_BITS_PER_LUT  # the copies are in the calibration
    return brams, huge, luts


def memory_luts(tp, device: Device) -> float:
    """LUTs of the design's memories that are built in logic (counted from their bits)."""
    return _memories(tp, device)[2]


def block_rams(name: str, width: int, depth: int, device: Device) -> int:
    """Block RAMs of the memory `name` in block RAM: an h memory has two read ports (the
    engine's and the cell's), so yosys keeps two copies."""
    return (2 if re.fullmatch(r"h\d+(_\d+)?", name) else 1) * bram_blocks(width, depth, device)


def fits(f: Fit, device: Device) -> bool:
    """Within the LUT share, the block RAMs (less the UART's FIFOs), the large RAM blocks and
    the DSP blocks: the build infers DSPs by default, and a design with more multipliers than
    blocks does not place (an int8 LSTM 16 at 16 weights a cycle needed 19 of the
    iCEBreaker's 8)."""
    return not over(f, device)


def over(f: Fit, device: Device) -> list[str]:
    """What of the device the folding needs more of than `fits` allows, in words (estimated):
    the reason a design does not fit."""
    out = []
    for need, room, what in ((f.brams, device.brams_for_design, "block RAMs"),
                             (f.huge_blocks, device.placement.huge_blocks, "SPRAM blocks"),
                             (f.luts, device.lut_room(f.cell), "LUTs"),
                             (f.dsps, device.dsps, "DSP blocks")):
        if need > room:
            out.append(f"{need} {what} of {room}")
    return out


def place_huge(tp, device: Device) -> Placement:
    """The placement of the design `tp` (a hw.gen.topplan.TopPlan) on `device` with the
    memories that go to its large single-ported RAM: none while the block RAM holds
    everything; else the fewest blocks of it (then the fewest memories) that leave the rest
    in the block RAM, among the code, lookup and head code memories in block RAM. When no
    choice makes the block RAM suffice, the one that needs the fewest block RAMs (`fits` then
    says no). A placement that already names its memories is kept (the manifest's)."""
    pl = tp.placement
    if not pl.huge_blocks or pl.huge or tp.storage != "memory":
        return pl
    mems = [(n, w, d) for n, w, d in tp.memories() if tp.memory_style(n, w, d) == "block"]
    used = sum(block_rams(n, w, d, device) for n, w, d in mems)
    room = device.brams_for_design
    if used <= room:
        return pl
    cands = [(n, huge_blocks_of(w, d), block_rams(n, w, d, device)) for n, w, d in mems
             if is_huge_candidate(n)]
    best = None
    for k in range(1, len(cands) + 1):
        for pick in combinations(cands, k):
            blocks = sum(c[1] for c in pick)
            if blocks > pl.huge_blocks:
                continue
            left = used - sum(c[2] for c in pick)
            key = (left > room, left if left > room else 0, blocks, k)
            if best is None or key < best[0]:
                best = (key, pick)
    return pl if best is None else pl.with_huge(sorted(c[0] for c in best[1]))


def roofline(tp, device: Device, clock_mhz: float) -> dict:
    """Weights per cycle and weight operations per second reached by the design `tp`,
    against the device's bound for its scheme (memory) and its S columns a lane (logic), at
    `clock_mhz`."""
    cb = tp.lanes.code_bits
    mem = device.bram_bits_per_cycle / cb
    per_weight = device.product_luts if tp.lanes.multiply else device.luts_per_weight
    logic = ((device.luts - device.fixed_for(tp.model.cell))
             / (per_weight + device.luts_per_lane / tp.simd))
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
