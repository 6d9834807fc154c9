"""Straight-through estimators and the fixed-point operations of hardware mode, in torch.

Every function here computes, in float64, exactly the real number that the integer it mirrors
in `hw.numerics` stands for (all values are dyadic rationals well inside float64's 53 bits), and
passes gradients straight through the rounding and saturation. The integer activation comes
from `hw.numerics.activation_table` (the one definition) with the derivative of the smooth
sigmoid/tanh as a surrogate for the backward pass. Must not import anything from train/.
"""

from __future__ import annotations

import numpy as np
import torch

from hw.numerics import Fixed, activation_table


class _Straight(torch.autograd.Function):
    """Forward: the quantized value q, exactly. Backward: the gradient goes to x unchanged."""

    @staticmethod
    def forward(ctx, x, q):
        return q.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def straight(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q in the forward pass, identity gradient to x (q computed without autograd)."""
    return _Straight.apply(x, q.detach())


def round_to(x: torch.Tensor, frac: int) -> torch.Tensor:
    """shift_round onto `frac` fraction bits, round half up: floor(x 2**frac + 0.5) / 2**frac."""
    one = 2.0**frac
    return straight(x, torch.floor(x.detach() * one + 0.5) / one)


def saturate(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """Clamp into fmt's range (as reals), gradient straight through."""
    return straight(x, x.detach().clamp(fmt.min / fmt.one, fmt.max / fmt.one))


def to_format(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """Round to the format and saturate (how biases become preact/output integers)."""
    return saturate(round_to(x, fmt.frac), fmt)


def integers(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """The integers (int64) that on-grid reals of format fmt stand for."""
    q = x.detach() * fmt.one
    return torch.round(q).long()


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, table, lo, one_in, func):
        ctx.save_for_backward(a)
        ctx.func = func
        idx = torch.round(a * one_in).long() - lo
        return table[idx]

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        if ctx.func == "sigmoid":
            s = torch.sigmoid(a)
            d = s * (1 - s)
        else:
            d = 1 - torch.tanh(a) ** 2
        return grad * d, None, None, None, None


class Activation:
    """The integer activation of docs/numerics.md as a lookup on preact-format reals."""

    def __init__(self, func: str, kind: str, fin: Fixed, fout: Fixed):
        self.func, self.fin = func, fin
        table = activation_table(func, kind, fin, fout).astype(np.float64) / fout.one
        self.table = torch.from_numpy(table)

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        if self.table.dtype != a.dtype:
            self.table = self.table.to(a.dtype)
        return _Lookup.apply(a, self.table, self.fin.min, float(self.fin.one), self.func)
