"""`TopPlan`: everything `ModelTop` is built from, as plain Python (nothing is elaborated).

The folding (lanes P, columns per lane S), the engine's lane plan and timing, the cell's
timing, the output beat's layout, the published cycle counts, the resources and the list of
memories. `ModelTop` builds its circuit from this object; `--parallel auto`, the manifest and
the benches read it without building a circuit.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import data

from ..cell import CellParams
from ..modelfile import Model
from ..reference import default_emit
from .cell import cell_timing
from .engine import EngineTiming
from .lanes import ORDERS, LanePlan, RowHalves, make_lane_plan
from .payload import argmax_bits, input_layout, output_layout, output_shape
from .plan import ACTIVATIONS, ELEMENTWISE, UNIT_ROWS, Pass, make_passes, uses_multipliers
from .timeline import Timeline, lanes_of, solve

STORAGES = ("memory", "registers")


@dataclass(frozen=True)
class Placement:
    """Where the memories go on a device family (`storage="memory"`).

    `bank_depth`: 0, or the code memory split into banks of this many words (a power of two:
    the device's block RAM depth at the code word's width), each bank read into its own
    register and then selected (hw.gen.lanes.LanePlan.bank_depth). `lutram_bits`: memories of
    at most this many bits are asked for distributed (LUT) RAM instead of block RAM (0: none;
    an iCE40 has no distributed RAM). `logic_rom_depth`: a code bank after the first of at
    most this many words is built in logic, not block RAM (0: never). Such a short last bank
    holds what is left over when the words do not fill whole banks (often the head, whose
    words are mostly zero lanes): in block RAM it would take as many blocks as a full bank,
    in logic each bit is a function of a few address bits, and a constant bit costs nothing."""

    bank_depth: int = 0
    lutram_bits: int = 0
    logic_rom_depth: int = 0

    def as_dict(self) -> dict:
        return {"bank_depth": self.bank_depth, "lutram_bits": self.lutram_bits,
                "logic_rom_depth": self.logic_rom_depth}

    @classmethod
    def from_dict(cls, d: dict | None) -> Placement:
        d = d or {}
        return cls(int(d.get("bank_depth", 0)), int(d.get("lutram_bits", 0)),
                   int(d.get("logic_rom_depth", 0)))


def check_folding(model: Model, parallel, simd, storage, placement=None,
                  order: str = "rows") -> None:
    """One ValueError naming the first bad choice."""
    if not isinstance(model, Model):
        raise TypeError(f"model must be a hw.modelfile.Model, not {type(model).__name__}")
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
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if placement is not None:
        b = placement.bank_depth
        if not isinstance(b, int) or b < 0 or (b and (b < 2 or b & (b - 1))):
            raise ValueError(f"bank depth must be 0 or a power of two of at least 2, not {b!r}")
        if not isinstance(placement.lutram_bits, int) or placement.lutram_bits < 0:
            raise ValueError(f"lutram bits must be a non-negative integer, not "
                             f"{placement.lutram_bits!r}")
        d = placement.logic_rom_depth
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise ValueError(f"logic ROM depth must be a non-negative integer, not {d!r}")


@dataclass(frozen=True)
class TopPlan:
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
    argmax_bits: int
    argmax_cycles: int
    timeline: Timeline
    # the head's own engine (mixed precision: the layers shift and add, the head multiplies)
    head_lanes: LanePlan | None = None
    head_timing: EngineTiming | None = None

    @classmethod
    def of(cls, model: Model, *, parallel: int, simd: int = 1, storage: str = "memory",
           passes: list[Pass] | None = None, image: bool = True,
           halves: RowHalves | tuple | None = None, placement: Placement | None = None,
           order: str = "rows", head: tuple[int, int] | None = None) -> TopPlan:
        """`passes`: make_passes(model), when the caller has them; `image=False`: no code
        words (hw.gen.lanes.make_lane_plan), for a search that only reads figures. `order`:
        the engine's walk (hw.gen.lanes.LanePlan.order). A model whose head alone needs
        multipliers (head_engine()) runs its head on an engine of its own, `head` = (lanes,
        columns) (default: one unit's rows, one column); `halves`: then a pair, the layers'
        and the head's row_halves."""
        placement = Placement() if placement is None else placement
        check_folding(model, parallel, simd, storage, placement, order)
        emit = default_emit(model)
        G = len(UNIT_ROWS[model.cell])
        passes = make_passes(model) if passes is None else passes
        L = model.num_layers
        own = head_engine(passes, L)
        if head is not None and not own:
            raise ValueError("a head engine of its own is for a model whose head alone needs "
                             "multipliers (an intN head beside shift-scheme layers)")
        if own:
            head = (G, 1) if head is None else head
            check_folding(model, head[0], head[1], storage)
        on_lanes = passes[:L] if own else passes
        hv, head_hv = (halves if own and halves is not None else (halves, None))
        plan = _lane_plan(on_lanes, parallel, simd, G, image, hv, placement.bank_depth, order)
        head_plan = head_timing = None
        if own:
            head_plan = _lane_plan(passes[L:], head[0], head[1], G, image, head_hv,
                                   placement.bank_depth, "rows")
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
                         head_units=-(-n // G) if model.head is not None else 0,
                         head_engine=own)
        return cls(model, storage, placement, emit, tuple(passes), plan, timing,
                   cell, latency, h_stage, c_stage, n, width, argmax_bits(n), cycles, timeline,
                   head_plan, head_timing)

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

    def schedule(self) -> tuple[list[int], int]:
        """Cycles from each layer's pass start to the next pass's start (a cycle after its
        final issue), and from the head pass's start to its last unit leaving the engine plus
        the argmax (0 without a head)."""
        tl, L = self.timeline, self.model.num_layers
        layers = [tl.span(k) for k in range(L)]
        head = tl.head_done + self.argmax_cycles if self.model.head is not None else 0
        return layers, head

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
        """The engines' own bound per step: sum over the step's passes of
        ceil(rows / P) * chunks (emit "last": the layers only); a head on its own engine
        beside the next step's layers counts as the larger of the two."""
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
        return self.ram_style(width, depth, rom=name.startswith(
            ("codes", "rowinfo", "lookup", "head_codes", "head_rowinfo")))

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
        mems = self.lanes.memories()
        if self.lanes.lookup is not None:
            *mems, table = mems
        *banks, info = mems
        out = ([("codes",) + banks[0]] if len(banks) == 1 else
               [(f"codes{b}",) + wd for b, wd in enumerate(banks)])
        out.append(("rowinfo",) + info)
        if self.lanes.lookup is not None:
            out.append(("lookup",) + table)
        if self.head_lanes is not None:
            *hbanks, hinfo = self.head_lanes.memories()
            out += ([("head_codes",) + hbanks[0]] if len(hbanks) == 1 else
                    [(f"head_codes{b}",) + wd for b, wd in enumerate(hbanks)])
            out.append(("head_rowinfo",) + hinfo)
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
                                    "head_code_bits": hd.code_bits})

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


