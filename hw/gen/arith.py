"""Amaranth expressions for the contract's primitive operations (docs/numerics.md).

Each function returns an expression wide enough to hold its exact result; assigning it to a
narrower signal is the caller's (checked) decision. They mirror hw.numerics one for one.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value, signed


def shift_round_value(v: Value, s: int) -> Value:
    """hw.numerics.shift_round as an Amaranth expression:
    floor((v + 2**(s-1)) / 2**s) for s > 0 (an add and an arithmetic shift); s < 0 appends
    zero bits."""
    if s > 0:
        return (v + Const(1 << (s - 1))) >> s
    if s < 0:
        return v << -s
    return v


def saturate_value(v: Value, bits: int) -> Value:
    """hw.numerics.saturate as an Amaranth expression: clamp into the two's-complement range
    of `bits` bits (result is `bits` wide)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.shape().signed and len(v) <= bits:
        return v.as_signed()
    if not v.shape().signed:
        v = Cat(v, Const(0, 1)).as_signed()
    # v fits when the bits from bits-1 up are all equal (a reduction, not a comparator chain)
    top = v[bits - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    return Mux(fits, v[:bits], Mux(v[-1], Const(lo, signed(bits)), Const(hi, signed(bits))))[
        :bits].as_signed()


def clamp(v: Value, lo: int, hi: int, bits: int) -> Value:
    """Clamp into [lo, hi] (both representable in `bits` signed bits)."""
    return Mux(v > hi, Const(hi, signed(bits)), Mux(v < lo, Const(lo, signed(bits)), v))[:bits] \
        .as_signed()
