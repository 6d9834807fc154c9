"""The generated circuit against the reference model, bit for bit (amaranth.sim).

Every cell x scheme x engine style x activation kind, on tiny random models, random sequences
with format-extreme inputs, random idle input cycles and random output backpressure. A second
run without idling or stalls measures cycles per step and latency against the properties.
A style (k, S) is the wide-lane engine with k units' rows a group (P = k x the cell's gate
rows) and S columns a lane a cycle, walking each pass group by group; (k, S, "columns") walks
it chunk by chunk (hw.gen.lanes.LanePlan.order).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import replace

import numpy as np
import pytest

from hw.beats import describe, differences, expected
from hw.gen.simulate import simulate
from hw.gen.top import ModelTop
from hw.gen.topplan import TopPlan
from hw.gen.unrolled_top import UnrolledPlan
from hw.numerics import Fixed
from hw.random_model import extreme_inputs, random_inputs, random_model
from hw.reference import Reference, default_emit

CELLS = ("rnn", "gru", "lstm")
SCHEMES = ("binary", "ternary", "pow2-ternary", "exponential", "int8")
STYLES = ((1, 1), (2, 4), (5, 2), (1, 2, "columns"), (2, 4, "columns"), "unrolled")
GATE_ROWS = {"rnn": 1, "gru": 3, "lstm": 4}
KINDS = ("hard", "pwl")


def _seed(*key) -> int:
    return zlib.crc32(repr(key).encode())


def check_against_reference(top: ModelTop, sequences, trace) -> None:
    """Compare beats (hw.beats) and say where: sequence, step, unit, expected, got."""
    exps = expected(Reference(top.model), sequences, top.emit)
    want = [(s, k) for s, e in enumerate(exps) for k in range(len(e.data))]
    assert len(trace.beats) == len(want), \
        f"{len(trace.beats)} output beats, expected {len(want)}"
    for (s, k), beat in zip(want, trace.beats, strict=True):
        diffs = differences(exps[s], k, beat.data, beat.argmax, beat.last)
        assert not diffs, describe(s, int(exps[s].steps[k]), *diffs[0])
        if exps[s].argmax is None:
            assert beat.argmax is None, f"sequence {s}: an argmax {beat.argmax} without a head"


def check_timing(top: ModelTop, sequences, trace) -> None:
    """With the input always valid and the output always ready."""
    starts = np.cumsum([0] + [len(s) for s in sequences])
    for s in range(len(sequences)):
        acc = trace.accepted[starts[s]:starts[s + 1]]
        gaps = set(np.diff(acc).tolist())
        assert gaps <= {top.cycles_per_step}, \
            f"sequence {s}: cycles between beats {sorted(gaps)}, property {top.cycles_per_step}"
    if top.emit == "last":
        sources = [trace.accepted[e - 1] for e in starts[1:]]
    else:
        sources = trace.accepted
    lat = {v - a for v, a in zip(trace.valid_at, sources, strict=True)}
    assert lat == {top.latency}, f"latency {sorted(lat)}, property {top.latency}"


def build(cell, scheme, kind, seed, *, layers=None, head=None, emit=None):
    rng = np.random.default_rng(seed)
    hidden, inputs = int(rng.integers(3, 6)), int(rng.integers(2, 4))
    layers = layers if layers is not None else int(rng.integers(1, 3))
    outputs = (int(rng.integers(1, 4)) if rng.random() < 0.7 else 0) if head is None else head
    model = random_model(cell=cell, scheme=scheme, input_size=inputs, hidden_size=hidden,
                         num_layers=layers, outputs=outputs, activation=kind, seed=seed,
                         levels=int(rng.integers(1, 5)))
    if model.head is not None:
        model.emit = emit or ("every" if rng.random() < 0.4 else "last")
    return model, rng


def make_top(model, style, storage="memory", placement=None):
    """(k, S), (k, S, order), k, or "unrolled" -> the top (k units' rows a group, S columns
    a cycle, the walk order)."""
    if style == "unrolled":
        return UnrolledPlan.of(model).create()
    k, S, *order = style if isinstance(style, tuple) else (style, 1)
    return TopPlan.of(model, parallel=k * GATE_ROWS[model.cell], simd=S, storage=storage,
                      placement=placement, order=order[0] if order else "rows").create()


def run_both(model, rng, style, seed, storage="memory", placement=None):
    top = make_top(model, style, storage, placement)
    seqs = [random_inputs(rng, model, (int(rng.integers(3, 7)),)) for _ in range(3)]
    seqs += list(extreme_inputs(model, 3)[: 1 + seed % 3])
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.3, stall=0.3, seed=seed))
    timed = seqs[:2]
    trace = simulate(top, timed, seed=seed)
    check_against_reference(top, timed, trace)
    check_timing(top, timed, trace)
    return seqs


@pytest.mark.parametrize("cell,scheme,parallel,kind",
                         list(itertools.product(CELLS, SCHEMES, STYLES, KINDS)))
def test_matrix(cell, scheme, parallel, kind):
    seed = _seed(cell, scheme, parallel, kind) % 10_000
    model, rng = build(cell, scheme, kind, seed)
    run_both(model, rng, parallel, seed)


@pytest.mark.parametrize("cell,scheme,style",
                         list(itertools.product(CELLS, SCHEMES,
                                                ((1, 2), (3, 1), (2, 2, "columns")))))
def test_register_storage(cell, scheme, style):
    """The same memories as flip-flops ("registers"): the same bits and cycles."""
    seed = _seed("registers", cell, scheme, style) % 10_000
    model, rng = build(cell, scheme, KINDS[seed % 2], seed)
    run_both(model, rng, style, seed, storage="registers")


@pytest.mark.parametrize("cell,scheme,style,depth",
                         [("gru", "ternary", (1, 2), 2), ("lstm", "exponential", (2, 1), 4),
                          ("rnn", "int8", (1, 1), 2), ("gru", "pow2-ternary", (2, 4), 2),
                          ("lstm", "ternary", (1, 2, "columns"), 2),
                          ("gru", "exponential", (2, 2, "columns"), 4)])
def test_code_banks_and_distributed_memories(cell, scheme, style, depth):
    """The ECP5 placement (hw.gen.topplan.Placement): the code words in banks of `depth`
    words, each registered before the bank select, and the small memories in distributed
    RAM: the same bits, and the cycles the plan publishes with the two extra stages."""
    from hw.gen.placement import Placement
    seed = _seed("banks", cell, scheme, style) % 10_000
    model, rng = build(cell, scheme, KINDS[seed % 2], seed)
    placement = Placement(bank_depth=depth, lutram_bits=64)
    k, S, *order = style
    tp = TopPlan.of(model, parallel=k * GATE_ROWS[cell], simd=S, placement=placement,
                    order=order[0] if order else "rows")
    assert tp.lanes.code_banks > 1, "the test model must need several banks"
    styles = {tp.ram_style(w, d, rom=n.startswith(("codes", "rowinfo")))
              for n, w, d in tp.memories()}
    assert "block" in styles and styles - {"block"}, styles  # amaranth.sim ignores them;
    # test_board_build's ULX3S build maps them
    run_both(model, rng, style, seed, placement=placement)


@pytest.mark.parametrize("cell,scheme,style", [("gru", "ternary", (1, 1)),
                                               ("lstm", "exponential", (1, 2, "columns"))])
def test_deeper_code_banks(cell, scheme, style, monkeypatch):
    """A code memory whose banks hold more than DEEPEN_OVER_BITS register bits (here 64)
    gets banks up to `bank_deepen` times deeper where they take no more blocks
    (Placement.bank_depth_for; the ECP5's 2048 x 9 for 512 x 36): the same bits and cycles
    with fewer, deeper banks."""
    from hw.gen import placement as placement_mod
    from hw.gen.placement import Placement
    monkeypatch.setattr(placement_mod, "DEEPEN_OVER_BITS", 64)
    seed = _seed("deep banks", cell, scheme, style) % 10_000
    rng = np.random.default_rng(seed)
    model = random_model(cell=cell, scheme=scheme, input_size=3, hidden_size=10, outputs=2,
                         seed=seed, levels=3)
    k, S, *order = style
    base = Placement(bank_depth=2, lutram_bits=64)
    deep = replace(base, bank_width=8, bank_deepen=4)
    plans = [TopPlan.of(model, parallel=k * GATE_ROWS[cell], simd=S, placement=pl,
                        order=order[0] if order else "rows") for pl in (base, deep)]
    base_bits = plans[0].lanes.code_banks * plans[0].lanes.code_word_bits
    assert base_bits > 64 and plans[0].lanes.bank_depth == 2
    assert plans[1].lanes.bank_depth == 8 and 1 < plans[1].lanes.code_banks
    assert plans[1].cycles_per_step == plans[0].cycles_per_step
    run_both(model, rng, style, seed, placement=deep)


@pytest.mark.parametrize("cell,schemes,style", [
    ("gru", ("int8", "ternary", "int8"), (2, 4)),
    ("lstm", ("exponential", "ternary", "exponential"), (1, 1)),
    ("rnn", ("int8", "pow2-ternary", "exponential"), "unrolled"),
    ("gru", ("int4", "binary", "int8"), (5, 2)),
])
def test_the_input_matrix_and_the_head_in_other_schemes(cell, schemes, style):
    """train's --input-quant / --head-quant models: the first layer's input matrix and the
    head in their own schemes, the other matrices in the main one."""
    seed = _seed("mixed", cell, schemes, style) % 10_000
    rng = np.random.default_rng(seed)
    model = random_model(cell=cell, scheme=schemes[1], input_size=3, hidden_size=4,
                         num_layers=2, outputs=3, seed=seed, levels=3, input_scheme=schemes[0],
                         head_scheme=schemes[2], emit="every")
    assert [m.scheme for _, m in model.matrices()] == \
        [schemes[0], schemes[1], schemes[1], schemes[1], schemes[2]]
    run_both(model, rng, style, seed)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("emit", ["hidden", "last", "every"])
def test_three_layers_and_each_emit(cell, emit):
    seed = _seed("stack", cell, emit) % 10_000
    model, rng = build(cell, "pow2-ternary", "pwl", seed, layers=3,
                       head=0 if emit == "hidden" else 2, emit=emit)
    assert default_emit(model) == emit
    run_both(model, rng, (3, 1), seed)
    run_both(model, rng, "unrolled", seed)
    run_both(model, rng, (2, 8), seed, storage="registers")
    run_both(model, rng, (1, 2, "columns"), seed)


def saturated(model, sequences) -> dict[str, int]:
    """How many pre-activations, LSTM cell states and logits the reference model clamps to
    their format's bounds on these sequences (its unit update is observed, not restated)."""
    ref = Reference(model)
    params, seen = ref.cell, {"preact": [], "cell": []}

    class Observed:
        def compute(self, pre, h, c=None):
            seen["preact"] += [np.ravel(p) for p in pre]
            h2, c2 = params.compute(pre, h, c)
            seen["cell"] += [] if c2 is None else [np.ravel(c2)]
            return h2, c2

    ref.cell = Observed()
    seen["output"] = [ref.head(ref.run(xs)).ravel() for xs in sequences]
    return {name: int(np.isin(np.concatenate(v), [model.formats[name].min,
                                                  model.formats[name].max]).sum())
            for name, v in seen.items()}


@pytest.mark.parametrize("parallel,storage", [((1, 4), "registers"), ((1000, 64), "memory"),
                                              ("unrolled", "registers"), ((2, 1), "memory")])
def test_saturating_model(parallel, storage):
    # large weights and biases, a narrow cell format and a heavy head drive pre-activations,
    # the cell state and the logits into saturation: the clamps, not only the common path,
    # must match (and the test checks that they were reached)
    model, rng = build("lstm", "binary", "hard", 7, layers=2, head=3)
    for _, mat in model.matrices():
        mat.scale[:] = 1
    model.head.weight.scale[:] = 8
    model.formats = replace(model.formats, cell=Fixed(10, 8))  # +-2: reached in two steps
    for ly in model.layers:
        ly.b_ih[:] = np.where(ly.b_ih >= 0, model.formats.preact.max, model.formats.preact.min)
    seqs = run_both(model, rng, parallel, 7, storage)
    hits = saturated(model, seqs)
    assert all(hits.values()), f"values clamped to their format's bounds: {hits}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("units", ["all", 2, 1])
def test_cell_units_of_the_unrolled_engine(cell, units):
    seed = _seed("units", cell, units) % 10_000
    model, rng = build(cell, "exponential", "pwl", seed, layers=2, head=2)
    H = model.hidden_size
    u = H if units == "all" else (units if H % units == 0 else 1)
    top = UnrolledPlan.of(model, cell_units=u).create()
    assert top.resources["cell_units"] == u
    seqs = [random_inputs(rng, model, (4,)) for _ in range(2)]
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.2, stall=0.4, seed=seed))
    trace = simulate(top, seqs, seed=seed)
    check_against_reference(top, seqs, trace)
    check_timing(top, seqs, trace)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("parallel,storage,emit", [
    ((2, 2), "registers", "every"), ("unrolled", "registers", "every"),
    ((1, 1), "memory", "every"), ((1, 2, "columns"), "memory", "last")])
