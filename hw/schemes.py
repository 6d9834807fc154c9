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
