"""Reloadable designs in amaranth.sim (hw.gen.topplan's `reloadable`/`in_shape`, ModelTop's
load port): a design built for model A, loaded with B (another model of the same shape) and
with A again while steps are still in flight, computes every output beat of the model loaded,
bit for bit against hw.reference; a fixed design is untouched."""

import numpy as np
import pytest

from hw.beats import expected
from hw.gen.loadport import ShapeMismatch
from hw.gen.placement import Placement
from hw.gen.simulate import load_writes, simulate
from hw.gen.topplan import TopPlan, plan_for
from hw.random_model import random_inputs, random_model
from hw.reference import Reference

CASES = {
    # name: (random_model arguments, TopPlan.of arguments)
    "gru-ternary-last": (dict(cell="gru", scheme="ternary", outputs=3),
                         dict(parallel=3, simd=2)),
    "lstm-exponential-hidden": (dict(cell="lstm", scheme="exponential", emit="hidden"),
                                dict(parallel=4, simd=1, order="columns")),
    "rnn-int8-every-banks": (dict(cell="rnn", scheme="int8", outputs=3, emit="every",
                                  num_layers=2),
                             dict(parallel=2, simd=2, placement=Placement(2, 64))),
    "gru-onehot-int8-head": (dict(cell="gru", scheme="pow2-ternary", onehot=True,
                                  input_scheme="int8", head_scheme="int8", outputs=4,
                                  emit="every"),
                             dict(parallel=3, simd=2, head=(3, 1))),
    # memories in the iCE40UP5K's SPRAM (ram_style "huge"): one address for the read and
    # the write port, the load's while it writes (hw.gen.engine.WideEngine._read_port)
    "gru-ternary-last-spram": (dict(cell="gru", scheme="ternary", outputs=3),
                               dict(parallel=3, simd=2,
                                    placement=Placement(huge_blocks=4, huge=("codes",)))),
    "gru-onehot-int8-head-spram": (dict(cell="gru", scheme="pow2-ternary", onehot=True,
                                        input_scheme="int8", head_scheme="int8", outputs=4,
                                        emit="every"),
                                   dict(parallel=3, simd=2, head=(3, 1), placement=Placement(
                                       huge_blocks=4, huge=("codes", "lookup", "head_codes")))),
}


def model(case, seed, d=0):
    """Model `seed` of a case's structure, every scale moved by d from model 1's (the shape's
    margin allows a bit either way where a matrix has a scale a row)."""
    kw = CASES[case][0]
    m = random_model(input_size=3 if not kw.get("onehot") else 5, hidden_size=4, seed=seed,
                     **kw)
    ref = random_model(input_size=3 if not kw.get("onehot") else 5, hidden_size=4, seed=1, **kw)
    for (_, mm), (_, mr) in zip(m.matrices(), ref.matrices(), strict=True):
        mm.scale[:] = mr.scale + d
    return m


def beats(m, seqs) -> list[tuple]:
    return [(tuple(int(v) for v in b.data[k]), None if b.argmax is None else int(b.argmax[k]),
             int(b.last[k]))
            for b in expected(Reference(m), seqs, m.emits) for k in range(len(b.data))]


def got(trace) -> list[tuple]:
    return [(tuple(b.data), b.argmax, b.last) for b in trace.beats]