def test_reset_at_any_time(cell, parallel, storage, emit):
    """rst in the middle of a sequence, of a step, or with an output beat waiting: afterwards
    the circuit behaves as new (the sequences after the reset match the reference; memories
    keep their words through a reset, so this also checks that nothing stale is read). With
    emit "last" the steps of a sequence overlap, so the reset also lands between passes of
    two steps."""
    seed = _seed("reset", cell, parallel, storage) % 10_000
    model, rng = build(cell, "ternary", "hard", seed, layers=2, head=2, emit=emit)
    top = make_top(model, parallel, storage)
    before = [random_inputs(rng, model, (5,)) for _ in range(2)]
    after = [random_inputs(rng, model, (3,)) for _ in range(2)]
    span = 2 * 5 * top.cycles_per_step
    for n, cut in enumerate(sorted(rng.integers(1, span, size=4).tolist())):
        top = top if n == 0 else make_top(model, parallel, storage)
        trace = simulate(top, after, before=before, reset_cycle=cut, idle=0.2, stall=0.5,
                         seed=seed + n)
        check_against_reference(top, after, trace)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("storage", ["registers", "memory"])
def test_reset_zeroes_the_state_without_a_first_beat(cell, storage):
    """After rst the state is zero even if the next sequence does not set `first` (memories
    keep their words through a reset: their `fresh` flags must start set)."""
    seed = _seed("reset-first", cell, storage) % 10_000
    model, rng = build(cell, "ternary", "hard", seed, layers=2, head=2, emit="every")
    before = [random_inputs(rng, model, (4,))]
    after = [random_inputs(rng, model, (3,))]
    top = make_top(model, (2, 2), storage)
    cut = 4 * top.cycles_per_step + 2  # after the first sequence, between beats
    trace = simulate(top, after, before=before, reset_cycle=cut, seed=seed, mark_first=False)
    check_against_reference(top, after, trace)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("emit", ["every", "last"])
