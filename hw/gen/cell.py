"""One hidden unit's cell update from its gate pre-activations (combinational).

The same parameters give the reference (hw.reference.Reference.layer_step) and this circuit:
activations from `Activation`, element-wise products from `mul_round` (real multipliers, few
enough to map to DSP blocks), then the contract's saturations, in the order the contract uses.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..numerics import Fixed
from .activation import Activation
from .arith import mul_round, saturate, shift_round
from .plan import PRE_VALUES, UNIT_ROWS


class CellUnit(wiring.Component):
    """pre (the unit's rows in plan.UNIT_ROWS order, a split row's two parts first the
    input part), h, c -> h_new, c_new.

    rnn: pre = [a];  gru: [r, z, W_in x + b_in, W_hn h + b_hn];  lstm: [i, f, g, o].
    `c` and `c_new` exist only for lstm.
    """

    def __init__(self, *, cell: str, kind: str, formats: dict[str, Fixed]):
        if cell not in UNIT_ROWS:
            self._MustUse__silence = True  # never built
            raise ValueError(f"cell must be one of {tuple(UNIT_ROWS)}, not {cell!r}")
        self.cell, self.kind = cell, kind
        self.fs, self.fp, self.fc = formats["state"], formats["preact"], formats["cell"]
        ports = {
            "pre": In(data.ArrayLayout(signed(self.fp.bits), PRE_VALUES[cell])),
            "h": In(signed(self.fs.bits)),
            "h_new": Out(signed(self.fs.bits)),
        }
        if cell == "lstm":
            ports["c"] = In(signed(self.fc.bits))
            ports["c_new"] = Out(signed(self.fc.bits))
        super().__init__(ports)

    def _act(self, m: Module, name: str, func: str, x, fin: Fixed | None = None):
        unit = Activation(func=func, kind=self.kind, fin=fin or self.fp, fout=self.fs)
        m.submodules[name] = unit
        m.d.comb += unit.x.eq(x)
        return unit.y

    def elaborate(self, platform):
        m = Module()
        fs, fp, fc = self.fs, self.fp, self.fc
        pre = [self.pre[i] for i in range(PRE_VALUES[self.cell])]
        if self.cell == "rnn":
            m.d.comb += self.h_new.eq(self._act(m, "tanh", "tanh", pre[0]))
        elif self.cell == "gru":
            r = self._act(m, "sig_r", "sigmoid", pre[0])
            z = self._act(m, "sig_z", "sigmoid", pre[1])
            n_in = Signal(signed(fp.bits))
            m.d.comb += n_in.eq(saturate(pre[2] + mul_round(r, pre[3], fs.frac, fp.frac, fp.frac),
                                         fp.bits))
            n = self._act(m, "tanh_n", "tanh", n_in)
            m.d.comb += self.h_new.eq(
                saturate(n + mul_round(z, self.h - n, fs.frac, fs.frac, fs.frac), fs.bits))
        else:
            ig = self._act(m, "sig_i", "sigmoid", pre[0])
            fg = self._act(m, "sig_f", "sigmoid", pre[1])
            gg = self._act(m, "tanh_g", "tanh", pre[2])
            og = self._act(m, "sig_o", "sigmoid", pre[3])
            m.d.comb += self.c_new.eq(saturate(
                mul_round(fg, self.c, fs.frac, fc.frac, fc.frac)
                + mul_round(ig, gg, fs.frac, fs.frac, fc.frac), fc.bits))
            c_in = Signal(signed(fp.bits))
            m.d.comb += c_in.eq(saturate(shift_round(self.c_new, fc.frac - fp.frac), fp.bits))
            tc = self._act(m, "tanh_c", "tanh", c_in)
            m.d.comb += self.h_new.eq(
                saturate(mul_round(og, tc, fs.frac, fs.frac, fs.frac), fs.bits))
        return m
