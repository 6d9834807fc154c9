"""The integer reference model: worst-case widths, float agreement, gate order, hand cases."""

import numpy as np
import pytest

from hw.modelfile import Head, Layer, Matrix
from hw.numerics import Formats, activate, activation_real
from hw.random_model import random_inputs, random_model
from hw.reference import (
    Reference,
    accumulator_range,
    accumulator_widths,
    matvec,
    preact,
    width_for,
)

SCHEMES = ["binary", "ternary", "pow2-ternary", "exponential", "int4", "int8"]
CELLS = ["rnn", "gru", "lstm"]


def fits(v: int, w: int) -> bool:
    return -(1 << (w - 1)) <= v <= (1 << (w - 1)) - 1


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cell", CELLS)
def test_worst_case_input_reaches_exactly_the_derived_width(cell, scheme):
    m = random_model(cell=cell, scheme=scheme, input_size=5, hidden_size=6, num_layers=2, seed=7)
    widths = accumulator_widths(m)
    f = m.formats
    for i, ly in enumerate(m.layers):
        fin = f.input if i == 0 else f.state
        for mat, fv, w in ((ly.w_ih, fin, widths[i].ih), (ly.w_hh, f.state, widths[i].hh)):
            mult = mat.multipliers()[0].tolist()  # Python ints: unbounded arithmetic
            lo, hi = accumulator_range(mat, fv)
            best_lo = best_hi = 0
            for r, row in enumerate(mult):
                up = [fv.max if c > 0 else fv.min for c in row]
                down = [fv.min if c > 0 else fv.max for c in row]
                s_hi = sum(c * x for c, x in zip(row, up, strict=True))
                s_lo = sum(c * x for c, x in zip(row, down, strict=True))
                assert (s_lo, s_hi) == (lo[r], hi[r])
                # and no other input goes beyond them
                rng = np.random.default_rng(r)
                for x in rng.integers(fv.min, fv.max + 1, (50, len(row))).tolist():
                    assert s_lo <= sum(c * v for c, v in zip(row, x, strict=False)) <= s_hi
                best_lo, best_hi = min(best_lo, s_lo), max(best_hi, s_hi)
            assert fits(best_lo, w) and fits(best_hi, w)
            assert not (fits(best_lo, w - 1) and fits(best_hi, w - 1)), "width is not tight"
        assert widths[i].sum >= max(widths[i].ih, widths[i].hh)


def test_width_for_is_the_smallest_twos_complement_width():
    assert width_for(-128, 127) == 8
    assert width_for(-129, 0) == 9
    assert width_for(0, 128) == 9
    assert width_for(0, 0) == 1


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("cell", CELLS)
def test_gates_agree_with_float_within_the_rounding_bound(cell, scheme):
    """Per pre-activation |int - real| <= 2**-(preact.frac+1) (before saturation), per
    activation <= slope_max * 2**-(preact.frac+1) + 2**-(state.frac+1) (docs/numerics.md)."""
    m = random_model(cell=cell, scheme=scheme, input_size=4, hidden_size=5, seed=11)
    rng = np.random.default_rng(0)
    fx, fs, fp = m.formats.input, m.formats.state, m.formats.preact
    x = random_inputs(rng, m, (64,))
    h = rng.integers(-fs.one, fs.one + 1, (64, m.hidden_size))
    ly = m.layers[0]
    pre_int = preact([matvec(ly.w_ih, x, fx), matvec(ly.w_hh, h, fs)], ly.b_ih + ly.b_hh, fp)
    pre_real = (fx.to_real(x) @ ly.w_ih.values().T + fs.to_real(h) @ ly.w_hh.values().T
                + fp.to_real(ly.b_ih + ly.b_hh))
    inside = (pre_real > fp.min / fp.one) & (pre_real < fp.max / fp.one)
    err = np.abs(fp.to_real(pre_int) - pre_real)
    assert inside.mean() > 0.5
    assert err[inside].max() <= 2.0 ** -(fp.frac + 1)
    for func, slope in (("sigmoid", 0.25), ("tanh", 1.0)):
        y = fs.to_real(activate(func, m.activation, pre_int, fp, fs))
        want = activation_real(func, m.activation, pre_real)
        bound = slope * 2.0 ** -(fp.frac + 1) + 2.0 ** -(fs.frac + 1)
        assert np.abs(y - want)[inside].max() <= bound


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rnn_step_agrees_with_float_within_the_bound(scheme):
    m = random_model(cell="rnn", scheme=scheme, input_size=4, hidden_size=6, seed=12)
    ref, rng = Reference(m), np.random.default_rng(1)
    fx, fs, fp = m.formats.input, m.formats.state, m.formats.preact
    x = random_inputs(rng, m, (200,))
    h = rng.integers(-fs.one, fs.one + 1, (200, m.hidden_size))
    got, _ = ref.layer_step(0, h, None, x)
    ly = m.layers[0]
    pre = (fx.to_real(x) @ ly.w_ih.values().T + fs.to_real(h) @ ly.w_hh.values().T
           + fp.to_real(ly.b_ih + ly.b_hh))
    want = activation_real("tanh", m.activation, np.clip(pre, fp.min / fp.one, fp.max / fp.one))
    assert np.abs(fs.to_real(got) - want).max() <= 2.0 ** -(fp.frac + 1) + 2.0 ** -(fs.frac + 1)


