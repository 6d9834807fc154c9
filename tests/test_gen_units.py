"""Building blocks of the generator: activation units (exhaustively), constructor checks, plan."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.gen.activation import Activation
from hw.gen.cell import CellUnit
from hw.gen.plan import make_passes, serial_image
from hw.gen.top import ModelTop
from hw.numerics import Fixed, activation_table
from hw.random_model import DEFAULT_FORMATS, random_model
from hw.reference import accumulator_widths

# tops built only to read their properties are never elaborated, which amaranth warns about
pytestmark = pytest.mark.filterwarnings("ignore:.*created but never used")


@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
@pytest.mark.parametrize("kind", ["hard", "pwl"])
@pytest.mark.parametrize("fin,fout", [(Fixed(12, 7), Fixed(10, 8)), (Fixed(9, 4), Fixed(8, 6))])
def test_activation_every_input(func, kind, fin, fout):
    dut = Activation(func=func, kind=kind, fin=fin, fout=fout)
    want = activation_table(func, kind, fin, fout)
    got = []

    async def bench(ctx):
        for x in range(fin.min, fin.max + 1):
            ctx.set(dut.x, x)
            got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    bad = np.flatnonzero(np.array(got) != want)
    assert bad.size == 0, (f"x = {bad[0] + fin.min}: expected {want[bad[0]]}, "
                           f"got {got[bad[0]]}")


# a positional call fails before __init__ runs, so the half-made object warns when collected
@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_model_top_checks_parallel():
    model = random_model(cell="rnn", input_size=2, hidden_size=3, outputs=0)
    for bad in (0, -2, True, 2.0, "fast", None):
        with pytest.raises(ValueError) as e:
            ModelTop(model, parallel=bad)
        assert str(e.value) == f"parallel must be a positive integer or 'unrolled', not {bad!r}"
    with pytest.raises(TypeError):
        ModelTop(model, 2)  # keyword-only
    gc.collect()  # let the warning fire here, where it is filtered
    with pytest.raises(TypeError, match="model must be a hw.modelfile.Model, not dict"):
        ModelTop({}, parallel=1)


def test_model_top_checks_emit():
    model = random_model(cell="gru", input_size=2, hidden_size=3, outputs=2)
    model.meta["emit"] = "sometimes"
    with pytest.raises(ValueError, match="meta.emit is 'sometimes'"):
        ModelTop(model, parallel=1)


def test_block_checks():
    with pytest.raises(ValueError) as e:
        Activation(func="relu", kind="hard", fin=Fixed(12, 7), fout=Fixed(10, 8))
    assert str(e.value) == "activation function must be one of ('sigmoid', 'tanh'), not 'relu'"
    with pytest.raises(ValueError) as e:
        CellUnit(cell="mgu", kind="hard", formats=DEFAULT_FORMATS)
    assert str(e.value) == "cell must be one of ('rnn', 'gru', 'lstm'), not 'mgu'"


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("scheme", ["ternary", "exponential", "int8"])
def test_plan_widths_are_the_reference_widths(cell, scheme):
    model = random_model(cell=cell, scheme=scheme, input_size=3, hidden_size=4, num_layers=2)
    passes = make_passes(model)
    assert [p.acc_bits for p in passes] == [w.sum for w in accumulator_widths(model)]
    rows = {"rnn": 1, "gru": 3, "lstm": 4}[cell] * 4
    assert [len(p.rows) for p in passes] == [rows, rows, 3]


def test_serial_code_bits():
    # the memory holds 1 bit per binary weight, 2 per ternary, sign+magnitude for exponential
    for scheme, levels, bits in [("binary", 1, 1), ("ternary", 1, 2), ("pow2-ternary", 1, 2),
                                 ("exponential", 3, 3), ("exponential", 7, 4)]:
        model = random_model(cell="rnn", scheme=scheme, input_size=3, hidden_size=4,
                             outputs=0, levels=levels, seed=5)
        img = serial_image(make_passes(model), 2, False)
        assert img.enc.code_bits <= bits, (scheme, levels, img.enc)
    model = random_model(cell="rnn", scheme="int8", input_size=3, hidden_size=4, outputs=0)
    assert serial_image(make_passes(model), 2, True).enc.code_bits <= 8


def test_model_top_checks_cell_units():
    model = random_model(cell="gru", input_size=2, hidden_size=6, outputs=0)
    for bad in (0, 4, True, 2.5):
        with pytest.raises(ValueError) as e:
            ModelTop(model, parallel=2, cell_units=bad)
        assert str(e.value) == \
            f"cell units must be a positive divisor of the hidden size 6, not {bad!r}"
    top = ModelTop(model, parallel=2, cell_units=3)
    assert top.resources["elementwise_multipliers"] == 6
    del top
    gc.collect()  # the unelaborated top warns here, where it is filtered


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_model_top_checks_storage():
    model = random_model(cell="gru", input_size=2, hidden_size=6, outputs=3)
    with pytest.raises(ValueError) as e:
        ModelTop(model, parallel=2, storage="dram")
    assert str(e.value) == "storage must be one of registers, memory, not 'dram'"
    need = ("storage 'memory' needs the time-multiplexed engine (an integer parallel) and one "
            "cell unit")
    for kw in ({"parallel": "unrolled"}, {"parallel": 2, "cell_units": 2}):
        with pytest.raises(ValueError) as e:
            ModelTop(model, storage="memory", **kw)
        assert str(e.value) == need
    # one result a cycle: 7 lanes could not write a group within the head's 6 columns
    with pytest.raises(ValueError) as e:
        ModelTop(model, parallel=7, storage="memory")
    assert str(e.value) == ("storage 'memory' writes one result a cycle, so the lanes (7) must "
                            "be at most the smallest pass's columns (6)")
    top = ModelTop(model, parallel=6, storage="memory")
    assert top.resources["storage"] == "memory" and top.engine.finalizers == 1
    del top
    gc.collect()
