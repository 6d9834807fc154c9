"""Building blocks of the generator: activations (exhaustively), constructor checks, plans."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal, signed
from amaranth.sim import Simulator

from hw.cell import CellParams
from hw.gen.activation import activation, segment_table
from hw.gen.arith import saturate_value, shift_round_value
from hw.gen.lanes import make_lane_plan
from hw.gen.pipe import Pipe, Staged
from hw.gen.plan import make_passes
from hw.gen.topplan import TopPlan, plan_for
from hw.gen.unrolled_top import UnrolledPlan
from hw.numerics import Fixed, activation_table, saturate, shift_round
from hw.random_model import random_model
from hw.reference import accumulator_widths


@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
@pytest.mark.parametrize("kind", ["hard", "pwl"])
@pytest.mark.parametrize("fin,fout", [(Fixed(12, 7), Fixed(10, 8)), (Fixed(9, 4), Fixed(8, 6))])
def test_activation_every_input(func, kind, fin, fout):
    m = Module()
    x = Signal(signed(fin.bits))
    y = activation(Pipe(m, "act", registered=False), func, kind, Staged(x, 0), fin, fout)
    want = activation_table(func, kind, fin, fout)
    got = []

    async def bench(ctx):
        for v in range(fin.min, fin.max + 1):
            ctx.set(x, v)
            got.append(ctx.get(y.sig))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    bad = np.flatnonzero(np.array(got) != want)
    assert bad.size == 0, (f"x = {bad[0] + fin.min}: expected {want[bad[0]]}, "
                           f"got {got[bad[0]]}")


@pytest.mark.parametrize("s", [-2, 0, 1, 3])
@pytest.mark.parametrize("bits", [4, 6])
def test_arith_expressions_are_the_numerics_rules(s, bits):
    """hw/gen/arith's circuit forms of shift_round and saturate against hw.numerics on every
    8-bit signed input (the rule is written once in hw.numerics; this ties the circuit to it)."""
    m = Module()
    x = Signal(signed(8))
    shifted, clamped = Signal(signed(12)), Signal(signed(bits))
    m.d.comb += [shifted.eq(shift_round_value(x, s)), clamped.eq(saturate_value(x, bits))]
    xs = np.arange(-128, 128)
    got = []

    async def bench(ctx):
        for v in xs:
            ctx.set(x, int(v))
            got.append((ctx.get(shifted), ctx.get(clamped)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    got = np.array(got)
    assert np.array_equal(got[:, 0], shift_round(xs, s))
    assert np.array_equal(got[:, 1], saturate(xs, bits))


def test_plan_checks_parallel():
    model = random_model(cell="rnn", input_size=2, hidden_size=3, outputs=0)
    for bad in (0, -2, True, 2.0, "fast", None):
        with pytest.raises(ValueError) as e:
            plan_for(model, parallel=bad)
        assert str(e.value) == f"parallel must be a positive integer or 'unrolled', not {bad!r}"
    with pytest.raises(TypeError):
        plan_for(model, 2)  # keyword-only
    with pytest.raises(TypeError, match="model must be a hw.modelfile.Model, not dict"):
        plan_for({}, parallel=1)


def test_plan_checks_emit():
    model = random_model(cell="gru", input_size=2, hidden_size=3, outputs=2)
    model.emit = "sometimes"
    with pytest.raises(ValueError, match="meta.emit is 'sometimes'"):
        plan_for(model, parallel=3)
    with pytest.raises(ValueError, match="meta.emit is 'sometimes'"):
        plan_for(model, parallel="unrolled")


def test_block_checks():
    with pytest.raises(ValueError) as e:
        segment_table("relu", "hard", Fixed(12, 7), Fixed(10, 8))
    assert str(e.value) == "activation function must be one of ('sigmoid', 'tanh'), not 'relu'"
    with pytest.raises(ValueError) as e:
        CellParams("mgu", "hard", Fixed(8, 6), Fixed(12, 7), Fixed(14, 8))
    assert str(e.value) == "cell must be one of ('rnn', 'gru', 'lstm'), not 'mgu'"


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("scheme", ["ternary", "exponential", "int8"])
def test_plan_widths_are_the_reference_widths(cell, scheme):
    model = random_model(cell=cell, scheme=scheme, input_size=3, hidden_size=4, num_layers=2)
    passes = make_passes(model)
    assert [p.acc_bits for p in passes] == [w.sum for w in accumulator_widths(model)]
    rows = {"rnn": 1, "gru": 3, "lstm": 4}[cell] * 4
    assert [len(p.rows) for p in passes] == [rows, rows, 3]


def test_lane_code_bits():
    # exactly 1 bit per binary weight, 2 per ternary, sign + magnitude for exponential (a row
    # spanning all `levels` magnitudes), the widest code's two's complement bits for int8
    for scheme, levels, bits in [("binary", 1, 1), ("ternary", 1, 2), ("pow2-ternary", 1, 2),
                                 ("exponential", 3, 3), ("exponential", 7, 4)]:
        model = random_model(cell="rnn", scheme=scheme, input_size=3, hidden_size=4,
                             outputs=0, levels=levels, seed=5)
        if scheme == "exponential":
            model.layers[0].w_hh.codes[0, :2] = [1, -levels]
        plan = make_lane_plan(make_passes(model), lanes=2, simd=1, finalizers=1,
                              multiply=False)
        assert plan.code_bits == bits, (scheme, levels, plan.code_bits)
    model = random_model(cell="rnn", scheme="int8", input_size=3, hidden_size=4, outputs=0)
    model.layers[0].w_hh.codes[0, 0] = -127
    model.layers[0].w_hh.scale[0] = 0
    plan = make_lane_plan(make_passes(model), lanes=2, simd=1, finalizers=1, multiply=True)
    assert plan.code_bits == 8


def test_plan_checks_lanes_simd_and_cell_units():
    model = random_model(cell="gru", input_size=2, hidden_size=6, outputs=0)
    with pytest.raises(ValueError) as e:
        plan_for(model, parallel=4)
    assert str(e.value) == "parallel (lanes) must be a multiple of the 3 gate rows of a gru " \
                           "unit, not 4"
    for bad in (0, 3, True, 2.0):
        with pytest.raises(ValueError) as e:
            plan_for(model, parallel=3, simd=bad)
        assert str(e.value) == f"simd must be a power of two, not {bad!r}"
    with pytest.raises(ValueError) as e:
        plan_for(model, parallel=3, cell_units=2)
    assert str(e.value) == ("the time-multiplexed engine updates one unit a cycle; cell units "
                            "must be 1, not 2")
    for bad in (0, 4, True, 2.5):
        with pytest.raises(ValueError) as e:
            plan_for(model, parallel="unrolled", cell_units=bad)
        assert str(e.value) == \
            f"cell units must be a positive divisor of the hidden size 6, not {bad!r}"
    top = plan_for(model, parallel="unrolled", cell_units=3).create()
    assert top.resources["elementwise_multipliers"] == 6
    Fragment.get(top, None)  # and it builds


def test_plan_checks_storage():
    model = random_model(cell="gru", input_size=2, hidden_size=6, outputs=3)
    with pytest.raises(ValueError) as e:
        plan_for(model, parallel=3, storage="dram")
    assert str(e.value) == "storage must be one of memory, registers, not 'dram'"
    with pytest.raises(ValueError) as e:
        plan_for(model, parallel="unrolled", storage="memory")
    assert str(e.value) == ("the unrolled engine keeps its state in registers; storage "
                            "'memory' needs an integer parallel")
    top = plan_for(model, parallel=6, simd=4).create()
    assert top.resources["storage"] == "memory" and top.plan.lanes.finalizers == 3
    assert (top.resources["lanes"], top.resources["simd"]) == (6, 4)
    Fragment.get(top, None)  # and it builds


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("cell_units", [None, 1])
def test_unrolled_resources_are_counted_without_building(cell, cell_units):
    """UnrolledPlan.resources (what benches read, nothing built) is what the built top and
    its engine say."""
    model = random_model(cell=cell, input_size=3, hidden_size=5, num_layers=2, outputs=3,
                         seed=1)
    plan = UnrolledPlan.of(model, storage="registers", cell_units=cell_units)
    top = plan.create()
    Fragment.get(top, None)
    assert top.resources == plan.resources
    assert {k: top.resources[k] for k in top.engine.resources} == top.engine.resources
    assert top.resources["adders"] > 0 and top.resources["lanes"] == 2 * 5 * len(
        {"rnn": "h", "gru": "rzn", "lstm": "ifgo"}[cell]) + 3


def test_the_plan_is_built_once(monkeypatch):
    """create() builds the circuit from the plan object itself, and neither the top, its
    elaboration nor the manifest decides anything again (no plan or pass list is made)."""
    import hw.gen.topplan
    import hw.gen.unrolled_top

    model = random_model(cell="gru", input_size=2, hidden_size=3, outputs=2, seed=1)
    plans = [TopPlan.of(model, parallel=3, simd=2), UnrolledPlan.of(model)]

    def again(*args, **kw):
        raise AssertionError("a plan was made again")

    for target in (TopPlan, UnrolledPlan):
        monkeypatch.setattr(target, "of", again)
        monkeypatch.setattr(target, "auto", again, raising=False)
    for module in (hw.gen.topplan, hw.gen.unrolled_top):
        monkeypatch.setattr(module, "make_passes", again)
    for plan in plans:
        top = plan.create()
        assert top.plan is plan
        Fragment.get(top, None)
        man = plan.manifest()
        assert (man.cycles_per_step, man.latency, man.resources) == (
            top.cycles_per_step, top.latency, top.resources)


def test_a_search_plan_is_not_built():
    model = random_model(cell="gru", input_size=2, hidden_size=3, outputs=2, seed=1)
    with pytest.raises(ValueError, match="without its code words"):
        TopPlan.of(model, parallel=3, image=False).create()
