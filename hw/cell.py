"""One hidden unit's update from its gate pre-activations: the parameter object of the cells.

`CellParams` is the one set of parameters both sides of the contract take: `compute()` is the
pure-numpy update that `hw.reference` runs (any batch shape), and the circuit
`hw.gen.cell.CellUnit(params=...)` is built from the same object, its outputs equal to
`compute()` bit for bit (tests/test_cell.py checks the two against each other). The order of
roundings and saturations is docs/numerics.md's. This module knows no Amaranth and nothing of
the generator (which imports it, never the other way).

`UNIT_ROWS`: the gate rows of one hidden unit, the layout the generator's passes follow
(hw.gen.plan) and the order of the unit's pre-activations (a GRU's split n row gives two):
rnn `[a]`; gru `[r, z, W_in x + b_in, W_hn h + b_hn]`; lstm `[i, f, g, o]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numerics import Fixed, activate, mul_round, saturate, shift_round

CELLS = ("rnn", "gru", "lstm")
# (part, gate) for each row of one hidden unit; part says which matrices feed the row: "both"
# sums the input and the hidden matrix, "split" keeps their two sums apart (a GRU's n gate,
# whose hidden part r multiplies)
UNIT_ROWS = {
    "rnn": (("both", 0),),
    "gru": (("both", 0), ("both", 1), ("split", 2)),
    "lstm": (("both", 0), ("both", 1), ("both", 2), ("both", 3)),
}
# pre-activations the cell reads per unit (a split row gives two)
PRE_VALUES = {cell: sum(2 if part == "split" else 1 for part, _ in rows)
              for cell, rows in UNIT_ROWS.items()}


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
