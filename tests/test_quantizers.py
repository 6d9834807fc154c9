"""Properties of train/quantizers.py and the straight-through estimator (train/ste.py)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hw import schemes
from hw.modelfile import Matrix, from_dict
from hw.numerics import Fixed
from hw.random_model import random_model
from train import quantizers as Q
from train.ste import integers, round_to, saturate_real, straight, to_format

weights = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 9)),
                 elements=st.floats(-3, 3, allow_subnormal=False))


def _codes(w, quant, exp=-2, levels=5, stochastic=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Q.quantize(torch.from_numpy(w), quant, exp=exp, levels=levels, stochastic=stochastic,
                      generator=g)


@settings(max_examples=60, deadline=None)
@given(w=weights, quant=st.sampled_from(Q.QUANTIZERS), exp=st.integers(-6, 1),
       levels=st.integers(1, 15), stochastic=st.booleans(), seed=st.integers(0, 2**16))
def test_every_code_is_legal_and_loads_in_a_model_file(w, quant, exp, levels, stochastic, seed):
    codes, scale = _codes(w, quant, exp, levels, stochastic, seed)
    scheme = Q.scheme_of(quant)
    c, s = codes.numpy(), scale.numpy()
    assert c.shape == w.shape and s.shape == (w.shape[0],)
    assert schemes.legal_codes(c, scheme, levels).all()
    assert (np.abs(s) <= 40).all()
    if scheme in schemes.PER_MATRIX_SCALE:
        assert (s == exp).all()
    # the model file accepts the matrix (one level per matrix for binary/ternary, ...)
    m = random_model(cell="rnn", scheme=scheme if scheme != "int16" else "int8",
                     input_size=w.shape[1], hidden_size=w.shape[0], outputs=None)
    d = m.as_dict()
    lv = levels if scheme == "exponential" else 1
    d["layers"][0]["w_ih"] = Matrix(scheme, c, s, lv).as_dict()
    from_dict(d)


@settings(max_examples=40, deadline=None)
@given(w=weights, quant=st.sampled_from(Q.QUANTIZERS), levels=st.integers(1, 15))
def test_values_are_exactly_the_model_file_values(w, quant, levels):
    codes, scale = _codes(w, quant, levels=levels)
    scheme = Q.scheme_of(quant)
    ours = Q.values(codes, scale, scheme).numpy()
    assert np.array_equal(ours, schemes.values(codes.numpy(), scale.numpy(), scheme))


@settings(max_examples=40, deadline=None)
@given(w=weights, exp=st.integers(-4, 1))
def test_deterministic_binary_and_ternary_thresholds(w, exp):
    level = 2.0**exp
    b, _ = _codes(w, "binary", exp)
    assert np.array_equal(b.numpy(), np.where(w >= 0, 1, -1))
    t, _ = _codes(w, "ternary", exp)
    assert np.array_equal(t.numpy(), np.sign(w) * (np.abs(w) > level / 2))


@settings(max_examples=40, deadline=None)
@given(w=weights)
def test_pow2_ternary_level_is_the_power_of_two_nearest_the_row_mean(w):
    codes, scale = _codes(w, "pow2-ternary")
    for r in range(w.shape[0]):
        mean = np.abs(w[r]).mean()
        if mean > 2.0**-39:
            assert scale[r] == round(math.log2(mean))
        level = 2.0 ** int(scale[r])
        assert np.array_equal(codes[r].numpy(), np.sign(w[r]) * (np.abs(w[r]) > level / 2))


@settings(max_examples=40, deadline=None)
@given(w=weights, levels=st.integers(1, 15))
def test_exponential_rounds_log2_within_the_row_range(w, levels):
    codes, scale = _codes(w, "exponential", levels=levels)
    v = Q.values(codes, scale, "exponential").numpy()
    for r in range(w.shape[0]):
        a = np.abs(w[r])
        if a.max() < 2.0**-39:
            continue
        top = int(scale[r])
        assert top == round(math.log2(a.max()))
        for j in np.flatnonzero(a > 0):
            e = round(math.log2(a[j]))
            want = 0.0 if e < top - levels + 1 else np.sign(w[r, j]) * 2.0 ** min(e, top)
            assert v[r, j] == want


@settings(max_examples=40, deadline=None)
@given(w=weights, quant=st.sampled_from(["int4", "int8", "float"]))
@example(w=np.array([[1e-9]]), quant="float")  # hypothesis found it: below 2**-40 * qmax
@example(w=np.array([[0.0, 0.0]]), quant="int8")
def test_intn_rounds_to_the_nearest_step_of_the_smallest_scale_that_fits(w, quant):
    bits = 16 if quant == "float" else int(quant[3:])
    codes, scale = _codes(w, quant)
    v = Q.values(codes, scale, Q.scheme_of(quant)).numpy()
    qmax = 2 ** (bits - 1) - 1
    for r in range(w.shape[0]):
        step = 2.0 ** int(scale[r])
        top = np.abs(w[r]).max()
        if top > qmax * 2.0**Q.MIN_EXP:  # the smallest scale that fits is in the file's range
            assert top <= qmax * step < 2 * top
        else:  # a tinier row (1e-9 with 16 bits) takes the model file's smallest scale
            assert int(scale[r]) == Q.MIN_EXP
        assert (np.abs(v[r] - w[r]) <= step / 2).all()


def _mean_and_bound(w, quant, exp, levels=4, n=20000):
    """Sample n stochastic quantizations of the row w: their mean and a 5-sigma bound."""
    big = torch.from_numpy(np.tile(w, (n, 1)))
    g = torch.Generator().manual_seed(1234)
    codes, scale = Q.quantize(big, quant, exp=exp, levels=levels, stochastic=True, generator=g)
    v = Q.values(codes, scale, Q.scheme_of(quant)).numpy().reshape(n, -1)
    return v.mean(axis=0), 5 * v.std(axis=0) / math.sqrt(n) + 1e-12


@pytest.mark.parametrize("quant", ["binary-stoch", "ternary-stoch"])
def test_stochastic_binary_and_ternary_are_unbiased(quant):
    exp = -1
    w = np.linspace(-0.5, 0.5, 23)  # inside [-level, level], where the shadow weights live
    mean, bound = _mean_and_bound(w[None, :], quant, exp)
    assert (np.abs(mean - w) <= bound).all()
    assert not np.array_equal(mean, np.round(mean))  # it did sample


def test_stochastic_exponential_is_unbiased_below_the_top_level():
    # one row; its largest weight 1.0 sets the top level, so E[q(w)] = w for every |w| <= 1
    # (levels 3: 1, 1/2, 1/4; below 1/4 between 0 and 1/4)
    w = np.concatenate([np.linspace(-1, 1, 31), [0.03, -0.07, 0.3, 0.77]])
    n = 20000
    rows = torch.from_numpy(np.tile(w, (n, 1)))
    g = torch.Generator().manual_seed(99)
    codes, scale = Q.quantize(rows, "exponential-stoch", levels=3, stochastic=True, generator=g)
    assert (scale == 0).all()
    v = Q.values(codes, scale, "exponential").numpy()
    mean, bound = v.mean(axis=0), 5 * v.std(axis=0) / math.sqrt(n) + 1e-12
    assert (np.abs(mean - w) <= bound).all()


@pytest.mark.parametrize("quant", ["binary-stoch", "ternary-stoch", "exponential-stoch"])
def test_stochastic_quantizers_are_deterministic_outside_training(quant):
    w = np.random.default_rng(0).uniform(-0.6, 0.6, (8, 8))
    a = _codes(w, quant, exp=-1, stochastic=False, seed=1)
    b = _codes(w, quant, exp=-1, stochastic=False, seed=2)
    det = _codes(w, quant.removesuffix("-stoch"), exp=-1)
    assert all(torch.equal(x, y) and torch.equal(x, z) for x, y, z in zip(a, b, det, strict=True))
    s1 = _codes(w, quant, exp=-1, stochastic=True, seed=1)
    s2 = _codes(w, quant, exp=-1, stochastic=True, seed=2)
    assert not torch.equal(s1[0], s2[0])


def _fitted(a: np.ndarray, scheme: str) -> int:
    """The fitted level's exponent of |w| values a, written out in numpy."""
    if scheme == "binary":
        alpha = a.mean()
    else:
        kept = a[a > 0.7 * a.mean()]
        alpha = kept.mean() if kept.size else 0.0
    return min(max(round(math.log2(alpha)), -40), 40) if alpha > 2.0**-41 else -40


