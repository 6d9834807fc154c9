"""Fixed-point semantics shared by the reference model, the trainer and the generator.

Every integer the hardware computes is defined by the few functions here: `shift_round`
(round half up while dropping fraction bits), `saturate` (clamp into a two's-complement
width), `mul_round` (an element-wise gate product) and the integer activation functions.
This module is pure numpy on int64 and must never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "Fixed", "shift_round", "saturate", "mul_round", "ACTIVATION_KINDS", "Segment",
    "segments", "activate", "activation_table", "activation_real", "min_frac_in", "min_frac_out",
]


@dataclass(frozen=True)
class Fixed:
    """A signed two's-complement fixed-point format: `bits` in all, `frac` of them fraction.

    An integer q of this format stands for the real number q / 2**frac and lies in
    [-2**(bits-1), 2**(bits-1) - 1].
    """

    bits: int
    frac: int

    def __post_init__(self):
        bits = self.bits
        if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 32:
            raise ValueError(f"bits must be an integer from 2 to 32, not {self.bits!r}")
        if not isinstance(self.frac, int) or isinstance(self.frac, bool) or not 0 <= self.frac < 48:
            raise ValueError(f"frac must be an integer from 0 to 47, not {self.frac!r}")

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def one(self) -> int:
        """The integer that stands for 1.0 (it need not be representable)."""
        return 1 << self.frac

    def quantize(self, real) -> np.ndarray:
        """Real numbers to integers of this format: round half up, then saturate."""
        scaled = np.floor(np.asarray(real, dtype=np.float64) * self.one + 0.5)
        return np.clip(scaled, self.min, self.max).astype(np.int64)

    def to_real(self, q) -> np.ndarray:
        return np.asarray(q, dtype=np.float64) / self.one

    def as_dict(self) -> dict:
        return {"bits": self.bits, "frac": self.frac}


FORMAT_NAMES = ("input", "state", "preact", "cell", "output")


@dataclass(frozen=True)
class Formats:
    """A model's five formats (docs/numerics.md). The defaults are the project's: the trainer's
    and the random models'. `formats["state"]` still works for code that names a format by a
    string; prefer `formats.state`."""

    input: Fixed = Fixed(8, 6)
    state: Fixed = Fixed(10, 8)
    preact: Fixed = Fixed(12, 7)
    cell: Fixed = Fixed(14, 8)
    output: Fixed = Fixed(16, 8)

    def __post_init__(self):
        for name, f in self.items():
            if not isinstance(f, Fixed):
                raise TypeError(f"format {name} must be a Fixed, not {f!r}")

    def __getitem__(self, name: str) -> Fixed:
        if name not in FORMAT_NAMES:
            raise KeyError(f"{name!r} is not a format; the formats are {', '.join(FORMAT_NAMES)}")
        return getattr(self, name)

    def items(self) -> list[tuple[str, Fixed]]:
        return [(name, getattr(self, name)) for name in FORMAT_NAMES]

    def as_dict(self) -> dict:
        """The model file's `formats` object."""
        return {name: f.as_dict() for name, f in self.items()}

    def pairs(self) -> dict[str, tuple[int, int]]:
        """{name: (bits, frac)}: the trainer's configuration form."""
        return {name: (f.bits, f.frac) for name, f in self.items()}

    @classmethod
    def from_pairs(cls, pairs: dict | None) -> Formats:
        """From {name: (bits, frac)} (None: the defaults); a missing name keeps its default."""
        if pairs is None:
            return cls()
        if isinstance(pairs, Formats):
            return pairs
        unknown = sorted(set(pairs) - set(FORMAT_NAMES))
        if unknown:
            raise ValueError(f"unknown formats {', '.join(unknown)}; the formats are "
                             f"{', '.join(FORMAT_NAMES)}")
        return cls(**{k: Fixed(*v) for k, v in pairs.items()})


def shift_round(v, s: int) -> np.ndarray:
    """Drop `s` fraction bits with round half up: floor((v + 2**(s-1)) / 2**s).

    A negative `s` appends -s zero fraction bits (exact). Ties go towards +infinity,
    so -2.5 becomes -2 and 2.5 becomes 3; in hardware this is an add and an arithmetic shift.
    """
    v = np.asarray(v, dtype=np.int64)
    if s > 0:
        return (v + (np.int64(1) << np.int64(s - 1))) >> np.int64(s)
    if s < 0:
        return v << np.int64(-s)
    return v


