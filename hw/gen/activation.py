"""The integer sigmoid/tanh of the contract as comparators, one shift and one add per segment.

The segments come from hw.numerics.segments, so the hardware follows any change to the table.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..numerics import Fixed, segments
from .arith import clamp, shift_round

FUNCS = ("sigmoid", "tanh")


class Activation(wiring.Component):
    """y = activate(func, kind, x) for x in `fin` and y in `fout` (combinational)."""

    def __init__(self, *, func: str, kind: str, fin: Fixed, fout: Fixed):
        if func not in FUNCS:
            self._MustUse__silence = True  # never built
            raise ValueError(f"activation function must be one of {FUNCS}, not {func!r}")
        self.func, self.kind, self.fin, self.fout = func, kind, fin, fout
        self.table = []  # (start, shift or None, offset) as integers
        for seg in segments(func, kind):
            start, offset = seg.start * fin.one, seg.offset * fout.one
            if start.denominator != 1 or offset.denominator != 1:
                raise ValueError(f"{func} {kind} needs more fraction bits than {fin} -> {fout}")
            sh = None if seg.shift is None else fin.frac + seg.shift - fout.frac
            self.table.append((int(start), sh, int(offset)))
        super().__init__({"x": In(signed(fin.bits)), "y": Out(signed(fout.bits))})

    def elaborate(self, platform):
        m = Module()
        one, bits = self.fout.one, self.fout.bits
        a = Signal(unsigned(self.fin.bits))
        m.d.comb += a.eq(abs(self.x))
        # y before the clamp must not wrap: size it for the largest value any segment reaches
        # on any |x| (one more bit for the symmetry's negation).
        big = 1 << (self.fin.bits - 1)
        top = max([one] + [off + (big << -sh if sh < 0 else (big + (1 << sh >> 1)) >> sh)
                           if sh is not None else off for _, sh, off in self.table])
        y = Signal(signed(top.bit_length() + 2))
        for start, sh, offset in self.table:
            val = offset if sh is None else shift_round(a, sh) + offset
            with m.If(a >= start):
                m.d.comb += y.eq(val)
        if self.func == "sigmoid":
            folded = Signal.like(y)
            m.d.comb += folded.eq(y)
            with m.If(self.x < 0):
                m.d.comb += folded.eq(one - y)
            m.d.comb += self.y.eq(clamp(folded, 0, one, bits))
        else:
            folded = Signal.like(y)
            m.d.comb += folded.eq(y)
            with m.If(self.x < 0):
                m.d.comb += folded.eq(-y)
            m.d.comb += self.y.eq(clamp(folded, -one, one, bits))
        return m