def head_engine(passes: list[Pass], layers: int) -> bool:
    """The head runs on an engine of its own: it needs multipliers (an intN head) and no
    layer does (their matrices shift and add, or a one-hot input's is looked up), so the
    layers keep the shift-and-add lanes and the multipliers are sized for the head alone."""
    return (len(passes) > layers and passes[layers].multiplies
            and not any(p.multiplies for p in passes[:layers]))


def _lane_plan(passes: list[Pass], parallel: int, simd: int, G: int, image: bool, halves,
               bank_depth: int, order: str) -> LanePlan:
    # lanes beyond the tallest pass (in whole units) would never hold a row, columns
    # beyond the widest walked half never hold a weight
    lanes = min(parallel, -(-max(len(p.rows) for p in passes) // G) * G)
    widest = max(max(p.cols - p.split, 0 if p.lookup else p.split) for p in passes)
    S = min(simd, 1 << (widest - 1).bit_length())
    return make_lane_plan(passes, lanes=lanes, simd=S, finalizers=G,
                          multiply=uses_multipliers(passes), image=image, halves=halves,
                          bank_depth=bank_depth, order=order)


def faster_order(model: Model, **kw) -> str:
    """The walk order with the fewer cycles per step (then the lower latency; "rows" on a
    tie: it keeps no per-group sums). `kw`: TopPlan.of's folding arguments."""
    def key(order):
        tp = TopPlan.of(model, image=False, order=order, **kw)
        return tp.cycles_per_step, tp.latency
    return min(ORDERS, key=key)


def pass_sources(layers: int, head: bool) -> list[tuple[int, int]]:
    """Per pass, the vectors its two halves read: 0 the input x, l + 1 layer l's h."""
    out = [(0 if li == 0 else li, li + 1) for li in range(layers)]
    return out + ([(layers, layers)] if head else [])
