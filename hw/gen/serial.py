"""A streamed output (TopPlan.serial): the head's rows go into a memory as they leave the
finalizers, and the output leaves as a stream of element beats, not as one beat of registers.

A wide head (a char model's 49 logits of 16 bits) costs three copies of its outputs in
flip-flops as one beat (the head's row registers, the output beat, the frame encoder's copy)
and a comparator tree over all of them. Here the rows of a walk step (G of them, one memory
word) are written as they come, the argmax runs over them as they come (the best of the G,
registered, then compared with the best so far: rows come in order, so the first of equal
values wins, as np.argmax), and after `load` the elements leave one a beat, element 0 first:
`data[0]`, `end` on the last one, which carries the `argmax`; `last` (the sequence's last
output) is the same on every element of an output.

The memory is read while the next step's layers run; the next head pass may not start
before the readout has ended (`free`: the step FSM's gate), so what the head writes never
meets what is read.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Mux, Signal, signed, unsigned
from amaranth.lib.memory import Memory

from .step import argmax_value_tree


class SerialOutput:
    """The `o` stream of `top` for a streamed output of `n` elements of `bits` bits, `group`
    rows a memory word. `write(m, on, unit, rows)` takes a walk step's rows; `best` is the
    argmax one cycle after the last unit's write; `load` starts the readout (as
    hw.gen.step.OutputBeat's `load`); `free`: no readout under way."""

    def __init__(self, m, top, *, n: int, group: int, bits: int, ram_style: str):
        self.top, self.n, self.group, self.bits = top, n, group, bits
        self.units = -(-n // group)
        m.submodules.out_mem = self.mem = Memory(
            shape=unsigned(group * bits), depth=max(2, self.units), init=[],
            attrs={"ram_style": ram_style})
        self.wp, self.rp = self.mem.write_port(), self.mem.read_port()
        ib = len(top.o.payload.argmax)
        self.best = Signal(unsigned(ib), name="best_i")
        self.best_v = Signal(signed(bits), name="best_v")
        self.busy = Signal(name="out_busy")
        self.free = ~self.busy
        self.valid = Signal(name="o_valid")
        self.loading = Signal(name="out_loading")
        self._readout(m)

    def write(self, m, on, unit, rows) -> None:
        """In a cycle with `on`, the rows `rows` (G values) of walk step `unit` are written
        to word `unit`, and enter the argmax (unit 0 restarts it)."""
        n, G, bits = self.n, self.group, self.bits
        m.d.comb += [self.wp.addr.eq(unit), self.wp.en.eq(on), self.wp.data.eq(Cat(*rows))]
        # stage 1: the best of this unit's rows, a tree; a row past n (in the last unit)
        # reads as the least value, which never wins: those rows come after every real one
        cand_v = Signal(signed(bits), name="cand_v")
        cand_j = Signal(range(max(2, G)), name="cand_j")
        cand_u = Signal.like(unit, name="cand_u")
        cand_on = Signal(name="cand_on")
        least = -(1 << (bits - 1))
        leaves = []
        for k, r in enumerate(rows):
            if (self.units - 1) * G + k >= n:
                r = Mux(unit == self.units - 1, least, r)
            leaves.append((r, k))

        def node(level, k, left, right):
            take = right[0] > left[0]
            return Mux(take, right[0], left[0]), Mux(take, right[1], left[1])

        v, j = argmax_value_tree(leaves, node)
        m.d.sync += [cand_on.eq(on), cand_v.eq(v), cand_j.eq(j), cand_u.eq(unit)]
        # stage 2: against the best so far
        with m.If(cand_on & ((cand_u == 0) | (cand_v > self.best_v))):
            m.d.sync += [self.best_v.eq(cand_v),
                         self.best.eq(cand_u * G + cand_j if G > 1 else cand_u)]

    def load(self, m, values, last, argmax=None) -> None:
        """Start the readout (`values`, `argmax`: unused; the memory and `best` hold them):
        element 0 is valid from the next cycle, with `last`."""
        m.d.comb += self.loading.eq(1)
        m.d.sync += [self.valid.eq(1), self.busy.eq(1), self.last.eq(last)]

    def _readout(self, m) -> None:
        top, G, bits = self.top, self.group, self.bits
        o = top.o
        self.last = Signal(name="o_last")
        u = Signal(range(max(2, self.units)), name="out_unit")
        j = Signal(range(max(2, G)), name="out_row")
        end = Signal(name="o_end")
        m.d.comb += end.eq((u == (self.n - 1) // G) & (j == (self.n - 1) % G))
        fire = self.valid & o.ready
        nu, nj = Signal.like(u, name="next_unit"), Signal.like(j, name="next_row")
        m.d.comb += [nu.eq(u), nj.eq(j)]
        with m.If(self.loading):
            m.d.comb += [nu.eq(0), nj.eq(0)]
        with m.Elif(fire):
            if G > 1:
                with m.If(j == G - 1):
                    m.d.comb += [nu.eq(u + 1), nj.eq(0)]
                with m.Else():
                    m.d.comb += nj.eq(j + 1)
            else:
                m.d.comb += nu.eq(u + 1)
        # the word of the element shown next cycle; it holds while the element waits
        m.d.comb += self.rp.addr.eq(nu)
        m.d.sync += [u.eq(nu), j.eq(nj)]
        with m.If(fire & end):
            m.d.sync += [self.valid.eq(0), self.busy.eq(0)]
        word = self.rp.data
        elem = word.word_select(j, bits) if G > 1 else word
        m.d.comb += [o.valid.eq(self.valid), o.payload.data[0].eq(elem.as_signed()),
                     o.payload.argmax.eq(self.best), o.payload.end.eq(end),
                     o.payload.last.eq(self.last)]
