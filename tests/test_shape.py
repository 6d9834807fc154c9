"""A reloadable design's shape (hw/gen/shape.py) and plans made against it (hw.gen.lanes
with `shape=`): what fits, what is refused and why, and that the fixed plan is untouched."""

import dataclasses

import numpy as np
import pytest

from hw.gen.lanes import make_lane_plan
from hw.gen.loadport import ShapeMismatch
from hw.gen.plan import make_passes, realign, uses_multipliers
from hw.gen.shape import SHAPE_MARGIN, check_structure, fit_passes, lane_shape, structure
from hw.random_model import random_model

KW = dict(cell="gru", input_size=5, hidden_size=6)
CASES = {  # name: random_model arguments
    "ternary": dict(scheme="ternary"),
    "exponential": dict(scheme="exponential"),
    "int8": dict(scheme="int8"),
    "binary": dict(scheme="binary"),
    "onehot-int8-input": dict(scheme="pow2-ternary", onehot=True, input_scheme="int8"),
}


def shaped(model, shape, **kw):
    ps = make_passes(model)
    return make_lane_plan(fit_passes(ps, shape), lanes=3, simd=2, finalizers=3,
                          multiply=uses_multipliers(ps), shape=shape, **kw)


def shape_of(model):
    ps = make_passes(model)
    return lane_shape(model, list(range(len(ps))), ps, uses_multipliers(ps))


def rescaled(model, seed, d):
    """A model of the same structure with every scale moved by d, other codes and biases (or
    with seed None, the same ones)."""
    b = random_model(seed=seed or 0, **KW, **CASES[model.meta["case"]])
    for (_, mb), (_, ma) in zip(b.matrices(), model.matrices(), strict=True):
        mb.scale[:] = ma.scale + d
        if seed is None:
            mb.codes[:] = ma.codes
    return b


def model_of(case, seed=1):
    m = random_model(seed=seed, **KW, **CASES[case])
    m.meta["case"] = case
    return m


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_shape_holds_its_own_model_and_others_of_nearby_scales(case):
    a = model_of(case)
    sh = shape_of(a)
    ps = make_passes(a)
    fixed = make_lane_plan(ps, lanes=3, simd=2, finalizers=3, multiply=uses_multipliers(ps))
    mine = shaped(a, sh)
    # the same folding, walk and memory depths; the widths at least the weights' own
    assert [dataclasses.replace(x, extra=0, shift=0) for x in mine.layouts] == \
        [dataclasses.replace(x, extra=0, shift=0) for x in fixed.layouts]
    assert [d for _, d in mine.memories()] == [d for _, d in fixed.memories()]
    assert mine.acc_bits >= fixed.acc_bits
    assert (mine.ua_values, mine.ub_values) == (sh.ua_values, sh.ub_values)
    # one scale a matrix (binary, ternary): F' and the shifts are the model's; row scales:
    # F' a margin finer
    per_matrix = case in ("binary", "ternary")
    assert [p.frac + lay.extra for p, lay in zip(ps, fixed.layouts, strict=True)] == \
        [f - (0 if per_matrix else SHAPE_MARGIN) for f in sh.fracs]
    # other weights at the same scales, and (row scales) these weights at scales up to the
    # margin apart
    span = range(0, 1) if per_matrix else range(-SHAPE_MARGIN, SHAPE_MARGIN + 1)
    for seed, d in [(2, 0), (3, 0)] + [(None, d) for d in span]:
        plan = shaped(rescaled(a, seed, d), sh)
        assert (plan.acc_bits, plan.sum_bits, plan.ua_values, plan.ub_values) == (
            sh.acc_bits, sh.sum_bits, sh.ua_values, sh.ub_values)


def test_finer_scales_than_the_margin_are_refused_naming_the_pass():
    a = model_of("int8")
    sh = shape_of(a)
    with pytest.raises(ShapeMismatch, match=r"^layer0 needs a fraction of \d+ bits, finer than "
                                            r"the shape's \d+"):
        shaped(rescaled(a, 2, -SHAPE_MARGIN - 1), sh)


def test_other_scales_than_the_shifts_are_refused_naming_the_row():
    a = model_of("ternary")
    sh = shape_of(a)
    assert len(sh.ua_values) == len(sh.ub_values) == 1  # the trainer's one level a matrix
    with pytest.raises(ShapeMismatch, match=r"^(layer0|head) row \d+ needs its (first|second) "
                                            r"half shifted by \d+ bits; the shape's finalizers "
                                            r"shift it by \d+ to \d+ \(a row scale coarser"):
        shaped(rescaled(a, 2, 1), sh)
    e = model_of("exponential")
    sh = shape_of(e)
    assert 2 <= len(sh.ub_values) <= 4 or len(sh.ub_values) >= 8  # a select, or a barrel
    with pytest.raises(ShapeMismatch, match=r"a row scale (coarser|finer) than the shape"):
        shaped(rescaled(e, None, 9), sh)


def test_structure_differences_are_named():
    a = model_of("ternary")
    check_structure(rescaled(a, 3, 1), structure(a))
    with pytest.raises(ShapeMismatch, match=r"the model's hidden_size is 7, the shape's 6"):
        check_structure(random_model(seed=1, scheme="ternary", **(KW | {"hidden_size": 7})),
                        structure(a))
    with pytest.raises(ShapeMismatch, match=r'the model\'s matrices.head.weight is '
                                            r'\{"levels":1,"scheme":"int8"\}, the shape\'s '
                                            r'\{"levels":1,"scheme":"ternary"\}'):
        check_structure(random_model(seed=1, scheme="ternary", head_scheme="int8", **KW),
                        structure(a))


def test_realign_is_exact_and_refuses_coarser():
    p = make_passes(model_of("int8"))[0]
    q = realign(p, p.frac + 3)
    assert all(m2 == m << 3 for r, r2 in zip(p.rows, q.rows, strict=True)
               for m, m2 in zip(r.mults, r2.mults, strict=True))
    assert q.shift == p.shift + 3 and q.acc_bits == p.acc_bits + 3
    with pytest.raises(ValueError, match=r"cannot be aligned to fraction"):
        realign(p, p.frac - 1)
    assert np.array_equal([r.bias for r in q.rows], [r.bias << 3 for r in p.rows])
