"""Where `UnrolledTop` keeps the hidden state and the engine's results: registers.

`RegisterState`: flip-flops. The unrolled engine reads the whole vector through a
multiplexer, the cell stage reads a unit's pre-activations straight from the engine's result
registers, new h waits in a side buffer until the layer's last unit commits it. It gives the
FSM in `UnrolledTop.elaborate` its hooks; `UnrolledPlan.of` counts the cycles. (The wide-lane
engine's `ModelTop` keeps every vector in memories, hw/gen/top.py.)
"""

from __future__ import annotations

from amaranth.hdl import Signal, signed

from ..cell import UNIT_ROWS


class RegisterState:

    def __init__(self, top, m, x):
        self.top, eng, model, f = top, top.engine, top.model, top.model.formats
        H, I, L, U = model.hidden_size, model.input_size, model.num_layers, top.units
        self.h = [[Signal(signed(f.state.bits), name=f"h{li}_{k}") for k in range(H)]
                  for li in range(L)]
        self.c = [[Signal(signed(f.cell.bits), name=f"c{li}_{k}") for k in range(H)]
                  for li in range(L)] if model.cell == "lstm" else None
        self.hn = [Signal(signed(f.state.bits), name=f"hnext{k}") for k in range(H - U)]
        m.d.comb += [eng.vec[k].eq(x[k]) for k in range(I)]
        m.d.comb += [eng.vec[I + li * H + k].eq(self.h[li][k])
                     for li in range(L) for k in range(H)]

    def clear(self, m):
        """A sequence's first beat: all state zero."""
        m.d.sync += [r.eq(0) for hl in self.h for r in hl]
        if self.c:
            m.d.sync += [r.eq(0) for cl in self.c for r in cl]

    def pre_inputs(self, m, units, batch):
        """The batch's pre-activations to the cell units (any state)."""
        top, eng, H, U = self.top, self.top.engine, self.top.model.hidden_size, self.top.units
        with m.Switch(batch):
            for b in range(H // U):
                with m.Case(b):
                    for u, cu in enumerate(units):
                        row = (b * U + u) * top.unit_rows
                        pre = []
                        for g, (part, _) in enumerate(UNIT_ROWS[top.model.cell]):
                            if part == "split":
                                pre += [eng.aux[row + g], eng.result[row + g]]
                            else:
                                pre.append(eng.result[row + g])
                        m.d.comb += [cu.pre[n].eq(v) for n, v in enumerate(pre)]

    def cell_inputs(self, m, li, units, batch):
        """Layer li's old h and c of the batch to the cell units (in layer li's state)."""
        H, U = self.top.model.hidden_size, self.top.units
        with m.Switch(batch):
            for b in range(H // U):
                with m.Case(b):
                    for u, cu in enumerate(units):
                        m.d.comb += cu.h.eq(self.h[li][b * U + u])
        if self.c:  # c is the cell stage's alone: rotate it in place
            m.d.comb += [cu.c.eq(self.c[li][u]) for u, cu in enumerate(units)]

    def consume(self, m, li, units, index):
        """The batch's new h and c are ready this cycle (`index`: its batch number)."""
        H, U = self.top.model.hidden_size, self.top.units
        shift_in(m, self.hn, [cu.h_new for cu in units])
        if self.c:
            c = self.c[li]
            m.d.sync += [c[k].eq(c[k + U]) for k in range(H - U)]
            m.d.sync += [c[H - U + u].eq(cu.c_new) for u, cu in enumerate(units)]

    def commit(self, m, li, units):
        """The layer's last batch: returns the layer's new h (for an output beat)."""
        committed = self.hn + [cu.h_new for cu in units]
        m.d.sync += [r.eq(v) for r, v in zip(self.h[li], committed, strict=True)]
        return committed

    def head_results(self, n):
        return [self.top.engine.result[k] for k in range(n)]

    def last_hidden(self):
        return self.h[-1]


def shift_in(m, buf, new):
    """Shift `buf` down by len(new) and put `new` at its end."""
    n, U = len(buf), len(new)
    m.d.sync += [buf[k].eq(buf[k + U]) for k in range(n - U)]
    m.d.sync += [buf[n - U + u].eq(v) for u, v in enumerate(new) if n - U + u >= 0]
