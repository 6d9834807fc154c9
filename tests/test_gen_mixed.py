"""Mixed precision (issue 29) in amaranth.sim, bit for bit against the reference model: the
layers on the shift-and-add lanes, an intN head on its own multiplier engine (beside the next
step's layers when every step emits), a one-hot input's matrix (any scheme) looked up; random
idle input cycles and output backpressure, then the published cycles measured."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from test_gen_top import GATE_ROWS, check_against_reference, check_timing

from hw.gen.simulate import simulate
from hw.gen.topplan import TopPlan
from hw.random_model import extreme_inputs, random_inputs, random_model

CELLS = ("rnn", "gru", "lstm")
# (units a group, columns, order) of the layers; (units a group, columns) of the head engine
STYLES = (((1, 2, "rows"), (1, 1)), ((2, 4, "columns"), (1, 2)), ((2, 4, "rows"), (3, 4)))


def _model(cell, onehot, emit, in_scheme, seed, layers=1):
    return random_model(cell=cell, scheme="ternary", input_size=6 if onehot else 3,
                        hidden_size=5, num_layers=layers, outputs=4, emit=emit,
                        onehot=onehot, input_scheme=in_scheme, head_scheme="int8", seed=seed,
                        levels=3)


@pytest.mark.parametrize("cell,onehot,emit,style", list(itertools.product(
    CELLS, (True, False), ("every", "last"), STYLES)))
def test_mixed_models_are_exact_and_take_their_published_cycles(cell, onehot, emit, style):
    seed = zlib.crc32(repr((cell, onehot, emit, style)).encode()) % 10_000
    (k, S, order), (hk, hS) = style
    # a one-hot input's matrix in int8 (looked up: no multiplier); else the input matrix
    # shifts too and only the head multiplies
    model = _model(cell, onehot, emit, "int8" if onehot else None, seed,
                   layers=1 + seed % 2)
    G = GATE_ROWS[cell]
    top = TopPlan.of(model, parallel=k * G, simd=S, order=order, head=(hk * G, hS)).create()
    assert top.head_engine is not None and not top.plan.lanes.multiply
    assert top.resources["multipliers"] == top.head_engine.plan.lanes * top.head_engine.plan.simd
    rng = np.random.default_rng(seed)
    seqs = [random_inputs(rng, model, (int(rng.integers(2, 6)),)) for _ in range(3)]
    seqs += list(extreme_inputs(model, 3)[:2])
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.3, stall=0.3, seed=seed))
    timed = seqs[:3]
    trace = simulate(top, timed, seed=seed)
    check_against_reference(top, timed, trace)
    check_timing(top, timed, trace)


def test_the_head_runs_beside_the_next_steps_layers():
    """With an output every step, a step costs the larger of the layers' time and the
    head's period (its issue, its pipeline, the argmax and the output beat), not their sum."""
    m = random_model(cell="gru", scheme="ternary", input_size=20, hidden_size=24, outputs=30,
                     emit="every", onehot=True, input_scheme="int8", head_scheme="int8")
    for head in ((3, 1), (24, 4)):
        tp = TopPlan.of(m, parallel=3, simd=4, head=head)
        tl = tp.timeline
        layers = 1 + tl.layer_cycles + 1
        assert tp.cycles_per_step == max(layers, tl.head_period) < tp.latency
        assert tp.cycles_per_step < layers + tl.head_period - 2
    slow, fast = (TopPlan.of(m, parallel=3, simd=4, head=h) for h in ((3, 1), (24, 4)))
    assert slow.cycles_per_step == slow.timeline.head_period  # the head engine sets the pace
    assert fast.cycles_per_step == 1 + fast.timeline.layer_cycles + 1  # the layers do


def test_head_engines_are_for_mixed_models_only():
    m = random_model(cell="gru", scheme="ternary", input_size=3, hidden_size=4, outputs=2)
    with pytest.raises(ValueError, match="a head engine of its own is for a model whose head "
                                         "alone needs multipliers"):
        TopPlan.of(m, parallel=3, head=(3, 1))
    mixed = _model("gru", False, "every", None, 1)
    with pytest.raises(ValueError, match=r"head engine's columns \(4\) may not exceed the "
                                         r"layers' \(2\)"):
        TopPlan.of(mixed, parallel=3, simd=2, head=(3, 4))
    # an intN layer matrix the lanes walk: every pass on the multiplying lanes, as before
    walked = _model("gru", False, "every", "int8", 1)
    assert TopPlan.of(walked, parallel=3).head_lanes is None