def test_walks_longer_than_a_group_and_padding_rows(cell, emit):
    """Two units' rows a group and 8 columns a cycle: a group's columns take fewer cycles
    than its walk (P / F rows), so groups are issued every `period` = walk cycles; the last
    groups of the layers and the head end in padding lanes."""
    seed = _seed("walk", cell, emit) % 10_000
    rng = np.random.default_rng(seed)
    model = random_model(cell=cell, scheme="ternary", input_size=2, hidden_size=3, num_layers=2,
                         outputs=5, activation="pwl", seed=seed, levels=2)
    model.emit = emit
    G = GATE_ROWS[cell]
    top = TopPlan.of(model, parallel=2 * G, simd=8).create()
    lanes = top.plan.lanes
    assert lanes.walk == 2 and lanes.finalizers == G
    assert [lay.period for lay in lanes.layouts] == [max(lay.chunks, 2) for lay in lanes.layouts]
    assert lanes.layouts[0].chunks == 2  # x and h each in one chunk of 8
    seqs = [random_inputs(rng, model, (4,)) for _ in range(3)]
    check_against_reference(top, seqs, simulate(top, seqs, idle=0.3, stall=0.3, seed=seed))
    trace = simulate(top, seqs, seed=seed)
    check_against_reference(top, seqs, trace)
    check_timing(top, seqs, trace)
