"""hw/beats.py (expected output beats, the comparison) and the task metric of hw/metrics.py."""

import numpy as np
import pytest

from hw import metrics
from hw.beats import Beats, describe, differences, expected, reference_outputs
from hw.errors import UserError
from hw.numerics import Fixed
from hw.random_model import random_inputs, random_model
from hw.reference import Reference


def model_for(emit):
    """The 2-layer LSTM both beat suites use: with a head of 3 unless `emit` is "hidden"."""
    return random_model(cell="lstm", scheme="exponential", input_size=3, hidden_size=4,
                        num_layers=2, emit=emit, seed=11)


@pytest.mark.parametrize("emit", ["hidden", "last", "every"])
def test_batched_beats_are_each_sequence_run_alone(emit):
    """One padded batch (sequences of 1..9 steps and one of 30) gives each sequence the beats
    of the reference model run on that sequence alone."""
    model = model_for(emit)
    ref, rng = Reference(model), np.random.default_rng(1)
    seqs = [random_inputs(rng, model, (int(T),)) for T in (1, 4, 9, 30, 2)]
    for xs, b in zip(seqs, expected(ref, seqs, emit), strict=True):
        h = ref.run(xs)
        T = len(xs)
        want = {"hidden": h, "every": None, "last": None}[emit]
        if emit != "hidden":
            want = ref.head(h if emit == "every" else h[-1:])
        assert np.array_equal(b.data, want)
        if emit == "hidden":
            assert b.argmax is None
        else:
            assert b.argmax.tolist() == [int(np.argmax(row)) for row in want]
        steps = [T - 1] if emit == "last" else list(range(T))
        assert b.steps.tolist() == steps
        assert b.last.tolist() == [0] * (len(steps) - 1) + [1]


def test_unclosed_sequences_have_no_last_beat():
    model = model_for("every")
    x = random_inputs(np.random.default_rng(0), model, (4,))
    cut, = expected(Reference(model), [x], "every", closed=[False])
    assert cut.last.tolist() == [0, 0, 0, 0]
    none, = expected(Reference(model), [x], "last", closed=[False])
    assert len(none.data) == 0 and len(none.steps) == 0
    with pytest.raises(ValueError, match="emit must be one of"):
        expected(Reference(model), [x], "all")


def test_reference_outputs_in_chunks_pick_each_last_step():
    model = model_for("last")
    ref, rng = Reference(model), np.random.default_rng(3)
    xs = random_inputs(rng, model, (7, 6))
    lengths = np.array([1, 6, 3, 2, 5, 6, 4])
    whole = reference_outputs(ref, xs, lengths, "last")
    assert np.array_equal(reference_outputs(ref, xs, lengths, "last", chunk=3), whole)
    for i, L in enumerate(lengths):
        assert whole[i].tolist() == ref.head(ref.run(xs[i, :L]))[-1].tolist()
    every = reference_outputs(ref, xs, lengths, "every", chunk=2, dtype=np.int32)
    assert every.dtype == np.int32 and np.array_equal(every, ref.head(ref.run(xs)))


def test_differences_name_every_unit_that_differs():
    b = Beats(np.array([[5, -3, 2]]), np.array([0]), np.array([1]), np.array([4]))
    assert differences(b, 0, [5, -3, 2], 0, 1) == []
    assert differences(b, 0, [5, -2, 1], 0, 1) == [("data[1]", -3, -2), ("data[2]", 2, 1)]
    assert differences(b, 0, [5, -3], 0, 1) == [("data count", 3, 2)]
    assert differences(b, 0, [5, -3, 2], 2, 0) == [("argmax", 0, 2), ("last", 1, 0)]
    assert differences(b, 0, [5, -3, 2], None, 1) == [("argmax", 0, None)]
    hidden = Beats(np.array([[1]]), None, np.array([0]), np.array([0]))
    assert differences(hidden, 0, [1], None, 0) == []
    assert describe("7", 4, "data[1]", -3, -2) == \
        "sequence 7, step 4, unit data[1]: expected -3, got -2"


def test_task_metric_per_layout():
    fmt = Fixed(16, 8)
    last = np.array([[1, 2], [3, 3], [0, -1]])
    assert metrics.task_metric("accuracy", last, [1, 0, 1], fmt) == 2 / 3
    # the hardware's argmax, when given, is what counts
    assert metrics.task_metric("accuracy", last, [1, 0, 1], fmt, argmax=[1, 0, 1]) == 1.0
    every = np.zeros((2, 3, 2), dtype=np.int64)
    every[0, 1, 1] = every[1, 2, 1] = 5  # class 1 at those steps, class 0 elsewhere
    # one label per sequence: its last valid step decides
    assert metrics.task_metric("accuracy", every, [1, 1], fmt, lengths=[2, 3]) == 1.0
    assert metrics.task_metric("accuracy", every, [1, 1], fmt, lengths=[3, 3]) == 0.5
    # per-step labels: -1 steps are skipped
    y = np.array([[0, 1, -1], [0, 0, 0]])
    assert metrics.task_metric("accuracy", every, y, fmt) == 4 / 5
    # uniform logits over 4 symbols: 2 bits each
    assert metrics.task_metric("bpc", np.zeros((2, 3, 4), dtype=np.int64),
                               np.array([[0, 1, 2], [3, -1, -1]]), fmt) == pytest.approx(2.0)
    with pytest.raises(UserError, match="metric 'f1' .* is not one of accuracy, bpc"):
        metrics.task_metric("f1", last, [1, 0, 1], fmt)
    with pytest.raises(ValueError, match="need lengths"):
        metrics.task_metric("accuracy", every, [1, 1], fmt)


def test_outputs_from_beats_lay_out_what_came():
    data = np.array([[1, 2], [3, 4], [5, 6]])
    logits, am = metrics.outputs_from_beats(3, 2, [0, 0, 1], data, [1, 1, 0], "every")
    assert logits.shape == (2, 3, 2)
    assert logits[0, :2].tolist() == [[1, 2], [3, 4]] and logits[0, 2].tolist() == [0, 0]
    assert logits[1, 0].tolist() == [5, 6] and am.tolist() == [[1, 1, -1], [0, -1, -1]]
    logits, am = metrics.outputs_from_beats(3, 3, [2, 0], data[:2], [1, 0], "last")
    assert logits.tolist() == [[3, 4], [0, 0], [1, 2]] and am.tolist() == [0, -1, 1]
