"""The bit-exact integer reference model: what the hardware computes, in int64 numpy.

Every function works on a batch (leading axis N) so a whole test set runs at once.
Each rounding and saturation is written where it happens; docs/numerics.md says the same in prose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cell import CellParams
from .modelfile import Matrix, Model
from .numerics import Fixed, saturate, shift_round


@dataclass(frozen=True)
class Term:
    """A matrix-vector product's integer accumulator and its fraction bits."""

    acc: np.ndarray
    frac: int


def matvec(m: Matrix, v: np.ndarray, fv: Fixed) -> Term:
    """sum_j m_ij * v_j exactly; the result has fv.frac - lsb fraction bits."""
    mult, lsb = m.multipliers()
    return Term(np.asarray(v, dtype=np.int64) @ mult.T, fv.frac - lsb)


def lookup(m: Matrix, tokens: np.ndarray, fv: Fixed) -> Term:
    """The product with one-hot vectors (fv.one at each token, 0 elsewhere) as a column
    lookup: the same integers as matvec(m, one_hot, fv), without the sum."""
    mult, lsb = m.multipliers()
    return Term(mult.T[np.asarray(tokens, dtype=np.int64)] * np.int64(fv.one), fv.frac - lsb)


def preact(terms: list[Term], bias: np.ndarray, fp: Fixed) -> np.ndarray:
    """Align the terms and the bias (fp.frac fraction bits) to the finest fraction, add them
    exactly, then round half up to fp.frac and saturate to fp.bits."""
    frac = max([t.frac for t in terms] + [fp.frac])
    total = shift_round(np.asarray(bias, dtype=np.int64), fp.frac - frac)
    for t in terms:
        total = total + shift_round(t.acc, t.frac - frac)
    return saturate(shift_round(total, frac - fp.frac), fp.bits)


class Reference:
    """`step(state, x)` and `run(xs)` for the model's cell, stacked layers and head."""

    def __init__(self, model: Model):
        self.model = model
        f = model.formats
        self.fx, self.fs, self.fp, self.fc, self.fo = (
            f.input, f.state, f.preact, f.cell, f.output)
        self.cell = CellParams.of(model)  # the unit update, shared with the circuit

    # ---- one layer, one step
    def layer_step(self, i: int, h, c, x):
        """One time step of layer i: (h, c) -> (h', c'). c is None except for LSTM."""
        m, ly, H = self.model, self.model.layers[i], self.model.hidden_size
        fin = self.fx if i == 0 else self.fs
        fp = self.fp
        if i == 0 and m.onehot:  # x is the beat: (..., 1) token indices
            tx = lookup(ly.w_ih, x[..., 0], fin)
        else:
            tx = matvec(ly.w_ih, x, fin)
        th = matvec(ly.w_hh, h, self.fs)

        def part(t: Term, g: int) -> Term:
            return Term(t.acc[..., g * H:(g + 1) * H], t.frac)

        def bias(b, g):
            return b[g * H:(g + 1) * H]

        if m.cell == "rnn":
            pre = [preact([tx, th], ly.b_ih + ly.b_hh, fp)]
        elif m.cell == "gru":  # r, z, then the n gate's two parts, rounded apart
            pre = [preact([part(tx, g), part(th, g)], bias(ly.b_ih, g) + bias(ly.b_hh, g), fp)
                   for g in range(2)]
            pre += [preact([part(tx, 2)], bias(ly.b_ih, 2), fp),
                    preact([part(th, 2)], bias(ly.b_hh, 2), fp)]
        else:  # lstm, gate order i, f, g, o
            pre = [preact([part(tx, g), part(th, g)], bias(ly.b_ih, g) + bias(ly.b_hh, g), fp)
                   for g in range(4)]
        return self.cell.compute(pre, h, c)

    # ---- whole model
    def initial_state(self, batch: tuple = ()) -> list[tuple[np.ndarray, np.ndarray | None]]:
        z = np.zeros(batch + (self.model.hidden_size,), dtype=np.int64)
        return [(z, z if self.model.cell == "lstm" else None) for _ in self.model.layers]

    def step(self, state, x):
        """One time step of the whole stack from an input beat (..., beat_inputs). Returns (new
        state, top layer's h)."""
        new = []
        v = np.asarray(x, dtype=np.int64)
        for i, (h, c) in enumerate(state):
            h, c = self.layer_step(i, h, c, v)
            new.append((h, c))
            v = h
        return new, v

    def run(self, xs) -> np.ndarray:
        """Input beats (..., T, beat_inputs): input-format integers, or for a one-hot input a
        token index per step, from a zero state -> top h per step (..., T, H)."""
        xs = np.asarray(xs, dtype=np.int64)
        m = self.model
        if xs.shape[-1] != m.beat_inputs:
            what = "token" if m.onehot else "features"
            raise ValueError(f"input has {xs.shape[-1]} elements per step, the model takes "
                             f"{m.beat_inputs} ({what})")
        if m.onehot:
            m.check_tokens(xs)
        state = self.initial_state(xs.shape[:-2])
        out = []
        for t in range(xs.shape[-2]):
            state, h = self.step(state, xs[..., t, :])
            out.append(h)
        return np.stack(out, axis=-2)

    def head(self, h) -> np.ndarray:
        """Logits in the output format from hidden states (..., H)."""
        hd = self.model.head
        if hd is None:
            raise ValueError("the model has no head")
        return preact([matvec(hd.weight, h, self.fs)], hd.bias, self.fo)

    def predict(self, xs) -> np.ndarray:
        """Class per sequence: argmax (first of equals) of the head at the last step."""
        return np.argmax(self.head(self.run(xs)[..., -1, :]), axis=-1)


