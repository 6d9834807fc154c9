"""`TopPlan`: the one object a design of the wide-lane engine is decided in, as plain Python.

Like amaranth's `lib.crc.Parameters`: `TopPlan.of(model, parallel=P, simd=S, ...)` takes a
folding, `TopPlan.auto(model, device)` searches the one with the most steps per second that
fits a board (`--parallel auto`), `.manifest()` describes the design and `.create()`
elaborates it (the `ModelTop` built from this very object). Everything is decided here: the
folding (lanes P, columns per lane S) and walk order, the engine's lane plan and timing, the
cell's timing, the output beat's layout, the published cycle counts, the resources and the
memories with their placement. The circuit, the manifest, the fit and the benches read it;
none of them decides again. `plan_for` picks the plan class for a `parallel` (an integer, or
"unrolled": hw.gen.unrolled_top.UnrolledPlan, the same surface).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import data

from ..cell import UNIT_ROWS, CellParams
from ..modelfile import Model
from ..reference import default_emit
from .cell import cell_timing
from .engine import EngineTiming
from .fit import Device, estimate, fits, roofline
from .lanes import ORDERS, LanePlan, RowHalves, make_lane_plan, row_halves
from .manifest import Manifest, manifest
from .payload import input_layout, output_layout, output_shape
from .placement import STORAGES, Placement
from .plan import (
    ACTIVATIONS,
    ELEMENTWISE,
    Pass,
    make_passes,
    pass_sources,
    uses_multipliers,
)
from .timeline import Timeline, solve
from .top import ModelTop
from .unrolled_top import UNROLLED, UnrolledPlan

AUTO = "auto"  # order: the faster walk (TopPlan.of) or the search's (TopPlan.auto)


def _check_model(model) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"model must be a hw.modelfile.Model, not {type(model).__name__}")


def check_folding(model: Model, parallel, simd, storage, placement=None,
                  order: str = "rows") -> None:
    """One ValueError naming the first bad choice (`order` may be AUTO)."""
    _check_model(model)
    if not (isinstance(parallel, int) and not isinstance(parallel, bool) and parallel >= 1):
        raise ValueError(f"parallel must be a positive integer or 'unrolled', not {parallel!r}")
    G = len(UNIT_ROWS[model.cell])
    if parallel % G:
        raise ValueError(f"parallel (lanes) must be a multiple of the {G} gate rows of a "
                         f"{model.cell} unit, not {parallel}")
    if not isinstance(simd, int) or isinstance(simd, bool) or simd < 1 or simd & (simd - 1):
        raise ValueError(f"simd must be a power of two, not {simd!r}")
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, not {storage!r}")
    if order not in ORDERS + (AUTO,):
        raise ValueError(f"order must be one of {', '.join(ORDERS + (AUTO,))}, not {order!r}")
    if placement is not None:
        placement.check()


@dataclass(frozen=True)
class TopPlan:
    """A design of the wide-lane engine (`ModelTop`), decided: build one with `of` or `auto`.

    Per step the engine runs `passes` (each layer's, then the head's) in the order and with
    the lane plan `lanes` gives; `timeline` says when each of them issues and writes."""

    model: Model
    storage: str
    placement: Placement
    emit: str
    passes: tuple[Pass, ...]
    lanes: LanePlan
    timing: EngineTiming
    cell: CellParams
    cell_latency: int
    h_stage: int | None  # cell stages from its inputs to where it reads h (None: unused)
    c_stage: int | None
    out_count: int
    out_bits: int
    argmax_cycles: int
    timeline: Timeline
    image: bool = True  # the code words are in `lanes` (False: a search's figures only)

    @classmethod
    def of(cls, model: Model, *, parallel: int, simd: int = 1, storage: str = "memory",
           passes: list[Pass] | None = None, image: bool = True,
           halves: RowHalves | None = None, placement: Placement | None = None,
           order: str = "rows") -> TopPlan:
        """The design with P = `parallel` lanes and S = `simd` columns a lane. `passes`:
        make_passes(model), when the caller has them; `image=False`: no code words
        (hw.gen.lanes.make_lane_plan), for a search that only reads figures. `order`: the
        engine's walk (hw.gen.lanes.LanePlan.order), or AUTO for the one with fewer cycles
        per step (then the lower latency; "rows" on a tie: it keeps no per-group sums)."""
        placement = Placement() if placement is None else placement
        check_folding(model, parallel, simd, storage, placement, order)
        passes = make_passes(model) if passes is None else passes
        if order == AUTO:
            def key(o):
                tp = cls.of(model, parallel=parallel, simd=simd, storage=storage,
                            passes=passes, image=False, halves=halves, placement=placement,
                            order=o)
                return tp.cycles_per_step, tp.latency
            order = min(ORDERS, key=key)
        emit = default_emit(model)
        G = len(UNIT_ROWS[model.cell])
        # lanes beyond the tallest pass (in whole units) would never hold a row, columns
        # beyond the widest half never hold a weight
        lanes = min(parallel, -(-max(len(p.rows) for p in passes) // G) * G)
        widest = max(max(p.split, p.cols - p.split) for p in passes)
        S = min(simd, 1 << (widest - 1).bit_length())
        plan = make_lane_plan(passes, lanes=lanes, simd=S, finalizers=G,
                              multiply=uses_multipliers(model), image=image, halves=halves,
                              bank_depth=placement.bank_depth, order=order)
        cell = CellParams.of(model)
        latency, h_stage, c_stage = cell_timing(cell)
        n, width = output_shape(model, emit)
        # the argmax: a registered comparator tree when every step emits, a scan of one
        # comparison a cycle (fewer registers) when only a sequence's last step does
        cycles = {"hidden": 0, "last": n + 1, "every": (n - 1).bit_length()}[emit]
        timing = EngineTiming.of(plan)
        L = model.num_layers
        timeline = solve(plan, pass_sources(L, model.head is not None),
                         result_delay=timing.result_delay, cell_latency=latency,
                         hidden=model.hidden_size, layers=L, emit=emit, argmax_cycles=cycles,
                         head_units=-(-n // G) if model.head is not None else 0)
        return cls(model, storage, placement, emit, tuple(passes), plan, timing,
                   cell, latency, h_stage, c_stage, n, width, cycles, timeline, image)

    @classmethod
    def auto(cls, model: Model, device: Device, *, storage: str = "memory",
             order: str = AUTO, placement: Placement | None = None,
             image: bool = True) -> TopPlan:
        """The fitting folding and walk order with the most steps per second on `device`
        (a hw.gen.fit.Device; then the fewest LUTs): every P (whole units' rows, about 3 %
        apart past 64 units) and S (a power of two), each walk, counted by hw.gen.fit's
        `estimate`, at the device's placement. `order`: AUTO (the search's), or the walk the
        design uses with the folding found. `placement`: the design's (default the
        device's). ValueError when nothing fits."""
        _check_model(model)
        G = len(UNIT_ROWS[model.cell])
        passes = make_passes(model)
        halves = row_halves(passes, uses_multipliers(model))
        rows = max(len(p.rows) for p in passes)
        widest = max(max(p.split, p.cols - p.split) for p in passes)
        best = None
        for k in _steps(-(-rows // G)):
            S = 1
            while S <= 1 << (widest - 1).bit_length():
                for o in ORDERS:
                    tp = cls.of(model, parallel=k * G, simd=S, storage=storage,
                                passes=passes, image=False, halves=halves,
                                placement=device.placement, order=o)
                    fo = estimate(tp, device)
                    if fits(fo, device) and (best is None or (fo.steps_per_s, -fo.luts)
                                             > (best.steps_per_s, -best.luts)):
                        best = fo
                    if o == "rows":
                        f = fo
                        if tp.cycles_per_step <= 1.02 * tp.bound_cycles:
                            break  # within 2 % of the bound: the columns walk cannot gain
                if f.luts > device.fill * device.luts:
                    break  # more columns only cost more logic (the estimate grows with S)
                S *= 2
        if best is None:
            raise ValueError(f"no folding of this {model.cell} {model.hidden_size} fits the "
                             f"{device.name}: even one unit's rows a cycle need more block "
                             f"RAM, logic or DSP blocks than it has")
        return cls.of(model, parallel=best.parallel, simd=best.simd, storage=storage,
                      passes=passes, image=image,
                      placement=device.placement if placement is None else placement,
                      order=best.order if order == AUTO else order)

    def create(self) -> ModelTop:
        """The circuit of this plan (the plan itself, not a copy, is what it reads)."""
        if not self.image:
            raise ValueError("this plan was made without its code words (image=False): a "
                             "search's figures, not a design to build")
        return ModelTop(self)

    def manifest(self, device: Device | None = None) -> Manifest:
        """manifest.json's content; `device`: the board the roofline figures refer to."""
        return manifest(self, device)

    def engine_fields(self, device: Device | None) -> dict:
        """The manifest's fields only this engine has (hw.gen.manifest.manifest)."""
        out = {"placement": self.placement.as_dict(), "order": self.order,
               "weights_per_step": self.weights_per_step,
               "sequence_cycles_8": self.sequence_cycles(8),
               "bound_cycles": self.bound_cycles}
        if device is not None:
            out["board_device"] = device.name
            out["roofline"] = roofline(self, device, device.clock_mhz)
        return out

    @property
    def in_layout(self) -> data.StructLayout:
        return input_layout(self.model)

    @property
    def out_layout(self) -> data.StructLayout:
        return output_layout(self.model, self.emit)

    @property
    def parallel(self) -> int:
        return self.lanes.lanes

    @property
    def simd(self) -> int:
        return self.lanes.simd

    @property
    def unit_rows(self) -> int:
        return len(UNIT_ROWS[self.model.cell])

    @property
    def order(self) -> str:
        return self.lanes.order

    @property
    def holds(self) -> tuple[tuple[int, ...], ...]:
        return self.timeline.holds

    @property
    def cycles_per_step(self) -> int:
        """Cycles between accepting consecutive beats (input always valid, output ready):
        with emit "last", a step's passes run back to back and the next beat is taken while
        the last ones drain; with an output each step, after its output beat is loaded."""
        return self.timeline.cycles_per_step

    @property
    def latency(self) -> int:
        """Cycles from accepting a beat to its output beat being valid (emit "last": the
        sequence's last beat)."""
        return self.timeline.latency

    def sequence_cycles(self, steps: int) -> int:
        """Cycles a sequence of `steps` beats takes when sequences come back to back (emit
        "last": from accepting its first beat to accepting the next sequence's first)."""
        return (steps - 1) * self.cycles_per_step + self.latency

    @property
    def bound_cycles(self) -> int:
        """The engine's own bound per step: the issue cycles of the passes every step runs
        (the layers, and the head when every step emits), each groups x chunks =
        ceil(rows / P) x (ceil(cols_a / S) + ceil(cols_b / S)): each matrix's columns in
        whole chunks of S, no wait for a hold or the walk."""
        lays, L = self.lanes.layouts, self.model.num_layers
        passes = list(range(L)) + ([L] if self.emit == "every" else [])
        return sum(lays[k].groups * lays[k].chunks for k in passes)

    @property
    def weights_per_step(self) -> int:
        """Weight codes (padding excluded) one step reads: the layers, and the head when
        every step emits."""
        L = self.model.num_layers
        passes = list(range(L)) + ([L] if self.emit == "every" else [])
        return sum(len(self.passes[k].rows) * self.passes[k].cols for k in passes)

    def ram_style(self, width: int, depth: int, rom: bool = False) -> str:
        """The yosys `ram_style` of a memory: flip-flops for storage "registers"; for one of
        at most `placement.lutram_bits` bits distributed RAM, or logic for a ROM (yosys maps
        no ROM to the ECP5's distributed RAM, and a small ROM is a few LUTs); else block
        RAM."""
        if self.storage == "registers":
            return "logic"
        if width * depth <= self.placement.lutram_bits:
            return "logic" if rom else "distributed"
        return "block"

    def logic_bank(self, name: str, depth: int) -> bool:
        """The memory `name` of memories() is a code bank after the first of at most
        `placement.logic_rom_depth` words, built in logic (Placement)."""
        return (self.storage == "memory" and name.startswith("codes") and name[5:].isdigit()
                and name != "codes0" and depth <= self.placement.logic_rom_depth)

    def memory_style(self, name: str, width: int, depth: int) -> str:
        """ram_style of the memory `name` of memories(): logic for a logic_bank(); else
        ram_style() (the code banks and the row info are ROMs)."""
        if self.logic_bank(name, depth):
            return "logic"
        return self.ram_style(width, depth, rom=name.startswith(("codes", "rowinfo")))

    @property
    def merged_h(self) -> bool:
        """Each layer's h is one memory of S-element words (written an element at a time,
        through a write enable per element) instead of S memories of one element: when those
        would each take a block RAM, which holds far more than a few elements (the iCE40:
        S = 8 memories of 4 words took 16 of its 30 block RAMs, one per read port)."""
        f, H, S = self.model.formats, self.model.hidden_size, self.simd
        return S > 1 and self.ram_style(f["state"].bits, 2 * -(-H // S)) == "block"

    def memories(self) -> list[tuple[str, int, int]]:
        """(name, width, depth) of every memory: the engine's and the state's."""
        f, H, S = self.model.formats, self.model.hidden_size, self.simd
        words = 2 * -(-H // S)
        *banks, info = self.lanes.memories()
        out = ([("codes",) + banks[0]] if len(banks) == 1 else
               [(f"codes{b}",) + wd for b, wd in enumerate(banks)])
        out.append(("rowinfo",) + info)
        pl = self.lanes
        if pl.order == "columns":
            out.append(("sums", pl.lanes * pl.acc_bits, max(2, pl.max_groups)))
            if pl.has_first_halves:
                out.append(("firsts", pl.lanes * pl.acc_bits, max(2, pl.max_groups)))
        for li in range(self.model.num_layers):
            out += ([(f"h{li}", S * f["state"].bits, words)] if self.merged_h else
                    [(f"h{li}_{s}", f["state"].bits, words) for s in range(S)])
            if self.model.cell == "lstm":
                out.append((f"c{li}", f["cell"].bits, H))
        return out

    @property
    def resources(self) -> dict:
        pl, f, m = self.lanes, self.model.formats, self.model
        return {
            "lanes": pl.lanes,
            "simd": pl.simd,
            "weights_per_cycle": pl.lanes * pl.simd,
            "adders": pl.lanes * pl.simd,
            "shifters": pl.lanes * pl.simd if (pl.K > 1 and not pl.multiply) else 0,
            "multipliers": pl.lanes * pl.simd if pl.multiply else 0,
            "finalizers": pl.finalizers,
            "memory_bits": pl.memory_bits,
            "code_bits": pl.code_bits,
            "code_word_bits": pl.code_word_bits,
            "elementwise_multipliers": ELEMENTWISE[m.cell],
            "activation_units": ACTIVATIONS[m.cell],
            "cell_units": 1,
            "cell_latency": self.cell_latency,
            "storage": self.storage,
            "code_banks": pl.code_banks,
            "state_bits": m.num_layers * m.hidden_size * (
                f["state"].bits + (f["cell"].bits if m.cell == "lstm" else 0)),
        }


def plan_for(model: Model, *, parallel, simd: int = 1, cell_units: int | None = None,
             storage: str | None = None, placement: Placement | None = None,
             order: str = "rows", device: Device | None = None) -> TopPlan | UnrolledPlan:
    """The plan of a design with a given `parallel`: an integer P (TopPlan.of), AUTO
    (TopPlan.auto on `device`; `simd` is the search's) or "unrolled"
    (hw.gen.unrolled_top.UnrolledPlan.of, the one that takes `cell_units`). `storage`:
    default each plan's own ("memory", or the unrolled engine's "registers")."""
    if parallel == UNROLLED:
        return UnrolledPlan.of(model, cell_units=cell_units, simd=simd,
                               **({} if storage is None else {"storage": storage}))
    storage = "memory" if storage is None else storage
    if cell_units not in (None, 1):
        raise ValueError(f"the time-multiplexed engine updates one unit a cycle; cell units "
                         f"must be 1, not {cell_units!r}")
    if parallel == AUTO:
        if device is None:
            raise ValueError("parallel 'auto' needs the device to size the engine for")
        return TopPlan.auto(model, device, storage=storage, order=order, placement=placement)
    return TopPlan.of(model, parallel=parallel, simd=simd, storage=storage,
                      placement=placement, order=order)


def _steps(limit: int) -> list[int]:
    """1..64, then about 3 % apart up to `limit`: fine where the block RAM packing changes."""
    ks, k = list(range(1, min(64, limit) + 1)), 64.0
    while k < limit:
        k *= 1.03
        ks.append(min(limit, round(k)))
    return sorted(set(ks))
