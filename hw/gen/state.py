"""Where `ModelTop` keeps the hidden state and the engine's results: the two storages.

`RegisterState` ("registers", the default): flip-flops. The engine reads the whole vector
through a multiplexer, the cell stage reads a unit's pre-activations straight from the
engine's result registers, new h waits in a side buffer until the layer's last unit commits it.

`MemoryState` ("memory"): `lib.memory` blocks, which the board tools map to block RAM, so the
logic no longer grows with the hidden size. Per layer, h is two banks of H words: a pass reads
the current bank while the cell stage writes the other, and committing a layer flips its bank.
A layer's `fresh` flag stands for an all-zero state after a sequence's first beat (and after
reset), so nothing is cleared word by word. The engine hands finished rows out in row order
and they go to one memory per gate row of a unit (and one for a split row's first part); the
head's rows go to registers, the output beat's source. Memory reads take a cycle, so the cell
stage is two stages: `go` presents the unit's addresses, `consume` (the next cycle) computes
and writes it, and the layer commits on its last unit's `consume`.

Both give the FSM in `ModelTop.elaborate` the same hooks; see its `schedule` for the cycles.
"""

from __future__ import annotations

from amaranth.hdl import Mux, Signal, signed
from amaranth.lib.memory import Memory

from .plan import UNIT_ROWS


class RegisterState:
    pipelined = False  # the cell stage consumes a unit in its `go` cycle

    def __init__(self, top, m, x):
        self.top, eng, model, f = top, top.engine, top.model, top.model.formats
        H, I, L, U = model.hidden_size, model.input_size, model.num_layers, top.units
        self.h = [[Signal(signed(f["state"].bits), name=f"h{li}_{k}") for k in range(H)]
                  for li in range(L)]
        self.c = [[Signal(signed(f["cell"].bits), name=f"c{li}_{k}") for k in range(H)]
                  for li in range(L)] if model.cell == "lstm" else None
        self.hn = [Signal(signed(f["state"].bits), name=f"hnext{k}") for k in range(H - U)]
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