@settings(max_examples=40, deadline=None)
@given(w=weights, quant=st.sampled_from(["binary", "ternary", "pow2-ternary", "binary-stoch",
                                         "ternary-stoch"]))
def test_fit_rule_levels_fit_the_weights_and_keep_the_thresholds(w, quant):
    g = torch.Generator().manual_seed(0)
    codes, scale = Q.quantize(torch.from_numpy(w), quant, exp=-3, rule="fit", generator=g)
    scheme = Q.scheme_of(quant)
    a = np.abs(w)
    if scheme == "pow2-ternary":
        want = [_fitted(a[r], scheme) for r in range(len(w))]
    else:  # one level for the whole matrix, fitted to all of it (exp=-3 is ignored)
        want = [_fitted(a, scheme)] * len(w)
    assert scale.tolist() == want
    level = 2.0 ** np.array(want, dtype=np.float64)[:, None]
    if scheme == "binary":
        assert np.array_equal(codes.numpy(), np.where(w >= 0, 1, -1))
    else:
        assert np.array_equal(codes.numpy(), np.sign(w) * (a > level / 2))


def test_fit_rule_clips_at_four_times_the_glorot_level():
    for quant in ("binary", "ternary-stoch", "pow2-ternary"):
        assert Q.clip_bound(quant, -2, "fit") == 1.0 and Q.clip_bound(quant, -2) <= 0.5
    assert Q.clip_bound("exponential", -2, "fit") == Q.clip_bound("exponential", -2) == 0.5
    assert Q.clip_bound("float", -2, "fit") is None
    with pytest.raises(ValueError, match="level rule 'best' is unknown; rules are glorot, fit"):
        Q.quantize(torch.zeros(2, 2), "ternary", rule="best")