def tiny(cell, w_ih, w_hh, b_ih, b_hh, activation="hard"):
    """A one-unit, one-input model with ternary weights of level 1/2."""
    def mat(codes):
        return Matrix("ternary", np.array(codes, dtype=np.int64).reshape(-1, 1),
                      np.full(len(codes), -1, dtype=np.int64))
    m = random_model(cell=cell, input_size=1, hidden_size=1, outputs=None, activation=activation)
    m.layers = [Layer(mat(w_ih), mat(w_hh), np.array(b_ih), np.array(b_hh))]
    return m


def test_gru_hand_computed_step():
    # x = 1.0, h = 0.5; r = hsig(0.5) = 0.625, z = hsig(-0.25) = 0.4375,
    # n = htanh(0.5 + 0.125 + r * (0.25 + 0.25)) = 0.9375, h' = n + z (h - n) = 0.74609375.
    m = tiny("gru", [1, -1, 1], [0, 1, 1], [0, 0, 16], [0, 0, 32])
    h, _ = Reference(m).layer_step(0, np.array([128]), None, np.array([64]))
    assert h.tolist() == [191]  # 0.74609375 * 256
    # the gate values above, from the project's activations (preact Q12.7 -> state Q10.8)
    fp, fs = m.formats.preact, m.formats.state
    gates = activate("sigmoid", "hard", np.array([64, -32]), fp, fs)  # 0.5, -0.25
    assert gates.tolist() == [160, 112]  # r = 0.625, z = 0.4375
    assert activate("tanh", "hard", np.array([120]), fp, fs).tolist() == [240]  # n = 0.9375


def test_lstm_hand_computed_sequence():
    # gates i, f, g, o: i = hsig(0.5) = 0.625, f = hsig(0) = 0.5, g = htanh(0.5) = 0.5,
    # o = hsig(-0.5 + 1) = 0.625. c1 = 0.3125, h1 = o * c1 = 0.1953125 (50/256);
    # c2 = f c1 + i g = 0.46875, h2 = o * htanh(c2) = 0.29296875 (75/256).
    m = tiny("lstm", [1, 0, 1, -1], [0, 0, 0, 0], [0, 0, 0, 128], [0, 0, 0, 0])
    h = Reference(m).run(np.array([[64], [64]]))
    assert h[:, 0].tolist() == [50, 75]


