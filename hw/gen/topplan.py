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

A reloadable design (`reloadable=True`, docs/hardware.md "Reloadable weights") is decided the
same way, its engines' alphabets, fractions, widths and shifts taken from its shape
(hw.gen.shape.DesignShape, `shape`), which it records; `TopPlan.in_shape(model, shape)` is
another model's plan in that very circuit (or ShapeMismatch), whose `load_image()` is what a
load writes into the weight memories (`load_memories()`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from amaranth.hdl import Shape

from ..cell import UNIT_ROWS, CellParams
from ..modelfile import Model
from ..reference import default_emit
from . import search
from .cell import cell_timing
from .engine import EngineTiming
from .fit import Device, place_huge, roofline
from .lanes import ORDERS, LanePlan, RowHalves, make_lane_plan
from .loadport import ShapeMismatch, load_signature
from .manifest import Manifest, manifest
from .memories import PlanMemories
from .options import AUTO, UNROLLED
from .payload import BeatLayouts, output_shape
from .placement import STORAGES, Placement, huge_blocks_of
from .plan import (
    ACTIVATIONS,
    ELEMENTWISE,
    Pass,
    head_engine,
    make_passes,
    pass_sources,
    uses_multipliers,
)
from .search import FIXED_SHARE, GOALS  # noqa: F401 (the search's, named with the plan)
from .shape import DesignShape, check_structure, fit_passes, lane_shape, structure
from .timeline import LAUNCH, Timeline, lanes_of, solve
from .top import ModelTop
from .unrolled_top import UnrolledPlan


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


OUTPUTS = ("beat", "serial")
SERIAL_OVER = 16  # AUTO streams the outputs of a head with more than this many
SERIAL_ARGMAX_CYCLES = 1  # a streamed output's argmax: its last candidate's compare


def streams_output(output: str, n: int, emit: str, has_head: bool, tl: Timeline) -> bool:
    """Whether a design's `n` outputs leave as a stream of elements (`output`: "beat",
    "serial" or AUTO: more than SERIAL_OVER outputs, where they fit the time). The elements
    are read out of one memory, one a cycle, while the next step's layers run; the next head
    waits for the readout to end, so a streamed design needs layers that take longer than
    the readout (or a head engine of its own, whose period counts the readout)."""
    if output not in OUTPUTS + (AUTO,):
        raise ValueError(f"output must be one of {', '.join(OUTPUTS + (AUTO,))}, "
                         f"not {output!r}")
    if emit == "hidden" or not has_head:
        if output == "serial":
            raise ValueError("only a head's outputs stream (output serial): this model "
                             "emits its hidden state")
        return False
    # (exact: with n = LAUNCH + layer_cycles every step still takes cycles_per_step, with
    # one more the next head waits; tests/test_serial_output.py)
    room = tl.beside or LAUNCH + tl.layer_cycles >= n
    if output == "serial" and not room:
        raise ValueError(f"a streamed output reads its {n} elements out while the next step's "
                         f"layers run, and this design's layers take "
                         f"{LAUNCH + tl.layer_cycles} cycles: use output beat, or fewer "
                         f"lanes")
    return output == "serial" or (output == AUTO and n > SERIAL_OVER and room)


@dataclass(frozen=True)
class TopPlan(BeatLayouts, PlanMemories):
    """A design of the wide-lane engine (`ModelTop`), decided: build one with `of` or `auto`.

    Per step the engines run `passes` (each layer's, then the head's): the layers on the
    lanes of `lanes`, the head on them too or, for a model whose head alone multiplies, on an
    engine of its own (`head_lanes`); `pass_table()` says which engine runs each pass and
    `timeline` when each of them issues and writes."""

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
    # the head's own engine (mixed precision: the layers shift and add, the head multiplies)
    head_lanes: LanePlan | None = None
    head_timing: EngineTiming | None = None
    image: bool = True  # the code words are in `lanes` (False: a search's figures only)
    shape: DesignShape | None = None  # a reloadable design's (None: a fixed design)
    # the head's outputs leave as a stream of elements from a memory (hw.gen.serial), not as
    # one beat of registers (`output`, `streams_output`)
    serial: bool = False

    @classmethod
    def of(cls, model: Model, *, parallel: int, simd: int = 1, storage: str = "memory",
           passes: list[Pass] | None = None, image: bool = True,
           halves: RowHalves | tuple | None = None, placement: Placement | None = None,
           order: str = "rows", head: tuple[int, int] | None = None,
           reloadable: bool = False, shape: DesignShape | None = None,
           output: str = AUTO) -> TopPlan:
        """The design with P = `parallel` lanes and S = `simd` columns a lane. `passes`:
        make_passes(model), when the caller has them; `image=False`: no code words
        (hw.gen.lanes.make_lane_plan), for a search that only reads figures. `order`: the
        engine's walk (hw.gen.lanes.LanePlan.order), or AUTO for the one with fewer cycles
        per step (then the lower latency; "rows" on a tie: it keeps no per-group sums). A
        model whose head alone needs multipliers (head_engine()) runs its head on an engine
        of its own, `head` = (lanes, columns) (default: one unit's rows, one column);
        `halves`: then a pair, the layers' and the head's row_halves. `reloadable`: a design
        whose weight memories are written at run time, its shape made from this model;
        `shape`: the plan of this model in that shape (the folding must be the shape's:
        `in_shape`), or ShapeMismatch. `output`: "beat" (the outputs in one beat of
        registers), "serial" (a stream of elements out of a memory) or AUTO
        (`streams_output`)."""
        placement = Placement() if placement is None else placement
        check_folding(model, parallel, simd, storage, placement, order)
        passes = make_passes(model) if passes is None else passes
        if shape is not None:
            check_structure(model, shape.structure)
        if (reloadable or shape is not None) and storage != "memory":
            raise ValueError(f"a reloadable design writes its weights into memories: storage "
                             f"must be memory, not {storage!r}")
        if order == AUTO:
            def key(o):
                tp = cls.of(model, parallel=parallel, simd=simd, storage=storage,
                            passes=passes, image=False, halves=halves, placement=placement,
                            order=o, head=head)
                return tp.cycles_per_step, tp.latency
            order = min(ORDERS, key=key)
        emit = default_emit(model)
        G = len(UNIT_ROWS[model.cell])
        L = model.num_layers
        own = head_engine(passes, L)
        if head is not None and not own:
            raise ValueError("a head engine of its own is for a model whose head alone needs "
                             "multipliers (an intN head beside shift-scheme layers)")
        if own:
            head = (G, 1) if head is None else head
            check_head(head)
        on_lanes = passes[:L] if own else passes
        ls = hs = None  # the engines' shapes (hw.gen.shape), a reloadable design's
        if shape is not None:
            ls, hs = shape.lanes, shape.head
        elif reloadable:
            ls = lane_shape(model, list(range(len(on_lanes))), on_lanes,
                            uses_multipliers(on_lanes))
            hs = lane_shape(model, [L], passes[L:], True) if own else None
        if ls is not None:  # every pass at its engine's shape's fraction
            on_lanes = fit_passes(on_lanes, ls)
            passes = on_lanes + (fit_passes(passes[L:], hs) if own else [])
            halves = None
        hv, head_hv = (halves if own and halves is not None else (halves, None))
        plan = _lane_plan(on_lanes, parallel, simd, G, image, hv, placement, order, ls)
        head_plan = head_timing = None
        if own:
            head_plan = _lane_plan(passes[L:], head[0], head[1], head_finalizers(head[0], G),
                                   image, head_hv, placement, "rows", hs)
            if head_plan.simd > plan.simd:  # it reads the h memories' words of S elements
                raise ValueError(f"the head engine's columns ({head_plan.simd}) may not "
                                 f"exceed the layers' ({plan.simd})")
            head_timing = EngineTiming.of(head_plan)
        cell = CellParams.of(model)
        latency, h_stage, c_stage = cell_timing(cell)
        n, width = output_shape(model, emit)
        # the argmax: a registered comparator tree when every step emits, a scan of one
        # comparison a cycle (fewer registers) when only a sequence's last step does
        cycles = {"hidden": 0, "last": n + 1, "every": (n - 1).bit_length()}[emit]
        timing = EngineTiming.of(plan)
        lanes = lanes_of(plan, timing.result_delay)
        if own:
            lanes += lanes_of(head_plan, head_timing.result_delay)
        timeline = solve(lanes, pass_sources(L, model.head is not None), cell_latency=latency,
                         hidden=model.hidden_size, layers=L, emit=emit, argmax_cycles=cycles,
                         head_units=(-(-n // (head_plan or plan).finalizers)
                                     if model.head is not None else 0),
                         head_engine=own)
        serial = streams_output(output, n, emit, model.head is not None, timeline)
        if serial:  # the argmax runs as the rows arrive (hw.gen.serial): one cycle after
            cycles = SERIAL_ARGMAX_CYCLES
            timeline = replace(timeline, argmax_cycles=cycles,
                               readout=n if timeline.beside else 0)
        made = None
        if ls is not None:
            made = DesignShape(structure(model), {
                "parallel": plan.lanes, "simd": plan.simd, "order": plan.order,
                "head": None if head_plan is None else [head_plan.lanes, head_plan.simd],
                "storage": storage, "placement": placement.as_dict()}, ls, hs)
            if shape is not None and made != shape:
                raise ShapeMismatch(f"the folding {made.folding} is not the shape's "
                                    f"{shape.folding}")
        tp = cls(model, storage, placement, emit, tuple(passes), plan, timing,
                 cell, latency, h_stage, c_stage, n, width, cycles, timeline,
                 head_plan, head_timing, image, made, serial)
        names = [name for name, _, _ in tp.memories()]
        for name in placement.huge:
            if name not in names:
                raise ValueError(f"the placement puts memory {name!r} in the single-ported "
                                 f"RAM, but this design's memories are {', '.join(names)}")
        return tp

    @classmethod
    def in_shape(cls, model: Model, shape: DesignShape) -> TopPlan:
        """`model`'s plan in the reloadable design of `shape` (its folding and placement), or
        ShapeMismatch naming what does not fit."""
        f = shape.folding
        return cls.of(model, parallel=f["parallel"], simd=f["simd"], storage=f["storage"],
                      placement=Placement.from_dict(f["placement"]), order=f["order"],
                      head=tuple(f["head"]) if f["head"] else None, shape=shape)

    @classmethod
    def auto(cls, model: Model, device: Device, *, storage: str = "memory",
             order: str = AUTO, placement: Placement | None = None,
             head: tuple[int, int] | None = None, image: bool = True,
             goal: str = "fastest", reloadable: bool = False,
             output: str = AUTO) -> TopPlan:
        """The fitting folding and walk order with the most steps per second on `device`
        (a hw.gen.fit.Device; then the fewest LUTs): every P (whole units' rows, about 3 %
        apart past 64 units) and S (a power of two), each walk, counted by hw.gen.fit's
        `estimate`, at the device's placement, with memories in its SPRAM where the block
        RAM does not hold them (`on`); a design without SPRAM is kept when it reaches
        FIXED_SHARE of the fastest's steps per second. For a model whose head alone
        multiplies, the head's own engine with it (`_head_for`). `order`: AUTO (the
        search's), or the walk the design uses with the folding found; `head`: likewise the
        head engine's (lanes, columns). `placement`: the design's (default the device's).
        `goal` "smallest": instead the fitting design with the fewest LUTs (without SPRAM
        where one fits; bench.capacity's search for the largest model a board holds).
        `reloadable`: the design found, reloadable (the search estimates the reloadable
        designs); a design found with memories in SPRAM is reloadable in any case (the SPRAM
        holds nothing at power-up, so only a load can fill it). `output`: every
        candidate's (TopPlan.of's; AUTO or "beat"). ValueError when nothing fits."""
        _check_model(model)
        return search.auto(cls, model, device, storage=storage, order=order,
                           placement=placement, head=head, image=image, goal=goal,
                           reloadable=reloadable, output=output)

    def on(self, device: Device) -> TopPlan:
        """This design with its memories placed on `device`: the code, lookup and head code
        memories that the block RAM does not hold in the device's large single-ported RAM
        (hw.gen.fit.place_huge; the iCE40UP5K's SPRAM), where it has such RAM and the
        placement does not already name them. Nothing else changes: that RAM's read data is
        registered like a block RAM's, so cycles and timing are the same (a reloadable
        design's shape records the new placement)."""
        pl = place_huge(self, device)
        if pl == self.placement:
            return self
        shape = self.shape
        if shape is not None:
            shape = replace(shape, folding={**shape.folding, "placement": pl.as_dict()})
        return replace(self, placement=pl, shape=shape)

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
               "sequence_cycles_8": self.sequence_cycles(8), "passes": self.pass_table(),
               "bound_cycles": self.bound_cycles}
        if self.head_lanes is not None:
            out["head"] = list(self.head_folding)
        if self.shape is not None:
            mems = self.load_memories()
            sig = load_signature(mems)
            out["reload"] = {"fingerprint": f"{self.shape.fingerprint:08x}",
                             "memories": [{"name": lm.name, "width": lm.width,
                                           "depth": lm.depth} for lm in mems],
                             "words": sum(lm.depth for lm in mems),
                             # false: memories in SPRAM (no initial contents), so the board
                             # computes nothing until a load after each power-up
                             "preloaded": not self.huge_memories,
                             # the top's load port (hw.gen.loadport), as its Verilog names it
                             "ports": {n: {"port": f"load__{n}",
                                           "width": Shape.cast(v.shape).width}
                                       for n, v in sig.members.items()},
                             "shape": self.shape.as_dict()}
        if device is not None:
            out["board_device"] = device.name
            out["roofline"] = roofline(self, device, device.clock_mhz)
        return out

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
    def head_folding(self) -> tuple[int, int] | None:
        """The head's own engine's (lanes, columns); None when the head (if any) runs on the
        layers' lanes."""
        hd = self.head_lanes
        return None if hd is None else (hd.lanes, hd.simd)

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
        """Cycles a sequence of `steps` beats takes when sequences come back to back (from
        accepting its first beat to accepting the next sequence's first)."""
        return self.timeline.sequence_cycles(steps)

    def layout(self, k: int):
        """Pass k's layout in the engine it runs on."""
        L = self.model.num_layers
        if self.head_lanes is not None and k == L:
            return self.head_lanes.layouts[0]
        return self.lanes.layouts[k]

    @property
    def bound_cycles(self) -> int:
        """The engines' own bound per step: the issue cycles of the passes every step runs
        (the layers, and the head when every step emits), each groups x chunks on the engine
        that runs it = ceil(rows / P) x (ceil(cols_a / S) + ceil(cols_b / S)), each walked
        matrix's columns in whole chunks of S, no wait for a hold or the walk; a head on its
        own engine beside the next step's layers counts as the larger of the two."""
        L = self.model.num_layers
        layers = sum(self.layout(k).groups * self.layout(k).chunks for k in range(L))
        if self.emit != "every":
            return layers
        head = self.layout(L).groups * self.layout(L).chunks
        return max(layers, head) if self.timeline.beside else layers + head

    @property
    def weights_per_step(self) -> int:
        """Weight codes (padding excluded) one step reads: the layers, and the head when
        every step emits (of a one-hot input's matrix, the one column looked up)."""
        L = self.model.num_layers
        passes = list(range(L)) + ([L] if self.emit == "every" else [])
        return sum(len(self.passes[k].rows) * (self.passes[k].cols - self.passes[k].split + 1
                                               if self.passes[k].lookup else self.passes[k].cols)
                   for k in passes)

    @property
    def resources(self) -> dict:
        pl, f, m = self.lanes, self.model.formats, self.model
        hd = self.head_lanes
        head = hd.lanes * hd.simd if hd is not None else 0
        return {
            "lanes": pl.lanes,
            "simd": pl.simd,
            "weights_per_cycle": pl.lanes * pl.simd + head,
            "adders": pl.lanes * pl.simd + head,
            "shifters": pl.lanes * pl.simd if (pl.K > 1 and not pl.multiply) else 0,
            "multipliers": (pl.lanes * pl.simd if pl.multiply else 0) + head,
            "finalizers": pl.finalizers + (hd.finalizers if hd is not None else 0),
            "memory_bits": pl.memory_bits + (hd.memory_bits if hd is not None else 0),
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
        } | ({} if hd is None else {"head_lanes": hd.lanes, "head_simd": hd.simd,
                                    "head_code_bits": hd.code_bits}) | (
            # SPRAM blocks (hw.gen.placement.huge_blocks_of), only where a design has them
            {"huge_blocks": sum(huge_blocks_of(w, d) for _, w, d in self.huge_memories)}
            if self.placement.huge else {})

    def pass_table(self) -> list[dict]:
        """Per pass: its matrices' schemes, the engine that runs it ("lanes": the
        shift-and-add or multiplying lanes of the layers; "head": the head's own multiplier
        engine), whether its first matrix is a one-hot lookup, its folding and its issue
        cycles (the span from its start to the next pass's)."""
        m, L = self.model, self.model.num_layers
        out = []
        for k, p in enumerate(self.passes):
            if k < L:
                ly = m.layers[k]
                schemes = {"w_ih": ly.w_ih.scheme, "w_hh": ly.w_hh.scheme}
            else:
                schemes = {"weight": m.head.weight.scheme}
            own = self.head_lanes is not None and k == L
            pl = self.head_lanes if own else self.lanes
            out.append({"name": p.name, "schemes": schemes, "engine": "head" if own else "lanes",
                        "multiplies": pl.multiply, "lookup": p.lookup, "lanes": pl.lanes,
                        "simd": pl.simd, "cycles": self.timeline.span(k)})
        return out


def head_finalizers(lanes: int, G: int) -> int:
    """The head engine's finalizers: the most of the cell's G gate rows a cycle that divide
    its lanes (G for whole units' rows; 1 for one or two lanes of a GRU, whose code words are
    then 8 or 16 bits: one SPRAM block on the iCEBreaker). The head's rows are outputs, not
    gate rows: nothing needs them G at a time."""
    return math.gcd(lanes, G)


def check_head(head) -> None:
    """One ValueError naming a bad head engine folding (lanes, columns)."""
    lanes, simd = head
    if not (isinstance(lanes, int) and not isinstance(lanes, bool) and lanes >= 1):
        raise ValueError(f"the head engine's lanes must be a positive integer, not {lanes!r}")
    if not isinstance(simd, int) or isinstance(simd, bool) or simd < 1 or simd & (simd - 1):
        raise ValueError(f"the head engine's simd must be a power of two, not {simd!r}")


def _lane_plan(passes: list[Pass], parallel: int, simd: int, G: int, image: bool, halves,
               placement: Placement, order: str, shape=None) -> LanePlan:
    """`G`: the finalizers (rows a walk step); the code banks as deep as `placement` gives
    this plan's words (Placement.bank_depth_for)."""
    # lanes beyond the tallest pass (in whole walk steps) would never hold a row, columns
    # beyond the widest walked half never hold a weight
    lanes = min(parallel, -(-max(len(p.rows) for p in passes) // G) * G)
    widest = max(max(p.cols - p.split, 0 if p.lookup else p.split) for p in passes)
    S = min(simd, 1 << (widest - 1).bit_length())
    plan = make_lane_plan(passes, lanes=lanes, simd=S, finalizers=G,
                          multiply=uses_multipliers(passes), image=image, halves=halves,
                          bank_depth=placement.bank_depth, order=order, shape=shape)
    D = placement.bank_depth_for(plan.code_word_bits, len(plan.codes))
    return plan if D == plan.bank_depth else replace(plan, bank_depth=D)


def plan_for(model: Model, *, parallel, simd: int = 1, cell_units: int | None = None,
             storage: str | None = None, placement: Placement | None = None,
             order: str = "rows", head: tuple[int, int] | None = None,
             device: Device | None = None, reloadable: bool = False,
             output: str = AUTO) -> TopPlan | UnrolledPlan:
    """The plan of a design with a given `parallel`: an integer P (TopPlan.of, its memories
    placed on `device` when given: TopPlan.on), AUTO (TopPlan.auto on `device`; `simd` is the
    search's) or "unrolled"
    (hw.gen.unrolled_top.UnrolledPlan.of, the one that takes `cell_units`). `storage`:
    default each plan's own ("memory", or the unrolled engine's "registers"). `reloadable`:
    the time-multiplexed engine's weight memories written at run time. `output`: the
    head's outputs (TopPlan.of's)."""
    if parallel == UNROLLED:
        if output == "serial":
            raise ValueError("output serial is for the time-multiplexed engine; the unrolled "
                             "one's outputs are one beat")
        if head is not None:
            raise ValueError("--head-parallel/--head-simd are for the time-multiplexed "
                             "engine, not --parallel unrolled")
        if reloadable:
            raise ValueError("--reloadable is for the time-multiplexed engine: the unrolled "
                             "one's weights are constants in its logic")
        return UnrolledPlan.of(model, cell_units=cell_units, simd=simd,
                               **({} if storage is None else {"storage": storage}))
    storage = "memory" if storage is None else storage
    if cell_units not in (None, 1):
        raise ValueError(f"the time-multiplexed engine updates one unit a cycle; cell units "
                         f"must be 1, not {cell_units!r}")
    if parallel == AUTO:
        if device is None:
            raise ValueError("parallel 'auto' needs the device to size the engine for")
        return TopPlan.auto(model, device, storage=storage, order=order,
                            placement=placement, head=head, reloadable=reloadable,
                            output=output)
    tp = TopPlan.of(model, parallel=parallel, simd=simd, storage=storage,
                    placement=placement, order=order, head=head, reloadable=reloadable,
                    output=output)
    return tp if device is None else tp.on(device)