def saturate(v, bits: int) -> np.ndarray:
    """Clamp into the two's-complement range of `bits` bits."""
    return np.clip(np.asarray(v, dtype=np.int64), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def mul_round(a, b, frac_a: int, frac_b: int, frac_out: int) -> np.ndarray:
    """An element-wise product a*b (exact, frac_a+frac_b fraction bits) rounded to frac_out.

    This is the only place where two activations meet in a real multiplier (f*c, i*g, o*tanh(c),
    z*(h-n), r*(W_hn h + b_hn)); the caller saturates the sum the product flows into.
    """
    prod = np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    return shift_round(prod, frac_a + frac_b - frac_out)


ACTIVATION_KINDS = ("hard", "pwl")


@dataclass(frozen=True)
class Segment:
    """On |x| >= start (up to the next segment): y = |x| * 2**-shift + offset.

    `shift` None means a flat segment (y = offset).
    """

    start: Fraction
    shift: int | None
    offset: Fraction


# Each function is given on |x|; the negative half follows from the symmetry:
# sigmoid(-x) = 1 - sigmoid(x), tanh(-x) = -tanh(x). All slopes are powers of two.
_SEGMENTS = {
    ("sigmoid", "hard"): (
        Segment(Fraction(0), 2, Fraction(1, 2)),
        Segment(Fraction(2), None, Fraction(1)),
    ),
    ("tanh", "hard"): (
        Segment(Fraction(0), 0, Fraction(0)),
        Segment(Fraction(1), None, Fraction(1)),
    ),
    # A continuous PLAN-like sigmoid: slopes 1/4, 1/8, 1/32, then flat (max error < 0.02).
    ("sigmoid", "pwl"): (
        Segment(Fraction(0), 2, Fraction(1, 2)),
        Segment(Fraction(1), 3, Fraction(5, 8)),
        Segment(Fraction(5, 2), 5, Fraction(55, 64)),
        Segment(Fraction(9, 2), None, Fraction(1)),
    ),
    # tanh(x) = 2 sigmoid(2x) - 1 applied to the segments above: slopes 1, 1/2, 1/8, then flat.
    ("tanh", "pwl"): (
        Segment(Fraction(0), 0, Fraction(0)),
        Segment(Fraction(1, 2), 1, Fraction(1, 4)),
        Segment(Fraction(5, 4), 3, Fraction(23, 32)),
        Segment(Fraction(9, 4), None, Fraction(1)),
    ),
}


def segments(func: str, kind: str) -> tuple[Segment, ...]:
    try:
        return _SEGMENTS[(func, kind)]
    except KeyError:
        raise ValueError(f"no activation {func!r} of kind {kind!r}; kinds are "
                         f"{ACTIVATION_KINDS}") from None


def _frac_needed(values) -> int:
    need = 0
    for v in values:
        while (v * (1 << need)).denominator != 1:
            need += 1
    return need


def min_frac_in(kind: str) -> int:
    """Fraction bits the activation input needs so every breakpoint is an integer."""
    return max(_frac_needed(s.start for s in segments(f, kind)) for f in ("sigmoid", "tanh"))


def min_frac_out(kind: str) -> int:
    """Fraction bits the activation output needs so every offset is an integer."""
    return max(_frac_needed(s.offset for s in segments(f, kind)) for f in ("sigmoid", "tanh"))


def activate(func: str, kind: str, x, fin: Fixed, fout: Fixed) -> np.ndarray:
    """The integer activation: x in format `fin` -> y in format `fout`, exactly.

    For a = |x| in segment s: y = shift_round(a, fin.frac + s.shift - fout.frac) + s.offset*one_out,
    then the symmetry for x < 0, then a clamp into [-one_out, one_out] (sigmoid: [0, one_out]).
    The hardware computes the same with comparators, a shift and an add per segment.
    """
    x = np.asarray(x, dtype=np.int64)
    a = np.abs(x)
    y = np.zeros_like(a)
    for seg in segments(func, kind):
        start = int(seg.start * fin.one)
        offset = int(seg.offset * fout.one)
        if seg.shift is None:
            val = np.full_like(a, offset)
        else:
            val = shift_round(a, fin.frac + seg.shift - fout.frac) + offset
        y = np.where(a >= start, val, y)
    one = fout.one
    if func == "sigmoid":
        y = np.where(x < 0, one - y, y)
        return np.clip(y, 0, one)
    y = np.where(x < 0, -y, y)
    return np.clip(y, -one, one)


def activation_table(func: str, kind: str, fin: Fixed, fout: Fixed) -> np.ndarray:
    """`activate` for every integer of `fin`, from fin.min to fin.max (index = x - fin.min)."""
    xs = np.arange(fin.min, fin.max + 1, dtype=np.int64)
    return activate(func, kind, xs, fin, fout)


def activation_real(func: str, kind: str, x) -> np.ndarray:
    """The same piecewise-linear function on real numbers, with no rounding (for error bounds)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    y = np.zeros_like(a)
    for seg in segments(func, kind):
        if seg.shift is None:
            val = np.full_like(a, float(seg.offset))
        else:
            val = a * 2.0**-seg.shift + float(seg.offset)
        y = np.where(a >= float(seg.start), val, y)
    if func == "sigmoid":
        return np.clip(np.where(x < 0, 1.0 - y, y), 0.0, 1.0)
    return np.clip(np.where(x < 0, -y, y), -1.0, 1.0)
