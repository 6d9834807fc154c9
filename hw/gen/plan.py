"""What the generator decides about a model, as plain Python integers (no Amaranth here).

A time step is a sequence of *passes* of one matrix-vector engine over a flat vector V: the
input x (elements 0..I-1), then each layer's h (H elements each). Layer l's pass reads
[x or h[l-1], h[l]] (contiguous in V) and the head's pass reads h of the top layer.

Every weight of a pass becomes an integer multiplier aligned to the pass's accumulator
fraction F (docs/numerics.md, "Integer multipliers" and "Pre-activations"): term = m * v,
exactly, with m = 0 or +-2**k for shift schemes. Rounding half up from F to the output
fraction gives the same integer for any F at least as fine as every term, so one F per pass
serves all its rows, and its accumulator width is hw.reference.accumulator_widths' `sum`.

Rows are ordered unit-major (all gate rows of hidden unit 0, then unit 1, ...) so the cell
stage can consume finished pre-activations in order while later rows are still being computed.
A GRU's n gate needs W_in x + b_in and W_hn h + b_hn rounded separately (r multiplies only the
second): it is one *split* row whose accumulator is captured at the first hidden column and
restarted from b_hn, so a GRU costs 3 rows per unit, like the gates themselves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import schemes
from ..cell import UNIT_ROWS
from ..modelfile import Model
from ..numerics import Fixed
from ..reference import accumulator_widths

ELEMENTWISE = {"rnn": 0, "gru": 2, "lstm": 3}  # mul_round products per hidden unit
ACTIVATIONS = {"rnn": 1, "gru": 3, "lstm": 5}  # sigmoid/tanh units per hidden unit


@dataclass(frozen=True)
class Row:
    mults: tuple[int, ...]  # aligned integer multiplier per column of the pass
    bias: int  # the row's bias at the pass's fraction F
    # split rows only: the bias the accumulator restarts from at column `split`; the row then
    # yields two results, `aux` (columns before the split) and the main one (from the split on)
    split_bias: int | None = None


@dataclass(frozen=True)
class Pass:
    name: str
    col_base: int  # index in V of the pass's column 0
    split: int  # columns [0, split) hold the input matrix, the rest the hidden one
    rows: tuple[Row, ...]
    frac: int  # F
    out: Fixed  # the format the rows round and saturate to (preact, or output for the head)
    acc_bits: int
    in_fmt: Fixed  # format of the columns before the split (the state format after it)
    h_fmt: Fixed
    # the columns before the split are a one-hot input: a column is looked up, not walked
    # (docs/numerics.md, One-hot inputs; the input vector is in_fmt.one at the token)
    lookup: bool = False
    int_a: bool = False  # the matrix before the split is intN (a multiplier's work)
    int_b: bool = False  # the matrix after the split is intN

    @property
    def multiplies(self) -> bool:
        """Lanes that walk this pass need multipliers: an intN matrix they walk (a looked-up
        one-hot column needs none, whatever its scheme)."""
        return self.int_b or (self.int_a and not self.lookup)

    @property
    def cols(self) -> int:
        return len(self.rows[0].mults)

    @property
    def shift(self) -> int:
        """Fraction bits dropped (round half up) from the accumulator to `out`."""
        return self.frac - self.out.frac


def _aligned(matrix, fv: Fixed, frac: int) -> list[list[int]]:
    mult, lsb = matrix.multipliers()
    up = frac - (fv.frac - lsb)
    return [[int(v) << up for v in row] for row in mult.tolist()]


def _frac(matrix, fv: Fixed) -> int:
    return fv.frac - matrix.multipliers()[1]


def make_passes(model: Model) -> list[Pass]:
    f = model.formats
    fs, fp, H, I = f.state, f.preact, model.hidden_size, model.input_size
    widths = accumulator_widths(model)
    out = []
    for li, ly in enumerate(model.layers):
        fin = f.input if li == 0 else fs
        frac = max(_frac(ly.w_ih, fin), _frac(ly.w_hh, fs), fp.frac)
        ih, hh = _aligned(ly.w_ih, fin, frac), _aligned(ly.w_hh, fs, frac)
        up = frac - fp.frac
        rows = []
        for k in range(H):
            for part, g in UNIT_ROWS[model.cell]:
                r = g * H + k
                if part == "split":
                    rows.append(Row(tuple(ih[r] + hh[r]), int(ly.b_ih[r]) << up,
                                    int(ly.b_hh[r]) << up))
                else:
                    rows.append(Row(tuple(ih[r] + hh[r]),
                                    (int(ly.b_ih[r]) + int(ly.b_hh[r])) << up))
        col_base = 0 if li == 0 else I + (li - 1) * H
        p = Pass(f"layer{li}", col_base, len(ih[0]), tuple(rows), frac, fp, widths[li].sum,
                 fin, fs, lookup=li == 0 and model.onehot, int_a=_is_int(ly.w_ih),
                 int_b=_is_int(ly.w_hh))
        _check_width(p)
        out.append(p)
    if model.head is not None:
        fo, w = f.output, model.head.weight
        frac = max(_frac(w, fs), fo.frac)
        rows = tuple(Row(tuple(m), int(b) << (frac - fo.frac))
                     for m, b in zip(_aligned(w, fs, frac), model.head.bias.tolist(), strict=False))
        p = Pass("head", I + (model.num_layers - 1) * H, H, rows, frac, fo, widths[-1].sum,
                 fs, fs, int_a=_is_int(w), int_b=_is_int(w))
        _check_width(p)
        out.append(p)
    return out


def realign(p: Pass, frac: int) -> Pass:
    """Pass `p` at a finer fraction `frac` (a reloadable design's shape, hw.gen.shape): every
    multiplier and bias shifted left, exactly; rounding from the finer fraction gives the same
    integers (docs/numerics.md)."""
    d = frac - p.frac
    if d < 0:
        raise ValueError(f"{p.name} cannot be aligned to fraction {frac}, coarser than its "
                         f"{p.frac}")
    if d == 0:
        return p
    rows = tuple(Row(tuple(m << d for m in r.mults), r.bias << d,
                     None if r.split_bias is None else r.split_bias << d) for r in p.rows)
    return dataclasses.replace(p, rows=rows, frac=frac, acc_bits=p.acc_bits + d)


def col_formats(p: Pass) -> list[Fixed]:
    return [p.in_fmt] * p.split + [p.h_fmt] * (p.cols - p.split)


def _check_width(p: Pass) -> None:
    # The reference's widths are the law; this only guards the alignment done above.
    fmts = col_formats(p)
    lim = 1 << (p.acc_bits - 1)
    for i, row in enumerate(p.rows):
        cuts = [(0, p.cols, row.bias)] if row.split_bias is None else \
            [(0, p.split, row.bias), (p.split, p.cols, row.split_bias)]
        for a, b, bias in cuts:
            lo = hi = bias
            for m, fv in zip(row.mults[a:b], fmts[a:b], strict=False):
                lo += min(m * fv.min, m * fv.max)
                hi += max(m * fv.min, m * fv.max)
            if lo < -lim or hi >= lim:
                raise AssertionError(f"{p.name} row {i} spans [{lo}, {hi}], wider than "
                                     f"{p.acc_bits} bits")


def signed_bits(v: int) -> int:
    """Fewest two's-complement bits holding v."""
    return (v if v >= 0 else ~v).bit_length() + 1


def _is_int(matrix) -> bool:
    return schemes.int_bits(matrix.scheme) is not None


def uses_multipliers(passes: list[Pass]) -> bool:
    """intN weights that the lanes walk go through real multipliers; every other scheme is
    shift-and-add, and a one-hot input's matrix is looked up (any scheme)."""
    return any(p.multiplies for p in passes)


def pass_sources(layers: int, head: bool) -> list[tuple[int, int]]:
    """Per pass, the vectors its two halves read: 0 the input x, l + 1 layer l's h."""
    out = [(0 if li == 0 else li, li + 1) for li in range(layers)]
    return out + ([(layers, layers)] if head else [])


def head_engine(passes: list[Pass], layers: int) -> bool:
    """The head runs on an engine of its own: it needs multipliers (an intN head) and no
    layer does (their matrices shift and add, or a one-hot input's is looked up), so the
    layers keep the shift-and-add lanes and the multipliers are sized for the head alone."""
    return (len(passes) > layers and passes[layers].multiplies
            and not any(p.multiplies for p in passes[:layers]))