class MemoryState:
    pipelined = True  # `consume` is the cycle after `go`

    def __init__(self, top, m, x):
        self.top, eng, model, f = top, top.engine, top.model, top.model.formats
        H, I, L = model.hidden_size, model.input_size, model.num_layers
        sb = f["state"].bits
        self.fresh = Signal(L, init=(1 << L) - 1)  # layer l's state reads as zero
        self.bank = Signal(L)  # layer l's current h is words bank*H .. bank*H + H - 1
        self.h_mem = []
        for li in range(L):
            m.submodules[f"h{li}"] = mem = Memory(shape=signed(sb), depth=2 * H, init=[])
            self.h_mem.append(mem)
        self.c_mem = []
        if model.cell == "lstm":
            for li in range(L):
                m.submodules[f"c{li}"] = mem = Memory(shape=signed(f["cell"].bits), depth=H,
                                                      init=[])
                self.c_mem.append(mem)
        # the engine's vector: x from its register, h from the layers' current banks
        src = Signal(range(L + 1))  # 0: x, l + 1: layer l
        xv = Signal(signed(f["input"].bits))
        with m.Switch(eng.vaddr):
            for k in range(I):
                with m.Case(k):
                    m.d.sync += xv.eq(x[k])
        with m.If(eng.vaddr < I):
            m.d.sync += src.eq(0)
        vdata = Mux(src == 0, xv, 0)
        for li, mem in enumerate(self.h_mem):
            port = mem.read_port()
            lo = I + li * H
            with m.If((eng.vaddr >= lo) & (eng.vaddr < lo + H)):
                m.d.sync += src.eq(li + 1)
            m.d.comb += port.addr.eq(Mux(self.bank[li], H, 0) + (eng.vaddr - lo)[:len(port.addr)])
            vdata = Mux((src == li + 1) & ~self.fresh[li], port.data, vdata)
        m.d.comb += eng.vdata.eq(vdata)
        self._results(m)
        self.hn = [Signal(signed(sb), name=f"hout{k}") for k in range(H)] \
            if top.emit == "hidden" else []

    def _results(self, m):
        """The layers' rows to a memory per gate row (row r: memory r % G, word r // G), the
        head's to registers; the engine writes them in row order from its `start` on."""
        top, eng, H = self.top, self.top.engine, self.top.model.hidden_size
        G, rb = top.unit_rows, eng.res_bits
        wunit, wgate = Signal(range(eng.res_len + 1)), Signal(range(G))
        wrow, head = Signal(range(eng.res_len + 1)), Signal()
        with m.If(eng.wen):
            m.d.sync += [wrow.eq(wrow + 1), wgate.eq(Mux(wgate == G - 1, 0, wgate + 1)),
                         wunit.eq(wunit + (wgate == G - 1))]
        with m.If(eng.start):
            m.d.sync += [wrow.eq(0), wgate.eq(0), wunit.eq(0),
                         head.eq(eng.sel == top.model.num_layers)]
        store = eng.wen & ~head & (wunit < H)
        self.pre_ports = []
        for g, (part, _) in enumerate(UNIT_ROWS[top.model.cell]):
            sources = [("aux", eng.waux)] if part == "split" else []
            for name, data in sources + [("", eng.wdata)]:
                m.submodules[f"pre{g}{name}"] = mem = Memory(shape=signed(rb), depth=H, init=[])
                w = mem.write_port()
                m.d.comb += [w.addr.eq(wunit[:len(w.addr)]), w.data.eq(data),
                             w.en.eq(store & (wgate == g))]
                self.pre_ports.append(mem.read_port())
        n = len(top.passes[-1].rows) if top.model.head is not None else 0
        self.head = [Signal(signed(rb), name=f"head{k}") for k in range(n)]
        for k, r in enumerate(self.head):
            with m.If(eng.wen & head & (wrow == k)):
                m.d.sync += r.eq(eng.wdata)

    def clear(self, m):
        m.d.sync += self.fresh.eq(-1)

    def pre_inputs(self, m, units, batch):
        (cu,) = units
        for p in self.pre_ports:
            m.d.comb += p.addr.eq(batch[:len(p.addr)])
        m.d.comb += [cu.pre[n].eq(p.data) for n, p in enumerate(self.pre_ports)]

    def cell_inputs(self, m, li, units, batch):
        (cu,) = units
        H = self.top.model.hidden_size
        old = self.h_mem[li].read_port()
        m.d.comb += old.addr.eq(Mux(self.bank[li], H, 0) + batch[:len(old.addr)])
        m.d.comb += cu.h.eq(Mux(self.fresh[li], 0, old.data))
        if self.c_mem:
            rd = self.c_mem[li].read_port()
            m.d.comb += rd.addr.eq(batch[:len(rd.addr)])
            m.d.comb += cu.c.eq(Mux(self.fresh[li], 0, rd.data))

    def consume(self, m, li, units, index):
        (cu,) = units
        H = self.top.model.hidden_size
        w = self.h_mem[li].write_port()
        m.d.comb += [w.addr.eq(Mux(self.bank[li], 0, H) + index[:len(w.addr)]),
                     w.data.eq(cu.h_new), w.en.eq(1)]
        if self.c_mem:
            wc = self.c_mem[li].write_port()
            m.d.comb += [wc.addr.eq(index[:len(wc.addr)]), wc.data.eq(cu.c_new), wc.en.eq(1)]
        if self.hn and li == self.top.model.num_layers - 1:
            shift_in(m, self.hn, [cu.h_new])

    def commit(self, m, li, units):
        m.d.sync += [self.bank[li].eq(~self.bank[li]), self.fresh[li].eq(0)]
        return self.hn[1:] + [units[0].h_new] if self.hn else []

    def head_results(self, n):
        return self.head[:n]

    def last_hidden(self):
        return self.hn


def make_state(storage: str, top, m, x):
    return {"registers": RegisterState, "memory": MemoryState}[storage](top, m, x)

