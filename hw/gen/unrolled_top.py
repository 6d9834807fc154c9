"""`UnrolledPlan` and `UnrolledTop`: the model with the unrolled engine (`--parallel
unrolled`), registers for the state, and combinational cell units (the interface of
docs/hardware.md, like `ModelTop`).

`UnrolledPlan` is the design decided, as plain Python, with the surface of
hw.gen.topplan.TopPlan: `of` takes the choices, `.manifest()` describes the design and
`.create()` elaborates it (the `UnrolledTop` built from this very object).

One input beat is one time step. Per layer, the engine runs one pass over all gate rows while
the cell stage turns finished rows into new hidden units, in order, as soon as each unit's rows
are written (new h goes to a side buffer: the engine still reads the old h). The last unit of a
layer commits the buffer and starts the next pass in the same cycle; the head's pass runs when
the step emits logits. The plan computes the cycle counts from the same rules the FSM follows,
and the tests measure them.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..cell import UNIT_ROWS, CellParams
from ..modelfile import Model
from ..reference import default_emit
from .cell import CellUnit
from .manifest import Manifest, manifest
from .options import UNROLLED
from .payload import BeatLayouts, input_values, output_shape
from .plan import ACTIVATIONS, ELEMENTWISE, Pass, make_passes
from .state import RegisterState
from .step import StepControl, argmax_tree
from .unrolled import RESULT_DELAY, UnrolledEngine, engine_resources


@dataclass(frozen=True)
class UnrolledPlan(BeatLayouts):
    """A design of the unrolled engine (`UnrolledTop`), decided: build one with `of`.

    `units`: the hidden units the cell stage updates per cycle. `cycles_per_step`, `latency`
    and `resources` as for hw.gen.topplan.TopPlan."""

    model: Model
    emit: str
    passes: tuple[Pass, ...]
    units: int
    cycles_per_step: int
    latency: int
    out_count: int
    out_bits: int

    parallel = UNROLLED
    simd = 1
    storage = "registers"  # the unrolled engine's only storage

    @classmethod
    def of(cls, model: Model, *, cell_units: int | None = None, storage: str = "registers",
           simd: int = 1) -> UnrolledPlan:
        """`cell_units`: a divisor of the hidden size (default all units). `storage` and
        `simd` are checked only: the unrolled engine has registers and no columns."""
        if not isinstance(model, Model):
            raise TypeError(f"model must be a hw.modelfile.Model, not {type(model).__name__}")
        H = model.hidden_size
        if cell_units is None:
            cell_units = H
        if (not isinstance(cell_units, int) or isinstance(cell_units, bool)
                or cell_units < 1 or H % cell_units):
            raise ValueError(f"cell units must be a positive divisor of the hidden size "
                             f"{H}, not {cell_units!r}")
        if storage != "registers":
            raise ValueError(f"the unrolled engine keeps its state in registers; storage "
                             f"{storage!r} needs an integer parallel")
        if simd != 1:
            raise ValueError("simd applies to the time-multiplexed engine, not the "
                             "unrolled one")
        emit = default_emit(model)
        passes = make_passes(model)
        # Mirrors the FSM in UnrolledTop.elaborate: a layer takes from its pass's start (the
        # previous layer's last cell cycle, or the accepting cycle) to its own last cell
        # cycle; the cell stage may first act in cycle 1 after the start, and a batch of
        # units once its rows are readable (every row at once, RESULT_DELAY after the start)
        layer = 0
        for _ in range(H // cell_units):
            layer = max(layer + 1, RESULT_DELAY)
        layers = model.num_layers * layer
        # the output beat waits for the head's rows only
        head = RESULT_DELAY if model.head is not None else 0
        if emit == "last":
            cycles = 1 + layers  # steps that emit nothing skip the head
            latency = 1 + layers + head
        else:
            cycles = latency = 1 + layers + head
        n, width = output_shape(model, emit)
        return cls(model, emit, tuple(passes), cell_units, cycles, latency, n, width)

    @property
    def unit_rows(self) -> int:
        return len(UNIT_ROWS[self.model.cell])

    @property
    def resources(self) -> dict:
        f, m = self.model.formats, self.model
        H, L, U = m.hidden_size, m.num_layers, self.units
        res = engine_resources(list(self.passes))
        res.update({
            "elementwise_multipliers": U * ELEMENTWISE[m.cell],
            "activation_units": U * ACTIVATIONS[m.cell],
            "cell_units": U,
            "storage": self.storage,
            "state_bits": L * H * (f.state.bits + (f.cell.bits if m.cell == "lstm" else 0)),
        })
        return res

    def create(self) -> UnrolledTop:
        """The circuit of this plan (the plan itself, not a copy, is what it reads)."""
        return UnrolledTop(self)

    def manifest(self, device=None) -> Manifest:
        """manifest.json's content (`device` is unused: the unrolled engine has no roofline
        figures)."""
        return manifest(self, device)

    def engine_fields(self, device) -> dict:
        """The manifest's fields only this engine has: none."""
        return {}