def test_gru_update_gate_keeps_or_replaces_the_state():
    m = random_model(cell="gru", input_size=3, hidden_size=4, outputs=None, seed=2)
    ref, fp = Reference(m), m.formats.preact
    H = m.hidden_size
    h0 = np.array([100, -50, 7, 0])
    x = random_inputs(np.random.default_rng(3), m, ())
    ly = m.layers[0]
    ly.b_ih[H:2 * H], ly.b_hh[H:2 * H] = fp.max, 0  # z saturates at 1: h' = h
    assert ref.layer_step(0, h0, None, x)[0].tolist() == h0.tolist()
    ly.b_ih[H:2 * H] = fp.min  # z = 0: h' = n = tanh(a_in + r * a_hn), rows 2H..3H
    fx, fs = m.formats.input, m.formats.state
    tx, th = matvec(ly.w_ih, x, fx), matvec(ly.w_hh, h0, fs)
    rows = slice(2 * H, 3 * H)
    a_in = preact([type(tx)(tx.acc[rows], tx.frac)], ly.b_ih[rows], fp)
    a_hn = preact([type(th)(th.acc[rows], th.frac)], ly.b_hh[rows], fp)
    r = activate("sigmoid", m.activation, preact(
        [type(tx)(tx.acc[:H], tx.frac), type(th)(th.acc[:H], th.frac)],
        ly.b_ih[:H] + ly.b_hh[:H], fp), fp, fs)
    n_pre = np.clip(a_in + ((r * a_hn + (1 << (fs.frac - 1))) >> fs.frac), fp.min, fp.max)
    n = activate("tanh", m.activation, n_pre, fp, fs)
    assert ref.layer_step(0, h0, None, x)[0].tolist() == n.tolist()


def test_lstm_forget_gate_order():
    m = random_model(cell="lstm", input_size=2, hidden_size=3, outputs=None, seed=4)
    ref, fp, H = Reference(m), m.formats.preact, 3
    ly = m.layers[0]
    ly.w_ih.codes[:] = 0
    ly.w_hh.codes[:] = 0
    ly.b_hh[:] = 0
    ly.b_ih[:] = 0
    ly.b_ih[0:H] = fp.min  # i = 0: nothing new enters
    ly.b_ih[H:2 * H] = fp.max  # f = 1: the cell keeps its value
    ly.b_ih[3 * H:] = fp.max  # o = 1
    c = np.array([200, -100, 40])
    h, c2 = ref.layer_step(0, np.zeros(3, dtype=np.int64), c, np.zeros(2, dtype=np.int64))
    assert c2.tolist() == c.tolist()
    fc, fs = m.formats.cell, m.formats.state
    tanh_c = activate("tanh", m.activation, (c + 1) >> (fc.frac - fp.frac), fp, fs)
    assert h.tolist() == tanh_c.tolist()


def test_run_is_step_by_step_and_batched():
    m = random_model(cell="lstm", scheme="exponential", num_layers=2, seed=9)
    ref, rng = Reference(m), np.random.default_rng(5)
    xs = random_inputs(rng, m, (3, 7))
    batch = ref.run(xs)
    for n in range(3):
        state = ref.initial_state()
        for t in range(7):
            state, h = ref.step(state, xs[n, t])
            assert h.tolist() == batch[n, t].tolist()


def test_head_and_predict():
    m = random_model(cell="gru", seed=10, outputs=3)
    ref, rng = Reference(m), np.random.default_rng(6)
    xs = random_inputs(rng, m, (5,))
    hidden = ref.run(xs)
    assert hidden.shape == (5, m.hidden_size)
    logits = ref.head(hidden)
    assert logits.shape == (5, 3)
    fo = m.formats.output
    assert fo.min <= logits.min() and logits.max() <= fo.max
    m.head = Head(m.head.weight, m.head.bias)
    assert ref.predict(xs[None])[0] == int(np.argmax(logits[-1]))


def test_formats_of_the_default_model_are_the_documented_ones():
    assert Formats().pairs() == {
        "input": (8, 6), "state": (10, 8), "preact": (12, 7), "cell": (14, 8), "output": (16, 8)}
