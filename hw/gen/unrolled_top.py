"""`UnrolledTop`: the model with the unrolled engine (`--parallel unrolled`), registers for
the state, and combinational cell units (the interface of docs/hardware.md, like `ModelTop`).

One input beat is one time step. Per layer, the engine runs one pass over all gate rows while
the cell stage turns finished rows into new hidden units, in order, as soon as each unit's rows
are written (new h goes to a side buffer: the engine still reads the old h). The last unit of a
layer commits the buffer and starts the next pass in the same cycle; the head's pass runs when
the step emits logits. `schedule` computes the cycle counts from the same rules the FSM follows,
and the tests measure them.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..cell import CellParams
from ..modelfile import Model
from ..reference import default_emit
from .outbeat import output_register
from .payload import input_layout, input_values, output_layout, output_shape
from .plan import ACTIVATIONS, ELEMENTWISE, UNIT_ROWS, make_passes
from .state import RegisterState
from .unrolled import UnrolledEngine, engine_resources

UNROLLED = "unrolled"


def unrolled_resources(model: Model, cell_units: int | None = None,
                       passes: list | None = None) -> dict:
    """The resources an UnrolledTop of `model` publishes, counted without building one."""
    f, H, L = model.formats, model.hidden_size, model.num_layers
    units = H if cell_units is None else cell_units
    res = engine_resources(make_passes(model) if passes is None else passes)
    res.update({
        "elementwise_multipliers": units * ELEMENTWISE[model.cell],
        "activation_units": units * ACTIVATIONS[model.cell],
        "cell_units": units,
        "storage": "registers",
        "state_bits": L * H * (f.state.bits + (f.cell.bits if model.cell == "lstm" else 0)),
    })
    return res


class UnrolledTop(wiring.Component):
    """Streams one time step per input beat; see docs/hardware.md for the protocol.

    The unrolled engine computes a whole pass in one cycle from constant weights; `cell_units`
    hidden units (default all) update per cycle in combinational cell units. The state lives
    in registers. `cycles_per_step`, `latency` and `resources` as for `ModelTop`.
    """

    def __init__(self, model: Model, *, parallel=UNROLLED, cell_units: int | None = None,
                 storage: str = "registers", simd: int = 1):
        try:
            if not isinstance(model, Model):
                raise TypeError(f"model must be a hw.modelfile.Model, not "
                                f"{type(model).__name__}")
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
            self.emit = default_emit(model)
            self.storage = storage
            self._setup(model, parallel, cell_units)
        except (TypeError, ValueError):
            self._MustUse__silence = True  # never built: no "created but never used" warning
            raise
        super().__init__(self._signature)

    def _setup(self, model: Model, parallel, cell_units: int) -> None:
        self.model, self.parallel = model, parallel
        f = model.formats
        H, I, L = model.hidden_size, model.input_size, model.num_layers
        self.unit_rows = len(UNIT_ROWS[model.cell])
        self.passes = make_passes(model)
        vec_bits = max(f.input.bits, f.state.bits)
        vec_len = I + L * H
        self.units = cell_units  # hidden units the cell stage updates per cycle
        self.engine = UnrolledEngine(passes=self.passes, vec_bits=vec_bits, vec_len=vec_len)
        self.layer_cycles, self.head_cycles = self.schedule()
        layers = sum(self.layer_cycles)
        if self.emit == "last":
            self.cycles_per_step = 1 + layers  # steps that emit nothing skip the head
            self.latency = 1 + layers + self.head_cycles
        else:
            self.cycles_per_step = self.latency = 1 + layers + self.head_cycles
        self.resources = unrolled_resources(model, cell_units, self.passes)

        self.in_layout = input_layout(model)
        self.out_count, self.out_bits = output_shape(model, self.emit)
        self.out_layout = output_layout(model, self.emit)
        self._signature = {"i": In(stream.Signature(self.in_layout)),
                           "o": Out(stream.Signature(self.out_layout))}

    def schedule(self) -> tuple[list[int], int]:
        """Cycles each layer takes from its pass's start (the previous layer's last cell cycle,
        or the accepting cycle) to its own last cell cycle, and the head's from its start to the
        cycle its output beat is loaded. Mirrors the FSM in `elaborate`."""
        eng, H, U, G = self.engine, self.model.hidden_size, self.units, self.unit_rows
        layers = []
        for k in range(self.model.num_layers):
            t = 0  # the cell stage may first act in cycle 1 after the start
            for b in range(H // U):
                need = (b + 1) * U * G
                group = -(-need // eng.rows_per_write) - 1
                t = max(t + 1, eng.visible(k, group))
            layers.append(t)
        head = 0
        if self.model.head is not None:  # the output beat waits for the head's rows only
            n = len(self.passes[self.model.num_layers].rows)
            head = eng.visible(self.model.num_layers, -(-n // eng.rows_per_write) - 1)
        return layers, head

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
            cu = CellParams.of(model).create(pipelined=False)
            m.submodules[f"cell{u}"] = cu
            units.append(cu)
        state.pre_inputs(m, units, batch)
        go, index = Signal(), batch
        m.d.comb += go.eq(eng.ready >= need)

        last_in = Signal()
        o_valid, o_payload, free = output_register(m, self)

        def start(k):
            m.d.comb += [eng.start.eq(1), eng.sel.eq(k)]
            m.d.sync += [batch.eq(0), need.eq(U * G)]

        def load(values, last):
            m.d.sync += [o_valid.eq(1), o_payload.last.eq(last)]
            m.d.sync += [o_payload.data[k].eq(v) for k, v in enumerate(values)]
            if self.emit != "hidden":
                m.d.sync += o_payload.argmax.eq(self._argmax(m, values))

        def finish_batch(li):
            """Batch `index` of layer li is computed; after the layer's last batch, commit
            its new h and go on to the next layer, the head or the next beat."""
            state.consume(m, li, units, index)
            with m.If(index == H // U - 1):
                # commit the layer's new h; the next pass reads it from next cycle
                committed = state.commit(m, li, units)
                if li < L - 1:
                    start(li + 1)
                    m.next = f"LAYER{li + 1}"
                elif self.emit == "hidden":
                    with m.If(free):
                        load(committed, last_in)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "FINISH"
                elif self.emit == "every":
                    start(L)
                    m.next = "HEAD"
                else:
                    m.next = "IDLE"
                    with m.If(last_in):
                        start(L)
                        m.next = "HEAD"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [x[k].eq(v) for k, v in
                                 enumerate(input_values(model, self.i.payload.data))]
                    m.d.sync += last_in.eq(self.i.payload.last)
                    with m.If(self.i.payload.first):
                        state.clear(m)
                    start(0)
                    m.next = "LAYER0"
            for li in range(L):
                with m.State(f"LAYER{li}"):
                    state.cell_inputs(m, li, units, batch)
                    with m.If(go):
                        m.d.sync += [batch.eq(batch + 1), need.eq(need + U * G)]
                        finish_batch(li)
            if model.head is not None:
                with m.State("HEAD"):
                    n = self.out_count
                    with m.If((eng.ready >= n) & free):
                        load(state.head_results(n), 1 if self.emit == "last" else last_in)
                        m.next = "IDLE"
            else:
                with m.State("FINISH"):
                    with m.If(free):
                        load(state.last_hidden(), last_in)
                        m.next = "IDLE"
        return m

    def _argmax(self, m: Module, vals):
        """Index of the largest value, the first one on ties: a tree of comparators (log2 n
        deep; a chain of n - 1 was the board builds' critical path). Each node keeps its left
        (lower-index) input unless the right one is strictly larger."""
        nodes = [(v, i) for i, v in enumerate(vals)]
        level = 0
        while len(nodes) > 1:
            up = []
            for k in range(0, len(nodes) - 1, 2):
                (lv, li), (rv, ri) = nodes[k], nodes[k + 1]
                nv = Signal(signed(self.engine.res_bits), name=f"argmax_v{level}_{k // 2}")
                ni = Signal(len(self.o.payload.argmax), name=f"argmax_i{level}_{k // 2}")
                m.d.comb += [nv.eq(lv), ni.eq(li)]
                with m.If(rv > lv):
                    m.d.comb += [nv.eq(rv), ni.eq(ri)]
                up.append((nv, ni))
            if len(nodes) % 2:
                up.append(nodes[-1])
            nodes, level = up, level + 1
        return nodes[0][1]
