"""Fixed-point primitives and integer activations against exact rational arithmetic."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hw.numerics import (
    Fixed,
    activate,
    activation_real,
    activation_table,
    min_frac_in,
    min_frac_out,
    mul_round,
    saturate,
    segments,
    shift_round,
)

ints = st.integers(-(1 << 40), 1 << 40)


@given(ints, st.integers(-8, 30))
def test_shift_round_is_round_half_up(v, s):
    exact = Fraction(v, 1 << s) if s >= 0 else Fraction(v * (1 << -s))
    assert int(shift_round(v, s)) == math.floor(exact + Fraction(1, 2))


def test_shift_round_ties_go_up():
    assert shift_round(np.array([5, -5, 3, -3]), 1).tolist() == [3, -2, 2, -1]


@given(ints, st.integers(2, 32))
def test_saturate_clamps_to_the_width(v, bits):
    got = int(saturate(v, bits))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    assert got == min(max(v, lo), hi)


def test_saturate_at_the_format_limits():
    f = Fixed(8, 4)
    assert saturate([f.max, f.max + 1, f.min, f.min - 1], f.bits).tolist() == [127, 127, -128, -128]
    assert f.quantize([7.96875, 100.0, -8.0, -100.0]).tolist() == [127, 127, -128, -128]


@given(st.integers(-(1 << 15), 1 << 15), st.integers(-(1 << 15), 1 << 15),
       st.integers(0, 12), st.integers(0, 12), st.integers(0, 12))
def test_mul_round_is_the_rounded_exact_product(a, b, fa, fb, fo):
    exact = Fraction(a * b, 1 << (fa + fb)) * (1 << fo)
    assert int(mul_round(a, b, fa, fb, fo)) == math.floor(exact + Fraction(1, 2))


def test_fixed_rejects_bad_widths():
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 32, not 1"):
        Fixed(1, 0)
    with pytest.raises(ValueError, match="frac must be an integer from 0 to 47, not -1"):
        Fixed(8, -1)


def _exact_positive(func, kind, a, fin, fout):
    """The segment formula on |x| = a in exact rationals, rounded half up."""
    x = Fraction(a, fin.one)
    y = None
    for seg in segments(func, kind):
        if x >= seg.start:
            y = seg.offset if seg.shift is None else x / (1 << seg.shift) + seg.offset
    return math.floor(y * fout.one + Fraction(1, 2))


@pytest.mark.parametrize("kind", ["hard", "pwl"])
@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
def test_activation_matches_exact_segments_and_symmetry(func, kind):
    fin, fout = Fixed(12, 7), Fixed(10, 8)
    xs = np.arange(fin.min, fin.max + 1)
    y = activate(func, kind, xs, fin, fout)
    one = fout.one
    for x, got in zip(xs.tolist(), y.tolist(), strict=False):
        pos = min(_exact_positive(func, kind, abs(x), fin, fout), one)
        want = pos if x >= 0 else (one - pos if func == "sigmoid" else -pos)
        assert got == want, (func, kind, x)
    assert np.all(np.diff(y) >= 0), "activations must be monotonic"
    assert np.array_equal(activation_table(func, kind, fin, fout), y)


@pytest.mark.parametrize("func,true", [("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
                                       ("tanh", np.tanh)])
def test_pwl_is_close_to_the_true_function(func, true):
    x = np.linspace(-8, 8, 4001)
    err = np.abs(activation_real(func, "pwl", x) - true(x)).max()
    assert err < (0.02 if func == "sigmoid" else 0.04)


def test_activation_needs_enough_fraction_bits():
    assert min_frac_in("pwl") == 2 and min_frac_out("pwl") == 6
    assert min_frac_in("hard") == 0 and min_frac_out("hard") == 1


def test_formats_one_dataclass_with_the_project_defaults():
    from hw.numerics import FORMAT_NAMES, Formats

    f = Formats()
    assert [name for name, _ in f.items()] == list(FORMAT_NAMES)
    assert f.state == f["state"] == Fixed(10, 8)
    assert Formats.from_pairs({"input": [6, 4]}) == Formats(input=Fixed(6, 4))
    assert Formats.from_pairs(f.pairs()) == f and Formats.from_pairs(None) == f
    assert f.as_dict()["output"] == {"bits": 16, "frac": 8}
    with pytest.raises(ValueError, match="unknown formats hidden; the formats are input, state"):
        Formats.from_pairs({"hidden": (8, 4)})
    with pytest.raises(KeyError, match="'gate' is not a format"):
        f["gate"]
    with pytest.raises(TypeError, match=r"format cell must be a Fixed, not \(14, 8\)"):
        Formats(cell=(14, 8))


def test_a_model_given_a_dict_of_formats_holds_a_formats():
    from hw.modelfile import Model
    from hw.numerics import Formats

    m = Model("gru", 2, 3, "pwl", dict(Formats().items()), [])
    assert isinstance(m.formats, Formats) and m.formats.preact == Fixed(12, 7)
