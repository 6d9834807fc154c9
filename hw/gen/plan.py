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

from dataclasses import dataclass

from .. import schemes
from ..modelfile import Model
from ..numerics import Fixed
from ..reference import accumulator_widths

# (part, gate) for each row of one hidden unit; part says which matrices feed the row.
UNIT_ROWS = {
    "rnn": (("both", 0),),
    "gru": (("both", 0), ("both", 1), ("split", 2)),
    "lstm": (("both", 0), ("both", 1), ("both", 2), ("both", 3)),
}
# pre-activations the cell stage reads per unit (a split row gives two)
PRE_VALUES = {cell: sum(2 if part == "split" else 1 for part, _ in rows)
              for cell, rows in UNIT_ROWS.items()}
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
    fs, fp, H, I = f["state"], f["preact"], model.hidden_size, model.input_size
    widths = accumulator_widths(model)
    out = []
    for li, ly in enumerate(model.layers):
        fin = f["input"] if li == 0 else fs
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
                 fin, fs)
        _check_width(p)
        out.append(p)
    if model.head is not None:
        fo, w = f["output"], model.head.weight
        frac = max(_frac(w, fs), fo.frac)
        rows = tuple(Row(tuple(m), int(b) << (frac - fo.frac))
                     for m, b in zip(_aligned(w, fs, frac), model.head.bias.tolist(), strict=False))
        p = Pass("head", I + (model.num_layers - 1) * H, H, rows, frac, fo, widths[-1].sum,
                 fs, fs)
        _check_width(p)
        out.append(p)
    return out


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


@dataclass(frozen=True)
class Encoding:
    """How the time-multiplexed engine stores one weight.

    Shift schemes: sign-magnitude, magnitude 0 = no weight, otherwise the term is
    +-(v << (base - (mag - 1))) with `base` the row's largest shift (per row and matrix).
    With mag_bits 0 (binary) every weight is nonzero and only the sign is stored.
    intN: the code is a two's-complement integer q and the term is (q * v) << base.
    """

    multiply: bool
    code_bits: int
    mag_bits: int
    shift_bits: int


def _half_codes(ms: list[int], multiply: bool) -> tuple[int, list[int]]:
    """(base shift, per-weight magnitude or integer) for one row's half."""
    nz = [m for m in ms if m]
    if multiply:
        base = min(((abs(m) & -abs(m)).bit_length() - 1 for m in nz), default=0)
        return base, [m >> base for m in ms]
    for m in nz:
        if abs(m) & (abs(m) - 1):
            raise AssertionError(f"multiplier {m} of a shift scheme is not a power of two")
    base = max((abs(m).bit_length() - 1 for m in nz), default=0)
    return base, [0 if m == 0 else base - (abs(m).bit_length() - 1) + 1 for m in ms]


@dataclass(frozen=True)
class SerialImage:
    """Memory images of the time-multiplexed engine for `lanes` lanes."""

    lanes: int
    enc: Encoding
    groups: tuple[int, ...]  # row groups per pass
    mem_base: tuple[int, ...]  # first code word of each pass
    group_base: tuple[int, ...]  # first row-info word of each pass
    codes: tuple[int, ...]  # word = lanes codes of one column, lane 0 in the low bits
    bias: tuple[tuple[int, ...], ...]  # per row group, per lane
    split_bias: tuple[tuple[int | None, ...], ...]  # per row group, per lane (None: no split)
    base: tuple[tuple[tuple[int, int], ...], ...]  # per row group, per lane: (base_a, base_b)


def serial_image(passes: list[Pass], lanes: int, multiply: bool) -> SerialImage:
    halves = []  # per pass, per row: (base_a, vals_a, base_b, vals_b)
    for p in passes:
        hp = []
        for row in p.rows:
            ba, va = _half_codes(list(row.mults[:p.split]), multiply)
            bb, vb = _half_codes(list(row.mults[p.split:]), multiply)
            hp.append((ba, va, bb, vb))
        halves.append(hp)
    vals = [v for hp in halves for (_, va, _, vb) in hp for v in va + vb]
    bases = [b for hp in halves for (ba, _, bb, _) in hp for b in (ba, bb)]
    if multiply:
        mag_bits, code_bits = 0, max(signed_bits(v) for v in vals + [1])
    else:
        top = max(vals + [1])
        mag_bits = 0 if (top == 1 and all(vals)) else top.bit_length()
        code_bits = 1 + mag_bits
    enc = Encoding(multiply, code_bits, mag_bits, max(1, max(bases + [0]).bit_length()))

    groups, mem_base, group_base, words, bias, base, split = [], [], [], [], [], [], []
    for p, hp in zip(passes, halves, strict=False):
        g_count = -(-len(p.rows) // lanes)
        groups.append(g_count)
        mem_base.append(len(words))
        group_base.append(len(bias))
        for g in range(g_count):
            rows = [g * lanes + q for q in range(lanes)]
            bias.append(tuple(p.rows[r].bias if r < len(p.rows) else 0 for r in rows))
            split.append(tuple(p.rows[r].split_bias if r < len(p.rows) else None for r in rows))
            base.append(tuple((hp[r][0], hp[r][2]) if r < len(p.rows) else (0, 0) for r in rows))
            for j in range(p.cols):
                word = 0
                for q, r in enumerate(rows):
                    if r >= len(p.rows):
                        continue
                    v = (hp[r][1] + hp[r][3])[j]
                    if multiply:
                        c = v & ((1 << code_bits) - 1)
                    else:  # v is the magnitude; the sign comes from the multiplier
                        neg = p.rows[r].mults[j] < 0
                        c = (int(neg) << mag_bits) | (v if mag_bits else 0)
                    word |= c << (q * code_bits)
                words.append(word)
    return SerialImage(lanes, enc, tuple(groups), tuple(mem_base), tuple(group_base),
                       tuple(words), tuple(bias), tuple(split), tuple(base))


def uses_multipliers(model: Model) -> bool:
    """intN weights go through real multipliers; every other scheme is shift-and-add."""
    return any(schemes.int_bits(m.scheme) is not None for _, m in model.matrices())

