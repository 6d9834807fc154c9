"""Weight schemes: legal codes, exact values, and encode/decode round trips for every scheme."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw import schemes
from hw.random_model import random_matrix

ALL = ["binary", "ternary", "pow2-ternary", "exponential", "int4", "int8", "int2", "int16"]


@pytest.mark.parametrize("scheme", ALL)
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), levels=st.integers(1, schemes.MAX_LEVELS))
def test_decode_encode_round_trip(scheme, seed, levels):
    rng = np.random.default_rng(seed)
    m = random_matrix(rng, scheme, int(rng.integers(1, 6)), int(rng.integers(1, 6)), levels)
    vals = m.values()
    codes, scale = schemes.encode(vals, scheme, m.levels)
    assert np.array_equal(schemes.values(codes, scale, scheme), vals)
    assert schemes.legal_codes(codes, scheme, m.levels).all()
    if scheme in ("binary", "ternary", "pow2-ternary"):  # one canonical encoding
        nz_rows = (m.codes != 0).any(axis=1)
        assert np.array_equal(codes, m.codes)
        assert np.array_equal(scale[nz_rows], m.scale[nz_rows])


@pytest.mark.parametrize("scheme", ALL)
def test_multipliers_are_exact_integers_times_the_lsb(scheme):
    rng = np.random.default_rng(1)
    m = random_matrix(rng, scheme, 6, 5, levels=4)
    mult, lsb = m.multipliers()
    assert mult.dtype == np.int64
    assert np.array_equal(mult * 2.0**lsb, m.values())
    if scheme in schemes.SHIFT_SCHEMES:  # a signed power of two or zero: a shift, never a multiply
        mag = np.abs(mult[mult != 0])
        assert np.all(mag & (mag - 1) == 0)


def test_values_follow_the_table():
    codes = np.array([[-3, -1, 0, 1, 2]])
    assert schemes.values(codes, [0], "exponential").tolist() == [[-0.25, -1, 0, 1, 0.5]]
    assert schemes.values(np.array([[-1, 0, 1]]), [-2], "ternary").tolist() == [[-0.25, 0, 0.25]]
    assert schemes.values(np.array([[-7, 3]]), [-3], "int4").tolist() == [[-0.875, 0.375]]


def test_code_ranges_and_bits():
    assert schemes.code_range("int4") == (-7, 7)
    assert schemes.code_range("exponential", 3) == (-3, 3)
    assert not schemes.legal_codes(np.array([0]), "binary").any()
    assert [schemes.code_bits(s, 3) for s in ["binary", "ternary", "exponential", "int8"]] == \
        [1, 2, 3, 8]


def test_encode_rejects_values_a_scheme_cannot_hold():
    with pytest.raises(schemes.NotRepresentable, match="is not a power of two"):
        schemes.encode(np.array([[0.3, 0.5]]), "ternary")
    with pytest.raises(schemes.NotRepresentable, match=r"is not \+-2\*\*-1"):
        schemes.encode(np.array([[0.25, 0.5]]), "ternary")
    with pytest.raises(schemes.NotRepresentable, match="does not fit exponential"):
        schemes.encode(np.array([[1.0, 2.0**-5]]), "exponential", 2)
    with pytest.raises(schemes.NotRepresentable, match="does not fit int4"):
        schemes.encode(np.array([[1.0, 2.0**-5]]), "int4")