def accumulator_range(m: Matrix, fv: Fixed) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the exact smallest and largest sum_j m_ij v_j over all v in format fv."""
    mult, _ = m.multipliers()
    pos = np.where(mult > 0, mult, 0).sum(axis=1)
    neg = np.where(mult < 0, -mult, 0).sum(axis=1)
    hi = pos * fv.max + neg * -fv.min
    lo = -(pos * -fv.min + neg * fv.max)
    return lo, hi


def width_for(lo: int, hi: int) -> int:
    """The fewest two's-complement bits that hold every integer in [lo, hi]."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


@dataclass(frozen=True)
class LayerWidths:
    ih: int  # the input matrix's accumulator
    hh: int  # the hidden matrix's accumulator
    sum: int  # terms + biases aligned to the common fraction, before rounding


def accumulator_widths(model: Model) -> list[LayerWidths]:
    """Worst-case widths per recurrent layer (and the head last, with hh = 0).

    No overflow is possible on any input; `ih` and `hh` are reached by some input (tight),
    `sum` bounds every gate's aligned sum (tight for the gates that add both terms)."""
    f = model.formats
    out = []
    for i, ly in enumerate(model.layers):
        fin = f.input if i == 0 else f.state
        out.append(_widths([(ly.w_ih, fin), (ly.w_hh, f.state)],
                           np.abs(ly.b_ih) + np.abs(ly.b_hh), f.preact))
    if model.head is not None:
        w = _widths([(model.head.weight, f.state)], np.abs(model.head.bias), f.output)
        out.append(LayerWidths(w.ih, 0, w.sum))
    return out


def _widths(mats, bias_abs, fp: Fixed) -> LayerWidths:
    ranges = [(accumulator_range(m, fv), fv.frac - m.multipliers()[1]) for m, fv in mats]
    frac = max([fr for _, fr in ranges] + [fp.frac])
    lo = -(bias_abs.astype(object) << (frac - fp.frac))
    hi = bias_abs.astype(object) << (frac - fp.frac)
    for (rlo, rhi), fr in ranges:
        lo = lo + (rlo.astype(object) << (frac - fr))
        hi = hi + (rhi.astype(object) << (frac - fr))
    each = [width_for(int(rlo.min()), int(rhi.max())) for (rlo, rhi), _ in ranges]
    return LayerWidths(each[0], each[1] if len(each) > 1 else 0,
                       width_for(int(min(lo)), int(max(hi))))


def default_emit(model: Model) -> str:
    """What the hardware streams out: `Model.emits` (hidden, last or every)."""
    return model.emits
