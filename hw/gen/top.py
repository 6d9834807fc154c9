"""`ModelTop`: the whole model as one streaming component (the interface of docs/hardware.md).

One input beat is one time step. A step runs, per layer, one engine pass (all gate rows) and a
cell stage (the hidden units through `CellUnit`s, in order), then the head's pass when the step
emits logits. The control is a plain FSM; the cycle counts below are computed from the same
numbers the FSM uses, and the tests measure them.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..modelfile import Model
from ..reference import default_emit
from .cell import CellUnit
from .engine import SerialEngine
from .plan import ACTIVATIONS, ELEMENTWISE, UNIT_ROWS, make_passes, uses_multipliers
from .unrolled import UnrolledEngine

UNROLLED = "unrolled"


def check_parallel(parallel) -> None:
    ok = parallel == UNROLLED or (isinstance(parallel, int) and not isinstance(parallel, bool)
                                  and parallel >= 1)
    if not ok:
        raise ValueError(f"parallel must be a positive integer or {UNROLLED!r}, not {parallel!r}")


class ModelTop(wiring.Component):
    """Streams one time step per input beat; see docs/hardware.md for the protocol.

    `cycles_per_step`: cycles between accepting consecutive beats of a sequence (input always
    valid, output always ready). `latency`: cycles from accepting a beat to its output beat
    being valid (for emit "last", the sequence's last beat). `resources`: what the datapath uses.
    """

    def __init__(self, model: Model, *, parallel):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a hw.modelfile.Model, not {type(model).__name__}")
        check_parallel(parallel)
        self.model, self.parallel = model, parallel
        self.emit = default_emit(model)
        f = model.formats
        H, I, L = model.hidden_size, model.input_size, model.num_layers
        self.unit_rows = len(UNIT_ROWS[model.cell])
        self.passes = make_passes(model)
        vec_bits = max(f["input"].bits, f["state"].bits)
        vec_len = I + L * H
        if parallel == UNROLLED:
            self.units = H  # cell units working at once
            self.engine = UnrolledEngine(passes=self.passes, vec_bits=vec_bits, vec_len=vec_len,
                                         consume_step=H * self.unit_rows)
        else:
            self.units = 1
            # lanes beyond the tallest pass would never hold a row
            lanes = min(parallel, max(len(p.rows) for p in self.passes))
            self.engine = SerialEngine(passes=self.passes, lanes=lanes,
                                       multiply=uses_multipliers(model), vec_bits=vec_bits,
                                       vec_len=vec_len, consume_step=self.unit_rows)
        self.cell_cycles = -(-H // self.units)
        mv = self.engine.pass_cycles
        layers = sum(mv[k] + self.cell_cycles for k in range(L))
        head = mv[L] if model.head is not None else 0
        if self.emit == "last":
            self.cycles_per_step = 1 + layers  # steps that emit nothing skip the head
            self.latency = 1 + layers + head + 1
        else:
            self.cycles_per_step = self.latency = 1 + layers + head + 1
        self.resources = dict(self.engine.resources)
        self.resources.update({
            "elementwise_multipliers": self.units * ELEMENTWISE[model.cell],
            "activation_units": self.units * ACTIVATIONS[model.cell],
            "cell_units": self.units,
            "state_bits": L * H * (f["state"].bits + (f["cell"].bits if model.cell == "lstm"
                                                      else 0)),
            "weight_multipliers_are_shifts": not uses_multipliers(model),
        })

        self.in_layout = data.StructLayout({
            "data": data.ArrayLayout(signed(f["input"].bits), I), "first": 1, "last": 1})
        if self.emit == "hidden":
            n, width = H, f["state"].bits
        else:
            n, width = model.head.weight.shape[0], f["output"].bits
        self.out_count, self.out_bits = n, width
        fields = {"data": data.ArrayLayout(signed(width), n)}
        if self.emit != "hidden":
            fields["argmax"] = unsigned(max(1, math.ceil(math.log2(n))))
        fields["last"] = 1
        self.out_layout = data.StructLayout(fields)
        super().__init__({"i": In(stream.Signature(self.in_layout)),
                          "o": Out(stream.Signature(self.out_layout))})

    def elaborate(self, platform):
        m = Module()
        model, f, eng = self.model, self.model.formats, self.engine
        H, I, L, G, U = (model.hidden_size, model.input_size, model.num_layers, self.unit_rows,
                         self.units)
        lstm = model.cell == "lstm"
        m.submodules.engine = eng

        x = Signal(data.ArrayLayout(signed(f["input"].bits), I))
        h = [[Signal(signed(f["state"].bits), name=f"h{li}_{k}") for k in range(H)]
             for li in range(L)]
        c = [[Signal(signed(f["cell"].bits), name=f"c{li}_{k}") for k in range(H)]
             for li in range(L)] if lstm else None
        m.d.comb += [eng.vec[k].eq(x[k]) for k in range(I)]
        m.d.comb += [eng.vec[I + li * H + k].eq(h[li][k]) for li in range(L) for k in range(H)]

        units = []
        for u in range(U):
            cu = CellUnit(cell=model.cell, kind=model.activation, formats=f)
            m.submodules[f"cell{u}"] = cu
            m.d.comb += [cu.pre[g].eq(eng.result[u * G + g]) for g in range(G)]
            units.append(cu)

        last_in = Signal()
        o_valid = Signal()
        o_payload = Signal(self.out_layout)
        m.d.comb += [self.o.valid.eq(o_valid), self.o.payload.eq(o_payload)]
        with m.If(self.o.ready):
            m.d.sync += o_valid.eq(0)

        cc = Signal(range(self.cell_cycles + 1))
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [x.eq(self.i.payload.data), last_in.eq(self.i.payload.last)]
                    with m.If(self.i.payload.first):
                        m.d.sync += [r.eq(0) for hl in h for r in hl]
                        if lstm:
                            m.d.sync += [r.eq(0) for cl in c for r in cl]
                    m.next = "MV0"
            for li in range(L):
                with m.State(f"MV{li}"):
                    m.d.comb += [eng.run.eq(1), eng.sel.eq(li)]
                    with m.If(eng.done):
                        m.next = f"CELL{li}"
                with m.State(f"CELL{li}"):
                    m.d.comb += eng.consume.eq(1)
                    # rotate the layer's state by U: unit u of this cycle sits at position u
                    for u, cu in enumerate(units):
                        m.d.comb += cu.h.eq(h[li][u])
                        if lstm:
                            m.d.comb += cu.c.eq(c[li][u])
                    m.d.sync += [h[li][k].eq(h[li][k + U]) for k in range(H - U)]
                    m.d.sync += [h[li][H - U + u].eq(cu.h_new) for u, cu in enumerate(units)]
                    if lstm:
                        m.d.sync += [c[li][k].eq(c[li][k + U]) for k in range(H - U)]
                        m.d.sync += [c[li][H - U + u].eq(cu.c_new) for u, cu in enumerate(units)]
                    m.d.sync += cc.eq(cc + 1)
                    with m.If(cc == self.cell_cycles - 1):
                        m.d.sync += cc.eq(0)
                        if li < L - 1:
                            m.next = f"MV{li + 1}"
                        elif self.emit == "hidden":
                            m.next = "FINISH"
                        elif self.emit == "every":
                            m.next = "HEAD"
                        else:
                            m.next = "IDLE"
                            with m.If(last_in):
                                m.next = "HEAD"
            if model.head is not None:
                with m.State("HEAD"):
                    m.d.comb += [eng.run.eq(1), eng.sel.eq(L)]
                    with m.If(eng.done):
                        m.next = "FINISH"
            with m.State("FINISH"):
                with m.If(~o_valid | self.o.ready):
                    m.d.sync += o_valid.eq(1)
                    n = self.out_count
                    if self.emit == "hidden":
                        m.d.sync += [o_payload.data[k].eq(h[L - 1][k]) for k in range(n)]
                        m.d.sync += o_payload.last.eq(last_in)
                    else:
                        vals = [eng.result[k] for k in range(n)]
                        m.d.sync += [o_payload.data[k].eq(v) for k, v in enumerate(vals)]
                        m.d.sync += [o_payload.argmax.eq(self._argmax(m, vals)),
                                     o_payload.last.eq(1 if self.emit == "last" else last_in)]
                    m.next = "IDLE"
        return m

    def _argmax(self, m: Module, vals):
        """Index of the largest value, the first one on ties (a chain of comparators)."""
        best_v, best_i = vals[0], 0
        for k in range(1, len(vals)):
            nv = Signal(signed(self.engine.res_bits), name=f"argmax_v{k}")
            ni = Signal(len(self.o.payload.argmax), name=f"argmax_i{k}")
            take = vals[k] > best_v
            m.d.comb += [nv.eq(best_v), ni.eq(best_i)]
            with m.If(take):
                m.d.comb += [nv.eq(vals[k]), ni.eq(k)]
            best_v, best_i = nv, ni
        return best_i