def test_shadow_clip_moves_only_the_pow2_ternary_and_exponential_bound():
    for quant in ("pow2-ternary", "exponential", "exponential-stoch"):
        assert Q.clip_bound(quant, -2) == 0.5  # default: twice the Glorot level 2**-2
        assert Q.clip_bound(quant, -2, octaves=4) == 4.0
        assert Q.clip_bound(quant, -2, octaves=0) == 0.25
    for quant in ("binary", "ternary", "ternary-stoch"):  # clipped at their level, always
        assert Q.clip_bound(quant, -2, octaves=4) == Q.clip_bound(quant, -2) == 0.25
    for quant in ("int8", "float"):  # not clipped
        assert Q.clip_bound(quant, -2, octaves=4) is None


def test_glorot_exponent():
    assert Q.glorot_exponent(8, 32) == round(math.log2(math.sqrt(6 / 40)))  # 0.387 -> 2**-1
    assert Q.glorot_exponent(32, 32) == -2  # 0.306 -> 2**-2 (log2 -1.71)
    assert Q.glorot_exponent(128, 128) == -3  # 0.153 -> 2**-3 (log2 -2.71)


def test_unknown_quantizer_is_named():
    with pytest.raises(ValueError, match="quantizer 'ternery' is unknown"):
        Q.scheme_of("ternery")


