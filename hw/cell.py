"""One hidden unit's update from its gate pre-activations: the parameter object of the cells.

`CellParams` gives both sides of the contract from one set of parameters, like amaranth's
`lib.crc.Parameters`: `compute()` is the pure-numpy update that `hw.reference` runs (any batch
shape), and `create()` the pipelined circuit (`hw.gen.cell.CellUnit`) whose outputs equal
`compute()` bit for bit; tests/test_cell.py checks the two against each other. The order of
roundings and saturations is docs/numerics.md's.

Pre-activations per unit, in `hw.gen.plan.UNIT_ROWS` order (a GRU's split n row gives two):
rnn `[a]`; gru `[r, z, W_in x + b_in, W_hn h + b_hn]`; lstm `[i, f, g, o]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numerics import Fixed, activate, mul_round, saturate, shift_round

CELLS = ("rnn", "gru", "lstm")
PRE_VALUES = {"rnn": 1, "gru": 4, "lstm": 4}


@dataclass(frozen=True)
class CellParams:
    cell: str
    kind: str  # activation kind, hw.numerics.ACTIVATION_KINDS
    state: Fixed
    preact: Fixed
    cell_fmt: Fixed  # the LSTM's c (unused by the other cells)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, not {self.cell!r}")

    @classmethod
    def of(cls, model) -> CellParams:
        f = model.formats
        return cls(model.cell, model.activation, f.state, f.preact, f.cell)

    @property
    def pre_values(self) -> int:
        return PRE_VALUES[self.cell]

    def sig(self, a):
        return activate("sigmoid", self.kind, a, self.preact, self.state)

    def tanh(self, a):
        return activate("tanh", self.kind, a, self.preact, self.state)

    def compute(self, pre, h, c=None):
        """(h', c') from the unit's pre-activations (preact format), h (state) and c (cell
        format, LSTM only; c' is None for the other cells)."""
        fs, fp, fc = self.state, self.preact, self.cell_fmt
        pre = [np.asarray(p, dtype=np.int64) for p in pre]
        h = np.asarray(h, dtype=np.int64)
        if len(pre) != self.pre_values:
            raise ValueError(f"a {self.cell} unit takes {self.pre_values} pre-activations, "
                             f"not {len(pre)}")
        if self.cell == "rnn":
            return self.tanh(pre[0]), None
        if self.cell == "gru":
            r, z = self.sig(pre[0]), self.sig(pre[1])
            n = self.tanh(saturate(pre[2] + mul_round(r, pre[3], fs.frac, fp.frac, fp.frac),
                                   fp.bits))
            return saturate(n + mul_round(z, h - n, fs.frac, fs.frac, fs.frac), fs.bits), None
        ig, fg, gg, og = self.sig(pre[0]), self.sig(pre[1]), self.tanh(pre[2]), self.sig(pre[3])
        c = np.asarray(c, dtype=np.int64)
        c_new = saturate(mul_round(fg, c, fs.frac, fc.frac, fc.frac)
                         + mul_round(ig, gg, fs.frac, fs.frac, fc.frac), fc.bits)
        c_in = saturate(shift_round(c_new, fc.frac - fp.frac), fp.bits)
        return saturate(mul_round(og, self.tanh(c_in), fs.frac, fs.frac, fs.frac),
                        fs.bits), c_new

    def create(self, *, pipelined: bool = True):
        """The circuit: a `wiring.Component` with `latency` cycles from inputs to outputs
        (0 when not pipelined)."""
        from .gen.cell import CellUnit  # the circuit needs Amaranth; compute() does not

        return CellUnit(params=self, pipelined=pipelined)
