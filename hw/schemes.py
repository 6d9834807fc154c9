"""Weight schemes: which integer codes are legal and what real value each code stands for.

A weight matrix carries integer `codes` and one power-of-two exponent per row, `scale`.
The value of code c in a row with exponent s is:

- binary:       c in {-1, +1}            value c * 2**s        (one s for the whole matrix)
- ternary:      c in {-1, 0, +1}         value c * 2**s        (one s for the whole matrix)
- pow2-ternary: c in {-1, 0, +1}         value c * 2**s        (s per row)
- exponential:  c in [-K, K] (K levels)  value sign(c) * 2**(s - |c| + 1), 0 for c = 0 (s per row)
- intN:         |c| <= 2**(N-1) - 1      value c * 2**s        (s per row; N from 2 to 16)

Every scheme but intN is therefore a shift plus an add, a subtract or nothing.
"""

from __future__ import annotations

import math
import re

import numpy as np

SHIFT_SCHEMES = ("binary", "ternary", "pow2-ternary", "exponential")
SCHEMES = SHIFT_SCHEMES + ("int4", "int8")  # the common names; any intN with 2 <= N <= 16 loads
PER_MATRIX_SCALE = ("binary", "ternary")
MAX_LEVELS = 15

_INT = re.compile(r"int([0-9]+)")


def int_bits(scheme: str) -> int | None:
    """N for an intN scheme, None for a shift scheme."""
    m = _INT.fullmatch(scheme)
    return int(m.group(1)) if m else None


def is_known(scheme: str) -> bool:
    if scheme in SHIFT_SCHEMES:
        return True
    n = int_bits(scheme)
    return n is not None and 2 <= n <= 16


def code_range(scheme: str, levels: int = 1) -> tuple[int, int]:
    """The smallest and largest legal code (binary also excludes 0)."""
    if scheme == "exponential":
        return -levels, levels
    n = int_bits(scheme)
    if n is not None:
        return -((1 << (n - 1)) - 1), (1 << (n - 1)) - 1
    return -1, 1


def legal_codes(codes: np.ndarray, scheme: str, levels: int = 1) -> np.ndarray:
    """A boolean mask of the codes that are legal for the scheme."""
    lo, hi = code_range(scheme, levels)
    ok = (codes >= lo) & (codes <= hi)
    if scheme == "binary":
        ok &= codes != 0
    return ok


def code_bits(scheme: str, levels: int = 1) -> int:
    """Bits one weight code needs in memory."""
    if scheme == "binary":
        return 1
    if scheme in ("ternary", "pow2-ternary"):
        return 2
    if scheme == "exponential":
        return 1 + math.ceil(math.log2(levels + 1))
    return int_bits(scheme)


def exponents(codes: np.ndarray, scale: np.ndarray, scheme: str) -> np.ndarray:
    """The power-of-two exponent of each nonzero weight's magnitude unit.

    For shift schemes |value| = 2**exponent; for intN |value| = |c| * 2**exponent.
    """
    scale = np.asarray(scale, dtype=np.int64)[:, None]
    if scheme == "exponential":
        return scale - np.abs(codes) + 1
    return np.broadcast_to(scale, codes.shape).copy()


def multipliers(codes: np.ndarray, scale, scheme: str) -> tuple[np.ndarray, int]:
    """Integer multipliers m and the exponent `lsb` with value = m * 2**lsb, exactly.

    `lsb` is the smallest exponent used by any nonzero weight (0 for an all-zero matrix),
    so every m is an integer: a shifted sign for shift schemes, a shifted code for intN.
    """
    codes = np.asarray(codes, dtype=np.int64)
    exps = exponents(codes, scale, scheme)
    nz = codes != 0
    lsb = int(exps[nz].min()) if nz.any() else 0
    mag = np.abs(codes) if int_bits(scheme) is not None else nz.astype(np.int64)
    m = np.sign(codes) * (mag << np.where(nz, exps - lsb, 0))
    return m.astype(np.int64), lsb


def values(codes: np.ndarray, scale, scheme: str) -> np.ndarray:
    """The real weights (float64, exact: every value is a dyadic rational)."""
    m, lsb = multipliers(codes, scale, scheme)
    return m.astype(np.float64) * 2.0**lsb


class NotRepresentable(ValueError):
    """The values are not exactly representable in the scheme."""


def encode(vals, scheme: str, levels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Real weights that a scheme represents exactly -> (codes, scale); the inverse of `values`.

    Raises NotRepresentable naming the first value that does not fit.
    """
    v = np.asarray(vals, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"weights must be a matrix, not shape {v.shape}")
    nz = v != 0
    mant, exp = np.frexp(np.abs(v))  # |v| = mant * 2**exp, mant in [0.5, 1)
    rows = v.shape[0]
    n = int_bits(scheme)
    if n is not None:
        # per row: the largest exponent s with every value an integer multiple of 2**s
        tz = np.where(nz, exp - 53 + _trailing_zeros(np.ldexp(mant, 53).astype(np.int64)), 10**6)
        scale = np.where(nz.any(axis=1), tz.min(axis=1), 0).astype(np.int64)
        codes = np.rint(v / np.ldexp(1.0, scale)[:, None]).astype(np.int64)
    else:
        pow2 = nz & (mant == 0.5)
        if not (pow2 | ~nz).all():
            r, c = np.argwhere(~(pow2 | ~nz))[0]
            raise NotRepresentable(f"weight [{r}][{c}] = {v[r, c]!r} is not a power of two")
        e = np.where(nz, exp - 1, -(10**6))
        top = np.where(nz.any(axis=1), e.max(axis=1), 0).astype(np.int64)
        if scheme in PER_MATRIX_SCALE:
            top = np.full(rows, int(e.max()) if nz.any() else 0, dtype=np.int64)
        if scheme == "exponential":
            mag = np.where(nz, top[:, None] - e + 1, 0)
        else:
            mag = np.where(nz, 1, 0)
            if (nz & (e != top[:, None])).any():
                r, c = np.argwhere(nz & (e != top[:, None]))[0]
                raise NotRepresentable(f"weight [{r}][{c}] = {v[r, c]!r} is not +-2**{top[r]}")
        codes, scale = (np.sign(v).astype(np.int64) * mag).astype(np.int64), top
    bad = ~legal_codes(codes, scheme, levels)
    if bad.any() or not np.array_equal(values(codes, scale, scheme), v):
        r, c = np.argwhere(bad | (values(codes, scale, scheme) != v))[0]
        raise NotRepresentable(f"weight [{r}][{c}] = {v[r, c]!r} does not fit {scheme}")
    return codes, scale


def _trailing_zeros(x: np.ndarray) -> np.ndarray:
    x = np.where(x == 0, 1, x)
    return np.log2(x & -x).astype(np.int64)