class UnrolledTop(wiring.Component):
    """Streams one time step per input beat; see docs/hardware.md for the protocol.

    The unrolled engine computes a whole pass in one cycle from constant weights; `units`
    hidden units update per cycle in combinational cell units. The state lives in
    registers. Built from an UnrolledPlan (`plan.create()`); `cycles_per_step`, `latency` and
    `resources` are the plan's.
    """

    def __init__(self, plan: UnrolledPlan):
        self.plan = plan
        model = self.model = plan.model
        f = model.formats
        H, I, L = model.hidden_size, model.input_size, model.num_layers
        self.emit, self.storage, self.parallel, self.simd = (plan.emit, plan.storage,
                                                             plan.parallel, plan.simd)
        self.unit_rows = plan.unit_rows
        self.passes = list(plan.passes)
        self.units = plan.units  # hidden units the cell stage updates per cycle
        self.engine = UnrolledEngine(passes=self.passes, vec_bits=max(f.input.bits,
                                                                      f.state.bits),
                                     vec_len=I + L * H)
        self.cycles_per_step, self.latency = plan.cycles_per_step, plan.latency
        self.resources = plan.resources
        self.in_layout, self.out_layout = plan.in_layout, plan.out_layout
        self.out_count, self.out_bits = plan.out_count, plan.out_bits
        super().__init__({"i": In(stream.Signature(self.in_layout)),
                          "o": Out(stream.Signature(self.out_layout))})

    def elaborate(self, platform):
        m = Module()
        model, f, eng = self.model, self.model.formats, self.engine
        H, I, L, G, U = (model.hidden_size, model.input_size, model.num_layers, self.unit_rows,
                         self.units)
        m.submodules.engine = eng
        x = Signal(data.ArrayLayout(signed(f.input.bits), I))
        state = RegisterState(self, m, x)

        # the cell stage: batch b handles units b*U .. b*U+U-1, in the cycle its rows are in
        batch = Signal(range(H // U + 1))
        need = Signal(range(H * G + U * G + 1))  # rows the batch needs written
        units = []
        for u in range(U):
            cu = CellUnit(params=CellParams.of(model), pipelined=False)
            m.submodules[f"cell{u}"] = cu
            units.append(cu)
        state.pre_inputs(m, units, batch)
        go, index = Signal(), batch
        m.d.comb += go.eq(eng.ready >= need)

        def start(k):
            m.d.comb += [eng.start.eq(1), eng.sel.eq(k)]
            m.d.sync += [batch.eq(0), need.eq(U * G)]

        step = StepControl(m, self, start)
        out, last_in = step.out, step.last_in

        def argmax(values):
            return None if self.emit == "hidden" else lambda: self._argmax(m, values)

        def finish_batch(li):
            """Batch `index` of layer li is computed; after the layer's last batch, commit
            its new h and go on to the next layer, the head or the next beat."""
            state.consume(m, li, units, index)
            with m.If(index == H // U - 1):
                # commit the layer's new h; the next pass reads it from next cycle
                committed = state.commit(m, li, units)

                def hidden():
                    with m.If(out.free):
                        out.load(m, committed, last_in)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "FINISH"

                step.after_layer(li, hidden)

        def take():
            m.d.sync += [x[k].eq(v) for k, v in
                         enumerate(input_values(model, self.i.payload.data))]

        def first():
            state.clear(m)

        def launch():
            start(0)
            m.next = "LAYER0"

        with m.FSM():
            step.accept(take, first, launch)
            for li in range(L):
                with m.State(f"LAYER{li}"):
                    state.cell_inputs(m, li, units, batch)
                    with m.If(go):
                        m.d.sync += [batch.eq(batch + 1), need.eq(need + U * G)]
                        finish_batch(li)
            if model.head is not None:
                with m.State("HEAD"):
                    n = self.out_count
                    with m.If((eng.ready >= n) & out.free):
                        values = state.head_results(n)
                        out.load(m, values, 1 if self.emit == "last" else last_in,
                                 argmax(values))
                        m.next = "IDLE"
            else:
                with m.State("FINISH"):
                    with m.If(out.free):
                        out.load(m, state.last_hidden(), last_in)
                        m.next = "IDLE"
        return m

    def _argmax(self, m: Module, vals):
        """hw.gen.step.argmax_tree of combinational comparators (the beat is loaded in the
        cycle the values are ready)."""
        bits, ib = self.engine.res_bits, len(self.o.payload.argmax)

        def node(level, k, left, right):
            (lv, li), (rv, ri) = left, right
            nv = Signal(signed(bits), name=f"argmax_v{level}_{k}")
            ni = Signal(ib, name=f"argmax_i{level}_{k}")
            m.d.comb += [nv.eq(lv), ni.eq(li)]
            with m.If(rv > lv):
                m.d.comb += [nv.eq(rv), ni.eq(ri)]
            return nv, ni

        return argmax_tree([(v, i) for i, v in enumerate(vals)], node)