@pytest.mark.parametrize("case", sorted(CASES))
def test_loaded_models_compute_exactly(case):
    # B: other weights; where the matrices have row scales, every one a bit coarser
    a, b = model(case, 1), model(case, 5, d=0 if "ternary-last" in case else 1)
    tp = TopPlan.of(a, reloadable=True, **CASES[case][1])
    tb = TopPlan.in_shape(b, tp.shape)
    assert tb.shape == tp.shape
    top = tp.create()
    rng = np.random.default_rng(3)
    seqs = [random_inputs(rng, a, (int(t),)) for t in rng.integers(1, 4, 3)]
    n = sum(len(s) for s in seqs)
    # A (its initial contents), then B, then A again: each load begins as soon as the
    # previous phase's last beat is accepted, while its steps are still in flight (the
    # second one writes the row info and lookup table first, which the walk reads last)
    trace = simulate(top, seqs * 3, idle=0.2, stall=0.2, seed=1,
                     loads={n: load_writes(tb.load_image()),
                            2 * n: load_writes(tp.load_image())[::-1]})
    want = beats(a, seqs) + beats(b, seqs) + beats(a, seqs)
    assert got(trace) == want
    assert beats(a, seqs) != beats(b, seqs)  # the loads changed what runs
    huge = CASES[case][1].get("placement", Placement()).huge
    assert [n for n, _, _ in tp.huge_memories] == list(huge)
    assert top.preloaded == (not huge)  # SPRAM holds nothing at power-up


def test_a_reloadable_design_runs_at_the_fixed_designs_cycles():
    a = model("gru-ternary-last", 1)
    fixed, rel = (TopPlan.of(a, parallel=3, simd=2, reloadable=r) for r in (False, True))
    assert (rel.cycles_per_step, rel.latency) == (fixed.cycles_per_step, fixed.latency)
    assert not hasattr(fixed.create(), "load_memories") and fixed.shape is None
    assert "reload" not in fixed.manifest().as_dict()
    man = rel.manifest().as_dict()
    assert man["reload"]["fingerprint"] == f"{rel.shape.fingerprint:08x}"
    assert [m["name"] for m in man["reload"]["memories"]] == ["codes", "rowinfo"]
    other = TopPlan.of(a, parallel=6, simd=2, reloadable=True)
    assert other.shape.fingerprint != rel.shape.fingerprint  # the folding is in the shape


def test_what_does_not_fit_is_refused_in_one_line():
    a = model("gru-ternary-last", 1)
    tp = TopPlan.of(a, parallel=3, simd=2, reloadable=True)
    bigger = random_model(cell="gru", scheme="ternary", outputs=3, input_size=3,
                          hidden_size=5, seed=2)
    with pytest.raises(ShapeMismatch, match=r"^the model's hidden_size is 5, the shape's 4$"):
        TopPlan.in_shape(bigger, tp.shape)
    with pytest.raises(ShapeMismatch, match=r"^layer0 row 0 needs its first half shifted by "
                                            r"\d+ bits; the shape's finalizers shift it by"):
        TopPlan.in_shape(model("gru-ternary-last", 2, d=1), tp.shape)
    with pytest.raises(ValueError, match=r"storage must be memory, not 'registers'"):
        TopPlan.of(a, parallel=3, storage="registers", reloadable=True)
    with pytest.raises(ValueError, match=r"--reloadable is for the time-multiplexed engine"):
        plan_for(a, parallel="unrolled", reloadable=True)


def test_a_load_in_the_middle_of_a_sequence_waits_for_the_step_in_flight():
    """Emit last: the step FSM is idle again as soon as a step's passes are issued, while the
    engine still walks them; a load after step 3 of 6 must wait for the engine too. Steps 0-2
    run A, steps 3-5 B, from the state A left (hw.reference step by step)."""
    case = "gru-ternary-last"
    a, b = model(case, 1), model(case, 5)
    tp = TopPlan.of(a, reloadable=True, **CASES[case][1])
    tb = TopPlan.in_shape(b, tp.shape)
    xs = random_inputs(np.random.default_rng(4), a, (6,))
    state = Reference(a).initial_state()
    for t, x in enumerate(xs):
        state, h = Reference(a if t < 3 else b).step(state, x)
    logits = Reference(b).head(h)
    # as soon as step 2 was accepted: first the row info of layer 0's last unit (memory 1,
    # a unit's rows a word), which the walk reads last, then the rest
    writes = load_writes(tb.load_image())
    last = [w for w in writes if w[:2] == (1, a.hidden_size - 1)]
    trace = simulate(tp.create(), [xs], loads={3: last + writes})
    assert got(trace) == [(tuple(int(v) for v in logits), int(np.argmax(logits)), 1)]
