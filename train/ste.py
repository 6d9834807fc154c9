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


class _Fixed(torch.autograd.Function):
    """floor(x 2**frac + 0.5), clamped to [lo, hi], times 2**-frac; identity gradient."""

    @staticmethod
    def forward(ctx, x, frac, lo, hi):
        q = torch.floor(x * 2.0**frac + 0.5)
        if lo is not None:
            q = q.clamp_(lo, hi)
        return q.mul_(2.0**-frac)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None


class _Saturate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def round_to(x: torch.Tensor, frac: int) -> torch.Tensor:
    """shift_round onto `frac` fraction bits, round half up: floor(x 2**frac + 0.5) / 2**frac."""
    return _Fixed.apply(x, frac, None, None)


def saturate_real(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """hw.numerics.saturate restated on the reals of fmt: clamp into fmt's range,
    gradient straight through."""
    return _Saturate.apply(x, fmt.min / fmt.one, fmt.max / fmt.one)


def to_format(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """Round half up and saturate in one: saturate_real(round_to(x, fmt.frac), fmt)."""
    return _Fixed.apply(x, fmt.frac, fmt.min, fmt.max)


def integers(x: torch.Tensor, fmt: Fixed) -> torch.Tensor:
    """The integers (int64) that on-grid reals of format fmt stand for."""
    q = x.detach() * fmt.one
    return torch.round(q).long()


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, table, slope, lo, one_in):
        idx = torch.round(a * one_in).long().sub_(lo)
        ctx.save_for_backward(idx, slope)
        return torch.take(table, idx)

    @staticmethod
    def backward(ctx, grad):
        idx, slope = ctx.saved_tensors
        return grad * torch.take(slope, idx), None, None, None, None


class Activation:
    """The integer activation of docs/numerics.md as a lookup on preact-format reals.

    Backward uses the derivative of the smooth function (sigmoid or tanh) at the input, also a
    table: positive everywhere, so saturated gates still learn."""

    def __init__(self, func: str, kind: str, fin: Fixed, fout: Fixed):
        self.fin = fin
        table = activation_table(func, kind, fin, fout).astype(np.float64) / fout.one
        x = torch.arange(fin.min, fin.max + 1, dtype=torch.float64) / fin.one
        slope = torch.sigmoid(x) * (1 - torch.sigmoid(x)) if func == "sigmoid" \
            else 1 - torch.tanh(x) ** 2
        self.table, self.slope = torch.from_numpy(table), slope

    def tables(self, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, surrogate slopes), indexed by preact integer - fin.min."""
        if self.table.dtype != dtype:
            self.table, self.slope = self.table.to(dtype), self.slope.to(dtype)
        return self.table, self.slope

    def index(self, a: torch.Tensor) -> torch.Tensor:
        """Table indices of on-grid preact reals."""
        return torch.round(a * float(self.fin.one)).long().sub_(self.fin.min)

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        table, slope = self.tables(a.dtype)
        return _Lookup.apply(a, table, slope, self.fin.min, float(self.fin.one))
