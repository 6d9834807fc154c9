"""The integer sigmoid/tanh of the contract as pipeline stages: comparators, a shift and one
add per segment, the symmetry, the clamp.

The segments come from hw.numerics.segments, so the hardware follows any change to the table.
Four stages, none with more than one adder or comparator chain in series:
|x| and its sign; every segment's comparison and value side by side; the priority select and
the symmetry's subtraction; the clamp (left out when no input of the format reaches it).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Const, Mux

from ..numerics import Fixed, segments, shift_round
from .arith import clamp
from .pipe import Pipe, Staged

FUNCS = ("sigmoid", "tanh")


def segment_table(func: str, kind: str, fin: Fixed, fout: Fixed) -> list[tuple]:
    """(start, shift or None, offset) as integers of `fin` and `fout`."""
    if func not in FUNCS:
        raise ValueError(f"activation function must be one of {FUNCS}, not {func!r}")
    table = []
    for seg in segments(func, kind):
        start, offset = seg.start * fin.one, seg.offset * fout.one
        if start.denominator != 1 or offset.denominator != 1:
            raise ValueError(f"{func} {kind} needs more fraction bits than {fin} -> {fout}")
        sh = None if seg.shift is None else fin.frac + seg.shift - fout.frac
        table.append((int(start), sh, int(offset)))
    return table


def _segment_value(a, sh: int, offset: int):
    # shift_round(a, sh) + offset in one add: floor((a + 2**(sh-1)) / 2**sh) + offset
    # == floor((a + 2**(sh-1) + offset * 2**sh) / 2**sh) for an integer offset
    if sh > 0:
        return (a + Const((1 << (sh - 1)) + (offset << sh))) >> sh
    return (a << -sh) + Const(offset)


def activation(pipe: Pipe, func: str, kind: str, x: Staged, fin: Fixed, fout: Fixed) -> Staged:
    """y = hw.numerics.activate(func, kind, x) for x in `fin` and y in `fout`."""
    table = segment_table(func, kind, fin, fout)
    one = fout.one
    a = pipe.op(lambda v: abs(v), x, name="abs")
    neg = pipe.op(lambda v: v < 0, x, name="neg")
    conds, vals = [], []
    for start, sh, offset in table:
        conds.append(pipe.op(lambda v, s=start: v >= s, a, name="ge"))
        if sh is None:
            vals.append(pipe.comb(lambda v, o=offset: Const(o), a))
        else:
            vals.append(pipe.op(lambda v, s=sh, o=offset: _segment_value(v, s, o), a,
                                name="seg"))

    def select_fold(n, *cv):
        cs, vs = cv[:len(table)], cv[len(table):]
        y = Const(0)
        for c, v in zip(cs, vs, strict=True):
            y = Mux(c, v, y)
        return Mux(n, (one - y) if func == "sigmoid" else -y, y)

    folded = pipe.op(select_fold, neg, *conds, *vals, name="fold")
    lo = 0 if func == "sigmoid" else -one
    if not _clamp_acts(table, func, fin, fout):
        return pipe.comb(lambda v: v[:fout.bits].as_signed(), folded)
    return pipe.op(lambda v: clamp(v, lo, one, fout.bits), folded, name="act")


def _clamp_acts(table, func: str, fin: Fixed, fout: Fixed) -> bool:
    """Whether the final clamp changes any value of `fin` (checked on every input): when it
    cannot, the circuit leaves it out."""
    x = np.arange(fin.min, fin.max + 1, dtype=np.int64)
    a = np.abs(x)
    y = np.zeros_like(a)
    for start, sh, offset in table:
        val = np.full_like(a, offset) if sh is None else shift_round(a, sh) + offset
        y = np.where(a >= start, val, y)
    one = fout.one
    folded = np.where(x < 0, one - y if func == "sigmoid" else -y, y)
    lo = 0 if func == "sigmoid" else -one
    return bool(folded.min() < lo or folded.max() > one)