@settings(max_examples=30, deadline=None)
@given(w=weights, quant=st.sampled_from(Q.QUANTIZERS))
def test_straight_through_passes_the_gradient_unchanged(w, quant):
    shadow = torch.from_numpy(w).requires_grad_()
    codes, scale = Q.quantize(shadow, quant, exp=-1)
    q = straight(shadow, Q.values(codes, scale, Q.scheme_of(quant)))
    upstream = torch.arange(w.size, dtype=torch.float64).reshape(w.shape) - 3
    (q * upstream).sum().backward()
    assert torch.equal(shadow.grad, upstream)
    assert torch.equal(q.detach(), Q.values(codes, scale, Q.scheme_of(quant)))


@settings(max_examples=50, deadline=None)
@given(v=st.integers(-(2**20), 2**20), frac_in=st.integers(0, 14), frac=st.integers(0, 10))
def test_round_to_is_shift_round_and_passes_gradients(v, frac_in, frac):
    from hw.numerics import shift_round

    x = torch.tensor([v / 2.0**frac_in], dtype=torch.float64, requires_grad=True)
    y = round_to(x, frac)
    assert y.item() * 2**frac == int(shift_round(np.int64(v), frac_in - frac))
    y.sum().backward()
    assert x.grad.item() == 1.0
    fmt = Fixed(12, frac)
    s = saturate_real(x, fmt)
    assert s.item() == min(max(x.item(), fmt.min / fmt.one), fmt.max / fmt.one)


def _as_integers(y: torch.Tensor, frac: int) -> np.ndarray:
    """The integers that the reals y of `frac` fraction bits stand for, checked to be on-grid."""
    q = y.detach() * 2.0**frac
    assert torch.equal(q, torch.floor(q)), "off the grid of the format"
    return q.long().numpy()


@pytest.mark.parametrize("bits", [3, 4, 5])
@pytest.mark.parametrize("frac", [0, 1, 2, 3])
@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_torch_rounding_and_saturation_are_hw_numerics_exhaustively(bits, frac, shift):
    """train.ste restates shift_round and saturate in torch; on every integer of a format two
    bits wider than `bits` (so both saturation ends are hit) and `shift` more fraction bits, the
    torch results are exactly hw.numerics' integers."""
    from hw.numerics import saturate, shift_round

    fmt = Fixed(bits, frac)
    wide = 1 << (bits + shift + 1)
    v = np.arange(-wide, wide, dtype=np.int64)
    x = torch.from_numpy(v).to(torch.float64) / 2.0**(frac + shift)
    rounded = shift_round(v, shift)
    want = saturate(rounded, bits)
    assert (want == fmt.min).any() and (want == fmt.max).any() and (want != rounded).any()
    assert np.array_equal(_as_integers(round_to(x, frac), frac), rounded)
    assert np.array_equal(_as_integers(saturate_real(round_to(x, frac), fmt), frac), want)
    assert np.array_equal(_as_integers(to_format(x, fmt), frac), want)
    assert np.array_equal(integers(to_format(x, fmt), fmt).numpy(), want)


@pytest.mark.parametrize("fa,fb,fo", [(fa, fb, fo) for fa in range(4) for fb in range(4)
                                      for fo in range(4)])
def test_torch_gate_product_is_mul_round_exhaustively(fa, fb, fo):
    """train/cells.py's product of two activations, round_to(a * b, fo), against
    hw.numerics.mul_round on every pair of 4-bit integers."""
    from hw.numerics import mul_round

    a, b = np.meshgrid(np.arange(-8, 8, dtype=np.int64), np.arange(-8, 8, dtype=np.int64))
    ta = torch.from_numpy(a).to(torch.float64) / 2.0**fa
    tb = torch.from_numpy(b).to(torch.float64) / 2.0**fb
    got = _as_integers(round_to(ta * tb, fo), fo)
    assert np.array_equal(got, mul_round(a, b, fa, fb, fo))
